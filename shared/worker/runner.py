"""Running one claimed job: payload validation, its JobContext, and the processor's
outcome (or error) turned into a `Settlement` the worker reports back in batches.

No threads here (see shared/worker/pool.py) and no SQL: the backend is only used through
the context (heartbeat) and by the worker when it settles.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import to_jsonable_python

from shared.logs import log_exception
from shared.processors.base import (
    CheckpointAndContinue,
    JobContext,
    PermanentError,
    RateLimitedError,
    RetryableError,
)
from shared.queue.models import Job

ERROR_MAX_CHARS = 2000  # errors land in job rows and logs; a provider's whole HTML page does not


class InvalidPayload(ValueError):
    """The job's payload does not validate (its message names each bad field, never a value)."""


@dataclass(slots=True)
class Settlement:
    """What to tell the database about one job. kind: complete | fail | release | lease_lost
    (lease_lost: nothing to tell, the job is no longer ours). `exception`: what made it
    fail or be given back (the processor's error, InvalidPayload, TimeoutError), for its span."""

    job: Job
    kind: str
    result: Any = None
    error: str | None = None
    retryable: bool = True
    retry_after: int | None = None
    checkpoint: Any = None
    reason: str | None = None
    duration_ms: float = 0.0
    exception: BaseException | None = None


def fail(job: Job, error: str, *, retryable: bool, duration_ms: float = 0.0,
         exception: BaseException | None = None) -> Settlement:
    return Settlement(job, "fail", error=error[:ERROR_MAX_CHARS], retryable=retryable,
                      duration_ms=duration_ms, exception=exception)


def release(job: Job, reason: str, retry_after: float = 0.0, checkpoint: Any = None,
            exception: BaseException | None = None) -> Settlement:
    # release_jobs casts retry_after_seconds to integer: round up so "after 0.5 s" is not "now".
    return Settlement(job, "release", reason=reason, retry_after=max(0, math.ceil(retry_after)),
                      checkpoint=checkpoint, exception=exception)


def validation_message(exc: ValidationError) -> str:
    """`payload.to: value is not a valid email address; payload.x: Extra inputs are not permitted`."""
    parts = []
    for error in exc.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in error["loc"])
        parts.append(f"payload.{where}: {error['msg']}" if where else f"payload: {error['msg']}")
    return "invalid payload: " + "; ".join(parts)


def validate_payload(module: ModuleType, job: Job) -> BaseModel | Settlement:
    """The job's payload parsed by its processor's `Payload`, or a permanent failure naming
    each bad field (retrying cannot fix a payload)."""
    try:
        payload: BaseModel = module.Payload.model_validate(job.payload)
    except ValidationError as exc:
        message = validation_message(exc)
        return fail(job, message, retryable=False, exception=InvalidPayload(message))
    return payload


def execute(module: ModuleType, job: Job, payload: BaseModel, ctx: JobContext) -> Settlement:
    """Run the processor and classify what happened. Never raises."""
    started = time.perf_counter()
    settlement = _classify(module, job, payload, ctx)
    settlement.duration_ms = (time.perf_counter() - started) * 1000
    return settlement


def _classify(module: ModuleType, job: Job, payload: BaseModel, ctx: JobContext) -> Settlement:
    try:
        result = module.handle(payload, ctx)
        return Settlement(job, "complete", result=to_jsonable_python(result))
    except PermanentError as exc:
        return fail(job, _describe(exc), retryable=False, exception=exc)
    except RateLimitedError as exc:
        return release(job, f"rate limited: {_describe(exc)}", exc.retry_after, exception=exc)
    except CheckpointAndContinue as exc:
        checkpoint = to_jsonable_python(exc.checkpoint)
        return release(job, f"checkpoint: {_describe(exc)}", exc.retry_after, checkpoint, exception=exc)
    except RetryableError as exc:
        return fail(job, _describe(exc), retryable=True, exception=exc)
    except Exception as exc:  # a bug or an unforeseen failure: retry, and keep the traceback
        log_exception("processor raised an unexpected error", job_id=str(job.id), type=job.type,
                      attempt=job.attempts, worker_id=ctx.worker_id)
        return fail(job, f"unexpected {type(exc).__name__}: {exc}", retryable=True, exception=exc)


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


@dataclass
class ContextParts:
    """What every JobContext of one invocation shares."""

    worker_id: str
    settings: Any
    backend: Any
    http: Callable[[], Any]  # the invocation's httpx.Client, created on first use
    extra: Mapping[str, Any]


def build_context(parts: ContextParts, job: Job, deadline: float) -> JobContext:
    """The full JobContext for `job`, whose processor must finish by monotonic `deadline`."""
    def progress(percent: int, message: str | None = None) -> bool:
        return bool(parts.backend.job_progress(job.id, percent, message, parts.worker_id))

    return JobContext(
        job_id=job.id, job_type=job.type, attempt=job.attempts, max_attempts=job.max_attempts,
        worker_id=parts.worker_id, settings=parts.settings, backend=parts.backend, http=parts.http(),
        progress=progress, deadline_seconds=lambda: deadline - time.monotonic(),
        previous_result=job.result, owner_id=job.owner_id, extra=dict(parts.extra))
