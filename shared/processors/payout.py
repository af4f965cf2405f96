"""`payout`: pay one seller's unpaid balance through a Stripe Connect transfer.

The money logic (balance, fee, threshold, reserving and marking entries paid) lives
in SQL (`payout_prepare`, `payout_mark_sent`, `payout_settle`, `payout_hold`,
`payout_fail`); this module only moves between those and Stripe.

Exactly once: the payout's id is Stripe's Idempotency-Key, its destination, amount and
currency are fixed when it is prepared, and a retried job resumes the same open payout,
so every attempt sends the very same request. Before the first request leaves, the
payout is marked sent; from then on it may exist at Stripe whatever this worker sees.
A resumed sent payout first asks Stripe by transfer group (keys are forgotten after 24
hours) and settles what it finds. Its entries are released only when Stripe refused the
request for good and lists no transfer for the group; when Stripe cannot be asked (no
key here, Stripe down, an idempotency error) the payout is held, entries reserved, with
the reason in health, and the job retries.
"""

from __future__ import annotations

import logging
from typing import Any, NoReturn
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from shared.config import Settings
from shared.processors.base import (
    JobContext,
    PermanentError,
    ProcessorError,
    RateLimitedError,
    RetryableError,
)
from shared.processors.circuit_breaker import guarded
from shared.providers import stripe
from shared.queue.errors import InvalidInput, NotFound
from shared.queue.models import NewJob

JOB_TYPE = "payout"
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
    """Reconcile an attempt that may have been sent, else send; settle what Stripe made."""
    if payout.get("sent_at"):
        found = _look_up(payout, ctx, "an earlier attempt may have made the transfer")
        if found is not None:
            return _settle(payout, found, ctx)
    if ctx.settings.stripe_secret_key is None:
        # Nothing was ever sent (or it was looked up above): releasing is safe.
        _fail(payout, ctx, "STRIPE_SECRET_KEY is not set", absent_at_stripe=False)
    ctx.backend.rpc("payout_mark_sent", {"p_payout_id": payout["payout_id"]})
    try:
        transfer = guarded(ctx, stripe.PROVIDER, lambda: _create(payout, ctx))
    except stripe.IdempotencyKeyReused as exc:
        found = _look_up(payout, ctx, str(exc))
        if found is None:
            _hold(payout, ctx, f"{exc}; Stripe lists no transfer for it: an operator must decide")
        transfer = found
    except PermanentError as exc:
        # Stripe refused this key's request for good; release only if it made nothing.
        found = _look_up(payout, ctx, str(exc))
        if found is None:
            _fail(payout, ctx, str(exc), absent_at_stripe=True)
        transfer = found
    except RetryableError as exc:
        # No answer, or a 5xx: the transfer may exist. The next attempt looks it up.
        _record_hold(payout, ctx, f"Stripe's answer is unknown ({exc}); retrying")
        raise
    return _settle(payout, transfer, ctx)


def _create(payout: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """POST the transfer with the parameters fixed when the payout was prepared."""
    return stripe.create_transfer(
        ctx.http, ctx.settings, amount_cents=payout["amount_cents"], currency=payout["currency"],
        destination=payout["destination"], transfer_group=_group(payout),
        idempotency_key=str(payout["payout_id"]))


def _look_up(payout: dict[str, Any], ctx: JobContext, why: str) -> dict[str, Any] | None:
    """Stripe's transfer for this payout's group, or None if Stripe shows none. When
    Stripe cannot be asked now, hold the payout (entries stay reserved) and retry."""
    group = _group(payout)
    try:
        found = guarded(ctx, stripe.PROVIDER, lambda: stripe.find_transfer(ctx.http, ctx.settings, group))
    except RateLimitedError as exc:
        _record_hold(payout, ctx, f"{why}; Stripe asks us to wait before it can be asked ({exc})")
        raise
    except ProcessorError as exc:
        _hold(payout, ctx, f"{why}; Stripe could not be asked about transfer group {group} ({exc})")
    if found is not None and (found.get("amount"), found.get("destination")) != \
            (payout["amount_cents"], payout["destination"]):
        _hold(payout, ctx, f"transfer {found.get('id')} of group {group} is for {found.get('amount')} to "
                           f"{found.get('destination')}, not {payout['amount_cents']} to "
                           f"{payout['destination']}: an operator must decide")
    return found


def _record_hold(payout: dict[str, Any], ctx: JobContext, reason: str) -> None:
    """Note why the payout waits (health shows it); its entries stay reserved."""
    ctx.backend.rpc("payout_hold", {"p_payout_id": payout["payout_id"], "p_reason": reason})
    log.warning("payout %s held: %s", payout["payout_id"], reason)


def _hold(payout: dict[str, Any], ctx: JobContext, reason: str) -> NoReturn:
    """Hold the payout with `reason` and retry the job later."""
    _record_hold(payout, ctx, reason)
    raise RetryableError(f"payout {payout['payout_id']} held, entries stay reserved: {reason}")


def _fail(payout: dict[str, Any], ctx: JobContext, reason: str, *, absent_at_stripe: bool) -> NoReturn:
    """Fail the payout and release its entries (SQL refuses if it may have been sent)."""
    failed = ctx.backend.rpc("payout_fail", {"p_payout_id": payout["payout_id"], "p_reason": reason,
                                             "p_absent_at_stripe": absent_at_stripe})
    if not failed:  # another job settled or failed it meanwhile: nothing was released here
        raise PermanentError(f"payout {payout['payout_id']} is no longer pending; not failed here: {reason}")
    raise PermanentError(f"payout {payout['payout_id']} failed, entries released: {reason}")


def _settle(payout: dict[str, Any], transfer: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    """Mark the payout paid with Stripe's transfer, in one transaction."""
    settled: dict[str, Any] = ctx.backend.rpc(
        "payout_settle", {"p_payout_id": payout["payout_id"], "p_transfer_id": transfer["id"]})
    log.info("payout %s paid: %s %s as %s", payout["payout_id"], payout["amount_cents"],
             payout["currency"], transfer["id"])
    return settled


def _group(payout: dict[str, Any]) -> str:
    return f"payout_{payout['payout_id']}"


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
