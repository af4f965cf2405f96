"""What every processor module provides, and what it is handed.

A processor module defines `JOB_TYPE`, a pydantic `Payload` (extra="forbid"),
`handle(payload, ctx) -> dict` (the job's result), and optionally
`REQUIRED_SETTINGS` / `missing_settings(settings)` for health. It signals failure
by raising one of the errors of `shared/failures.py` (re-exported here for processor
authors); anything else counts as retryable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from pydantic import BaseModel

from shared.failures import (
    CheckpointAndContinue,
    PermanentError,
    ProcessorError,
    RateLimitedError,
    RetryableError,
)

__all__ = ["CheckpointAndContinue", "JobContext", "PermanentError", "Processor", "ProcessorError",
           "RateLimitedError", "RetryableError"]

if TYPE_CHECKING:
    import httpx

    from shared.config import Settings
    from shared.queue.protocol import QueueBackend


@dataclass
class JobContext:
    """Everything a processor may use besides its payload."""

    job_id: UUID
    job_type: str
    attempt: int
    max_attempts: int
    worker_id: str
    settings: Settings
    backend: QueueBackend
    http: httpx.Client
    # Report progress (0-100) and extend the lock; returns False if the lease is lost.
    progress: Callable[[int, str | None], bool]
    # Seconds left before this job must finish (its lock / the invocation budget).
    deadline_seconds: Callable[[], float]
    # The job's previous result, if a checkpointing processor saved one.
    previous_result: Any = None
    owner_id: UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Processor(Protocol):
    """The shape of a processor module."""

    JOB_TYPE: str
    Payload: type[BaseModel]

    def handle(self, payload: Any, ctx: JobContext) -> dict[str, Any]: ...
