"""Pydantic models mirroring the SQL contract."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


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
    """A row of job_queue as get_next_job returns it."""

    model_config = ConfigDict(extra="ignore")

    id: UUID
    type: str
    payload: dict[str, Any]
    priority: Priority
    status: JobStatus
    attempts: int
    max_attempts: int
    run_at: datetime
    locked_by: str | None = None
    locked_until: datetime | None = None
    lock_seconds: int | None = None
    progress: int = 0
    progress_message: str | None = None
    result: Any = None
    last_error: str | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)
    depends_on: list[UUID] | None = None
    idempotency_key: str | None = None
    rate_limit_key: str | None = None
    owner_id: UUID | None = None
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime


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
