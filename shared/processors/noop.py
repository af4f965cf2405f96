"""`noop`: does nothing. The benchmark and smoke tests drain these.

Payload fields let tests make it slow or fail on purpose.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.processors.base import JobContext, PermanentError, RateLimitedError, RetryableError

JOB_TYPE = "noop"
REQUIRED_SETTINGS: tuple[str, ...] = ()


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sleep_seconds: float = Field(0.0, ge=0, le=3600, description="Sleep this long before finishing")
    fail: str | None = Field(None, pattern="^(permanent|retryable|rate_limited|crash)$",
                             description="Fail this way instead of finishing")
    i: int | None = Field(None, description="Free-form sequence number (benchmarks)")


def run_inline(payload: Payload) -> bool:
    """An instant no-op runs on the worker's own thread: a pool hand-off would cost more."""
    return payload.sleep_seconds == 0


def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    if payload.sleep_seconds:
        time.sleep(payload.sleep_seconds)
    if payload.fail == "permanent":
        raise PermanentError("asked to fail permanently")
    if payload.fail == "retryable":
        raise RetryableError("asked to fail, retryably")
    if payload.fail == "rate_limited":
        raise RateLimitedError("asked to be rate limited", retry_after=5)
    if payload.fail == "crash":
        raise RuntimeError("asked to crash")
    return {"ok": True}
