"""The narrow interface between the worker and the database.

Two implementations: `PostgresBackend` (psycopg 3, DATABASE_URL) and
`SupabaseBackend` (supabase-py `client.rpc`). Both call the same SQL functions and
pass one conformance suite (tests/queue). Methods are named entity first.
Database errors surface as `shared.queue.errors.QueueError` subclasses chosen by SQLSTATE.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from uuid import UUID

from pydantic import BaseModel

from shared.queue.models import Completion, DeadLetter, FailOutcome, Failure, Job, NewJob, Release


class JobTypeInfo(BaseModel):
    """The per-type settings the worker needs (a job_types row)."""

    name: str
    timeout_seconds: int
    max_attempts: int
    enabled: bool
    concurrency_limit: int | None = None


class QueueBackend(Protocol):
    def jobs_enqueue(self, jobs: Sequence[NewJob]) -> list[UUID]:
        """enqueue_jobs: ids in input order (existing ids for known idempotency keys). With
        tracing on, the jobs carry the trace context (shared.queue.trace_context)."""
        ...

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        """get_next_job: up to batch_size jobs now running under worker_id. `with_traceparent`:
        also read each job's traceparent (a tracing worker; otherwise it may stay None)."""
        ...

    def jobs_complete(self, worker_id: str, completions: Sequence[Completion]) -> set[UUID]:
        """complete_jobs: the ids completed (the others' leases were lost)."""
        ...

    def jobs_fail(self, worker_id: str, failures: Sequence[Failure]) -> dict[UUID, FailOutcome]:
        """fail_jobs: the outcome of each."""
        ...

    def jobs_release(self, worker_id: str, releases: Sequence[Release]) -> set[UUID]:
        """release_jobs: back to pending without counting the attempt."""
        ...

    def jobs_release_unstarted(self, worker_id: str, started: Sequence[UUID], reason: str) -> set[UUID]:
        """release_unstarted_jobs: after a failed invocation, every job running under
        worker_id and not in `started` back to pending, attempt not counted."""
        ...

    def job_progress(self, job_id: UUID, progress: int, message: str | None, worker_id: str) -> bool:
        """update_job_progress: also extends the lock; False when the lease is lost."""
        ...

    def job_cancel(self, job_id: UUID) -> bool:
        ...

    def dead_letter_replay(self, dead_letter_id: UUID) -> UUID:
        ...

    def dead_letters_list(self, limit: int = 50) -> list[DeadLetter]:
        ...

    def jobs_cleanup_stuck(self) -> int:
        ...

    def job_types(self) -> dict[str, JobTypeInfo]:
        ...

    def queue_stats(self) -> dict[str, Any]:
        ...

    def queue_health(self) -> dict[str, Any]:
        ...

    def schema_versions(self) -> list[str]:
        """queue_schema_versions(): migration versions the database has run."""
        ...

    def worker_run_start(self, worker_id: str, meta: dict[str, Any]) -> None:
        ...

    def worker_run_finish(self, worker_id: str, counts: dict[str, int]) -> None:
        ...

    def rpc(self, function: str, args: dict[str, Any]) -> Any:
        """Call scalar-returning SQL function `public.<function>` with named arguments
        (`{"p_seller_id": ...}`) and return its value as JSON data on both paths: jsonb as
        dicts/lists, numbers, booleans, and uuid/timestamps as strings.
        For processors whose job is about data (payout ledger, analytics, circuit breakers)."""
        ...

    def ping(self) -> float:
        """Round trip to the database, in milliseconds."""
        ...

    def close(self) -> None:
        ...
