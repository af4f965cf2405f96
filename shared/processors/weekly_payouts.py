"""`weekly_payouts`: fan out one `payout` job per eligible seller (run by the recurring schedule).

Each job's idempotency key is `payout:<seller>:<currency>:<ISO week>`, so running the
fan-out twice in a week (a retry, a manual run) enqueues nothing new.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.config import Settings
from shared.processors.base import JobContext
from shared.queue.models import NewJob

JOB_TYPE = "weekly_payouts"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    week: str | None = Field(None, pattern=r"^\d{4}-W\d{2}$", description="ISO week; default this week (UTC)")
    currency: str | None = Field(None, pattern="^[a-z]{3}$", description="Default PAYOUT_CURRENCY")


def missing_settings(settings: Settings) -> list[str]:
    return [] if settings.stripe_secret_key else ["STRIPE_SECRET_KEY"]


def current_week(now: datetime | None = None) -> str:
    """The ISO week of `now` (default: now, UTC) as `2026-W48`."""
    year, week, _ = (now or datetime.now(UTC)).isocalendar()
    return f"{year}-W{week:02d}"


def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    week = payload.week or current_week()
    currency = payload.currency or ctx.settings.payout_currency
    sellers: list[str] = ctx.backend.rpc("payout_eligible_sellers", {
        "p_currency": currency, "p_fee_bps": ctx.settings.payout_fee_bps,
        "p_min_cents": ctx.settings.payout_min_cents})
    jobs = [NewJob(type="payout", payload={"seller_id": seller, "currency": currency, "week": week},
                   idempotency_key=f"payout:{seller}:{currency}:{week}") for seller in sellers]
    ids = ctx.backend.jobs_enqueue(jobs) if jobs else []
    return {"week": week, "currency": currency, "sellers": len(sellers), "job_ids": [str(i) for i in ids]}
