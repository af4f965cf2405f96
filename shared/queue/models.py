"""Pydantic models mirroring the SQL contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from shared.queue.run_at import RUN_AT_ALLOWED, BadRunAt, parse_run_at


class Priority(StrEnum):
    critical = "critical"
    high = "high"
    normal = "normal"
    low = "low"


class JobStatus(StrEnum):
    pending = "pending"
    running = "running"
    completed = "completed"
    cancelled = "cancelled"


class Job(BaseModel):
    """A claimed job, as the worker needs it: the columns `CLAIM_COLUMNS` of get_next_job's rows
    (a full job_queue row validates too; the other columns are ignored)."""

    model_config = ConfigDict(extra="ignore")

    id: UUID
    type: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    locked_until: datetime | None = None
    lock_seconds: int | None = None
    started_at: datetime | None = None
    progress: int = 0
    result: Any = None
    owner_id: UUID | None = None
    traceparent: str | None = None  # read only when the worker traces (TRACED_CLAIM_COLUMNS)


# What a worker reads of a claimed row: decoding the other 15 columns (two of them jsonb)
# for every job cost more than running a no-op job. The enqueuer's trace context only
# when the worker records spans.
CLAIM_COLUMNS = ", ".join(name for name in Job.model_fields if name != "traceparent")
TRACED_CLAIM_COLUMNS = f"{CLAIM_COLUMNS}, traceparent"


class NewJob(BaseModel):
    """What enqueue takes: the arguments of enqueue_job without the p_ prefix."""

    model_config = ConfigDict(extra="forbid")

    type: str
    payload: dict[str, Any] = Field(default_factory=dict)
    priority: Priority = Priority.normal
    run_at: datetime | None = None
    max_attempts: int | None = Field(None, ge=1, le=1000)
    depends_on: list[UUID] | None = None
    idempotency_key: str | None = None
    rate_limit_key: str | None = None
    owner_id: UUID | None = None

    @field_validator("run_at", mode="before")
    @classmethod
    def _run_at_as_written(cls, value: object) -> object:
        """Text is read by `shared.queue.run_at` (the one parser of run_at), so `+5m` works
        here as on the command line; a number (pydantic's epoch seconds) is refused."""
        if isinstance(value, str):
            try:
                return parse_run_at(value)
            except BadRunAt as exc:
                raise PydanticCustomError("run_at", "{reason}", {"reason": str(exc)}) from None
        if value is not None and not isinstance(value, datetime):
            raise PydanticCustomError("run_at", "must be a string: {allowed}", {"allowed": RUN_AT_ALLOWED})
        return value


class Completion(BaseModel):
    id: UUID
    result: Any = None


class Failure(BaseModel):
    id: UUID
    error: str
    retryable: bool = True
    retry_after_seconds: int | None = None


class Release(BaseModel):
    """Give a running job back without burning its attempt. A checkpoint (any JSON) is
    saved in the job's result and handed to the processor when the job is claimed again."""

    id: UUID
    retry_after_seconds: int = 0
    reason: str = "released"
    checkpoint: Any = None


class FailOutcome(StrEnum):
    retried = "retried"
    dead_lettered = "dead_lettered"
    lease_lost = "lease_lost"


class DeadLetter(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: UUID
    job_id: UUID
    type: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    last_error: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    failed_at: datetime
    replayed_job_id: UUID | None = None
