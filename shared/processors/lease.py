"""What a processor does when its heartbeat (`ctx.progress`) is refused: the job is no
longer its own, and the database says why (job_lease_state). Cancelled, or out of the
queue, nobody runs it again: what it stored for a later attempt can go. Lost to another
worker, or due again after its lock expired, that worker continues it: keep everything.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from shared.logs import log_event
from shared.processors.base import JobContext, PermanentError, ProcessorError, RetryableError

# job_lease_state answers after which nobody continues the job.
ENDED = {"cancelled": "was cancelled", "gone": "left the queue (dead-lettered or purged)"}


def lease_refused(ctx: JobContext, doing: str, clean_up: Callable[[], str] | None = None) -> ProcessorError:
    """The error to raise when `ctx.progress` answered False while `doing` (e.g. "rendering
    chunk 3/10"). A job that ended for good runs `clean_up` first (it says what it removed)."""
    state = ctx.backend.rpc("job_lease_state", {"p_job_id": str(ctx.job_id), "p_worker_id": ctx.worker_id})
    if state not in ENDED:
        return RetryableError(f"lost the job's lease while {doing}; another worker continues it")
    removed = clean_up() if clean_up is not None else ""
    message = f"{ENDED[state]} while {doing}" + (f"; {removed}" if removed else "")
    log_event(logging.WARNING, f"{ctx.job_type} job {message}", job_id=str(ctx.job_id), type=ctx.job_type,
              state=state, worker_id=ctx.worker_id)
    return PermanentError(message)
