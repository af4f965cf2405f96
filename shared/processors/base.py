"""What every processor module provides, and what it is handed.

A processor module defines `JOB_TYPE`, a pydantic `Payload` (extra="forbid"),
`handle(payload, ctx) -> dict` (the job's result), and optionally
`REQUIRED_SETTINGS` / `missing_settings(settings)` for health. It signals failure
by raising one of the three errors below; anything else counts as retryable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from pydantic import BaseModel

if TYPE_CHECKING:
    import httpx

    from shared.backend.protocol import QueueBackend
    from shared.config import Settings


class ProcessorError(Exception):
    """Root of the errors a processor raises on purpose."""


class PermanentError(ProcessorError):
    """Retrying cannot help (bad input, rejected by the provider): dead-letter now."""


class RetryableError(ProcessorError):
    """A transient failure: retry with the type's backoff."""


class RateLimitedError(ProcessorError):
    """The provider asked us to slow down: retry after `retry_after` seconds without
    counting the attempt."""

    def __init__(self, message: str, retry_after: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CheckpointAndContinue(ProcessorError):
    """The job made progress but cannot finish within this invocation: save
    `checkpoint` (the worker stores it as the job's result, handed back next time as
    `ctx.previous_result`) and run it again after `retry_after` seconds, without
    counting the attempt."""

    def __init__(self, checkpoint: dict[str, Any], retry_after: float = 0.0,
                 message: str = "checkpointed; continuing later") -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.retry_after = retry_after


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
