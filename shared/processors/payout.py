"""`payout`: pay one seller's unpaid balance through a Stripe Connect transfer.

The money logic (balance, fee, threshold, reserving and marking entries paid) lives
in SQL (`payout_prepare`, `payout_settle`, `payout_fail`); this module only moves
between those and Stripe. Exactly once: the payout's id is Stripe's Idempotency-Key,
and a retried job resumes the same open payout, so a worker that dies between
Stripe's answer and `payout_settle` gets the same transfer back on the next attempt.
Stripe forgets keys after 24 hours, so a payout resumed later than that (a dead letter
replayed days after a crash) first looks for its transfer by transfer group.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.circuit_breaker import guarded
from shared.config import Settings
from shared.errors import InvalidInput, NotFound
from shared.models import NewJob
from shared.processors.base import JobContext, PermanentError
from shared.providers import stripe

JOB_TYPE = "payout"
STRIPE_KEY_WINDOW = timedelta(hours=23)
log = logging.getLogger(__name__)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seller_id: UUID = Field(description="The seller_accounts row to pay")
    currency: str | None = Field(None, pattern="^[a-z]{3}$", description="Default PAYOUT_CURRENCY")
    week: str | None = Field(None, pattern=r"^\d{4}-W\d{2}$", description="Set by weekly_payouts")


def missing_settings(settings: Settings) -> list[str]:
    return [] if settings.stripe_secret_key else ["STRIPE_SECRET_KEY"]


def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    payout = _prepare(payload, ctx)
    if payout["status"] == "skipped":
        return _result(payout)
    if payout["status"] == "failed":
        raise PermanentError(f"payout {payout['payout_id']} failed: {payout['reason']}")
    if payout["status"] == "pending":
        payout = _pay(payout, ctx)
    _enqueue_confirmation(payout, ctx)
    return _result(payout)


def _prepare(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    """payout_prepare: the payout this job made, the seller's open one, or a new one."""
    args = {"p_seller_id": str(payload.seller_id),
            "p_currency": payload.currency or ctx.settings.payout_currency,
            "p_fee_bps": ctx.settings.payout_fee_bps, "p_min_cents": ctx.settings.payout_min_cents,
            "p_job_id": str(ctx.job_id)}
    try:
        payout: dict[str, Any] = ctx.backend.rpc("payout_prepare", args)
    except (NotFound, InvalidInput) as exc:
        raise PermanentError(exc.message) from exc
    return payout


def _pay(payout: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Transfer with the payout id as idempotency key, then settle it in one transaction."""
    group = f"payout_{payout['payout_id']}"

    def transfer_once() -> dict[str, Any]:
        found = stripe.find_transfer(ctx.http, ctx.settings, group) if _outlived_key(payout) else None
        return found or stripe.create_transfer(
            ctx.http, ctx.settings, amount_cents=payout["amount_cents"], currency=payout["currency"],
            destination=payout["destination"], transfer_group=group, idempotency_key=str(payout["payout_id"]))

    try:
        transfer = guarded(ctx, stripe.PROVIDER, transfer_once)
    except PermanentError as exc:
        # Refused for good: release the entries so a later payout can pay them.
        ctx.backend.rpc("payout_fail", {"p_payout_id": payout["payout_id"], "p_reason": str(exc)})
        raise
    settled: dict[str, Any] = ctx.backend.rpc(
        "payout_settle", {"p_payout_id": payout["payout_id"], "p_transfer_id": transfer["id"]})
    log.info("payout %s paid: %s %s as %s", payout["payout_id"], payout["amount_cents"],
             payout["currency"], transfer["id"])
    return settled


def _outlived_key(payout: dict[str, Any]) -> bool:
    """A resumed payout older than Stripe's 24-hour idempotency window (with an hour's
    margin): an attempt that died may have made its transfer, and resending the key
    would no longer get that transfer back, so look for it by transfer group first."""
    if not payout.get("resumed"):
        return False
    created = datetime.fromisoformat(str(payout["created_at"]))
    return datetime.now(UTC) - created > STRIPE_KEY_WINDOW


def _enqueue_confirmation(payout: dict[str, Any], ctx: JobContext) -> None:
    """One payout_confirmation email per payout (keyed by payout id, so retries add none)."""
    if not payout.get("email"):
        return
    data = {key: payout[key] for key in ("payout_id", "amount_cents", "fee_cents", "gross_cents",
                                         "currency", "transfer_id")}
    body = {"to": [payout["email"]], "template": "payout_confirmation", "template_data": data}
    email = NewJob(type="email", idempotency_key=f"payout_confirmation:{payout['payout_id']}",
                   owner_id=ctx.owner_id, payload=body)
    ctx.backend.jobs_enqueue([email])


def _result(payout: dict[str, Any]) -> dict[str, Any]:
    keys = ("payout_id", "status", "reason", "currency", "gross_cents", "fee_cents", "amount_cents",
            "transfer_id")
    return {key: payout.get(key) for key in keys}
