"""The console's Jobs view and its actions: list jobs (filtered, newest first, keyset-paged),
show one job (also once dead-lettered), cancel one, retry one.

Each function is one SQL call through `QueueBackend.rpc`; SQL validates the filter and decides
what a cancel or a retry may do, and records each change in `console_actions` with `actor`
(admin: the HTTP worker secret, cli: the command line). Refusals come back as QueueErrors:
InvalidInput (22QS1 unknown filter key, 22QS2 bad filter value, 22QS3 limit or after out of
range, 22QS4 no id), NotFound (PT404: no such job) and Conflict (PT409: its state does not
allow it; the message says which state and what to do instead).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from uuid import UUID

from shared.queue import QueueBackend

Actor = Literal["admin", "cli", "sql"]
# The filter keys console_jobs accepts (it refuses any other with 22QS1).
FILTER_KEYS = ("type", "status", "priority", "owner", "from", "to", "q")
STATUSES = ("pending", "running", "completed", "cancelled", "ready", "scheduled")
LIMIT_DEFAULT, LIMIT_MAX = 50, 200


def list_jobs(backend: QueueBackend, filters: Mapping[str, str] | None = None, after: int | None = None,
              limit: int = LIMIT_DEFAULT) -> dict[str, Any]:
    """{jobs: [{id, seq, type, status, priority, attempts, max_attempts, run_at, created_at,
    started_at, finished_at, owner_id, last_error, progress}], next_after}: newest first;
    pass `next_after` back as `after` for the next page (None: no more)."""
    return _call(backend, "console_jobs", {"p_filter": dict(filters or {}), "p_after": after,
                                           "p_limit": limit})


def job(backend: QueueBackend, job_id: UUID) -> dict[str, Any]:
    """{job, history, history_total, depends_on, dependents, dead_letter}; NotFound when unknown."""
    return _call(backend, "console_job", {"p_id": str(job_id)})


def cancel(backend: QueueBackend, job_id: UUID, actor: Actor) -> dict[str, Any]:
    """Cancel a pending or running job and its dependents: {id, cancelled, from_status,
    dependents_cancelled, action_id}. NotFound unknown, Conflict when it is not cancellable."""
    return _call(backend, "console_cancel_job", {"p_id": str(job_id), "p_actor": actor})


def retry(backend: QueueBackend, job_id: UUID, actor: Actor) -> dict[str, Any]:
    """Run a waiting pending job now ({id, run_at, was_run_at, action_id}) or replay a
    dead-lettered one ({id: the new job, dead_letter_id, replayed_job_id, action_id}).
    NotFound unknown, Conflict otherwise (running, finished, already due, already replayed)."""
    return _call(backend, "console_retry_job", {"p_id": str(job_id), "p_actor": actor})


def _call(backend: QueueBackend, function: str, args: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = backend.rpc(function, args)
    return result
