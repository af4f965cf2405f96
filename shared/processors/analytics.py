"""`analytics`: roll up one UTC day into `analytics_daily` (idempotent).

The work is `analytics_rollup(day, groups)` in SQL: queue metrics (jobs per type,
success and failure rates, average and p95 processing time, queue depth, dead
letters), users from `auth.users` and money from the payout ledger, each group
skipped cleanly where its tables are absent. Running a day twice gives the same rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.processors.base import JobContext, PermanentError
from shared.queue.errors import InvalidInput

JOB_TYPE = "analytics"
Group = Literal["queue", "users", "marketplace"]


def yesterday_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: dt.date = Field(default_factory=yesterday_utc, description="UTC day to roll up; default yesterday")
    metrics: list[Group] | None = Field(None, min_length=1, description="Metric groups; default all")

    @field_validator("date")
    @classmethod
    def _not_future(cls, day: dt.date) -> dt.date:
        if day > dt.datetime.now(dt.UTC).date():
            raise ValueError("date is in the future (UTC)")
        return day


def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    args: dict[str, Any] = {"p_day": payload.date.isoformat(),
                            "p_groups": list(payload.metrics) if payload.metrics else None}
    try:
        result: dict[str, Any] = ctx.backend.rpc("analytics_rollup", args)
    except InvalidInput as exc:
        raise PermanentError(exc.message) from exc
    return result
