"""QueueBackend over Supabase's Data API (PostgREST) with supabase-py.

Used when only SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY are set. Every method is one
`client.rpc(...)` (or one table read) calling the same SQL functions as PostgresBackend,
and returns the same types. PostgREST's errors ({code, message, details, hint}, code
being the SQLSTATE) map through the same `error_for_sqlstate` table; an unreachable
endpoint or database is DatabaseUnavailable.

PostgREST caps every result at max-rows (1000 on Supabase), so calls whose result grows
with their input (enqueue, complete, fail, release) go in chunks of 1000. A bulk enqueue
of more than 1000 jobs is therefore atomic per chunk, not as a whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar
from uuid import UUID

import httpx
from postgrest import APIError
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from supabase import Client, ClientOptions, SupabaseException, create_client

from shared.queue.errors import DatabaseUnavailable, NotAllowed, QueueError, error_for_sqlstate
from shared.queue.models import Completion, DeadLetter, FailOutcome, Failure, Job, NewJob, Release
from shared.queue.protocol import JobTypeInfo
from shared.queue.trace_context import enqueue_span, enqueued

MAX_ROWS = 1000  # PostgREST's max-rows on Supabase
# PostgREST cannot reach Postgres (PGRST00x; SQLSTATE 08*, 57P0x), or a gateway in front of it failed.
_UNAVAILABLE_CODES = {"PGRST000", "PGRST001", "PGRST002", "PGRST003", "502", "503", "504", "520", "522",
                      "524"}
_AUTH_HINT = "check SUPABASE_SERVICE_ROLE_KEY (the service_role key, not the anon key)"
T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


def _chunks(items: Sequence[M]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), MAX_ROWS):
        yield [item.model_dump(mode="json", exclude_none=True) for item in items[start:start + MAX_ROWS]]


class SupabaseBackend:
    """The supabase-py path. `timeout` bounds each HTTP request, in seconds."""

    def __init__(self, supabase_url: str, service_role_key: str, *, timeout: float = 30.0) -> None:
        options = ClientOptions(postgrest_client_timeout=timeout, auto_refresh_token=False,
                                persist_session=False,
                                # The worker runs on a schedule; a failed call is retried by the
                                # next tick, not by sleeping inside this one.
                                postgrest_client_retry=False)
        try:
            self._client: Client = create_client(supabase_url, service_role_key, options)
        except SupabaseException as exc:
            hint = ("set SUPABASE_URL to https://<project-ref>.supabase.co and "
                    "SUPABASE_SERVICE_ROLE_KEY to its service_role (or sb_secret_) key")
            raise QueueError(f"cannot create the Supabase client for {supabase_url!r}: {exc}",
                             hint=hint) from exc

    def _execute(self, call: Callable[[], T]) -> T:
        try:
            return call()
        except APIError as exc:
            raise _translate(exc) from exc
        except httpx.TransportError as exc:
            raise DatabaseUnavailable(f"cannot reach the Supabase API: {exc!r}",
                                      hint="check SUPABASE_URL and that the project is up") from exc

    def _rpc(self, function: str, args: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        call = self._client.rpc(function, to_jsonable_python(args))
        if headers:
            call.request.headers.update(headers)
        return self._execute(call.execute).data

    def jobs_enqueue(self, jobs: Sequence[NewJob]) -> list[UUID]:
        # The trace context as PostgREST's request header: job_queue.traceparent's default reads it.
        with enqueue_span(jobs) as traceparent:
            headers = {"traceparent": traceparent} if traceparent else None
            ids = [UUID(i) for chunk in _chunks(jobs)
                   for i in self._rpc("enqueue_jobs", {"p_jobs": chunk}, headers)]
            if traceparent:
                enqueued(ids)
        return ids

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        # PostgREST answers whole job_queue rows: the traceparent comes along either way.
        rows = self._rpc("get_next_job", {"p_worker_id": worker_id, "p_types": list(types) if types else None,
                                          "p_batch_size": batch_size, "p_lock_seconds": lock_seconds})
        return [Job.model_validate(row) for row in rows]

    def jobs_complete(self, worker_id: str, completions: Sequence[Completion]) -> set[UUID]:
        return {UUID(i) for chunk in _chunks(completions)
                for i in self._rpc("complete_jobs", {"p_jobs": chunk, "p_worker_id": worker_id})}

    def jobs_fail(self, worker_id: str, failures: Sequence[Failure]) -> dict[UUID, FailOutcome]:
        return {UUID(row["job_id"]): FailOutcome(row["outcome"]) for chunk in _chunks(failures)
                for row in self._rpc("fail_jobs", {"p_jobs": chunk, "p_worker_id": worker_id})}

    def jobs_release(self, worker_id: str, releases: Sequence[Release]) -> set[UUID]:
        return {UUID(i) for chunk in _chunks(releases)
                for i in self._rpc("release_jobs", {"p_jobs": chunk, "p_worker_id": worker_id})}

    def jobs_release_unstarted(self, worker_id: str, started: Sequence[UUID], reason: str) -> set[UUID]:
        return {UUID(i) for i in self._rpc("release_unstarted_jobs", {
            "p_worker_id": worker_id, "p_started": [str(job_id) for job_id in started], "p_reason": reason})}

    def job_progress(self, job_id: UUID, progress: int, message: str | None, worker_id: str) -> bool:
        return bool(self._rpc("update_job_progress", {"p_job_id": job_id, "p_progress": progress,
                                                      "p_message": message, "p_worker_id": worker_id}))

    def job_cancel(self, job_id: UUID) -> bool:
        return bool(self._rpc("cancel_job", {"p_job_id": job_id}))

    def dead_letter_replay(self, dead_letter_id: UUID) -> UUID:
        return UUID(self._rpc("retry_dead_letter_job", {"p_id": dead_letter_id}))

    def _select(self, table: str, *columns: str, order_desc: str | None = None,
                limit: int | None = None) -> list[dict[str, Any]]:
        query = self._client.table(table).select(*columns)
        if order_desc:
            query = query.order(order_desc, desc=True)
        if limit is not None:
            query = query.limit(limit)
        rows: list[dict[str, Any]] = self._execute(query.execute).data  # type: ignore[assignment]
        return rows

    def dead_letters_list(self, limit: int = 50) -> list[DeadLetter]:
        rows = self._select("job_dead_letter", "*", order_desc="failed_at", limit=limit)
        return [DeadLetter.model_validate(row) for row in rows]

    def jobs_cleanup_stuck(self) -> int:
        return int(self._rpc("cleanup_stuck_jobs", {}))

    def job_types(self) -> dict[str, JobTypeInfo]:
        rows = self._select("job_types", "name", "timeout_seconds", "max_attempts", "enabled",
                            "concurrency_limit")
        return {row["name"]: JobTypeInfo.model_validate(row) for row in rows}

    def queue_stats(self) -> dict[str, Any]:
        return dict(self._rpc("queue_stats", {}))

    def queue_health(self) -> dict[str, Any]:
        return dict(self._rpc("queue_health", {}))

    def schema_versions(self) -> list[str]:
        return list(self._rpc("queue_schema_versions", {}))

    def worker_run_start(self, worker_id: str, meta: dict[str, Any]) -> None:
        self._rpc("worker_run_start", {"p_worker_id": worker_id, "p_meta": meta})

    def worker_run_finish(self, worker_id: str, counts: dict[str, int]) -> None:
        self._rpc("worker_run_finish", {"p_worker_id": worker_id, "p_counts": counts})

    def rpc(self, function: str, args: dict[str, Any]) -> Any:
        return self._rpc(function, args)

    def ping(self) -> float:
        started = time.perf_counter()
        self._rpc("queue_schema_versions", {})
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self._client.postgrest.aclose()


def _translate(exc: APIError) -> QueueError:
    """The QueueError for a PostgREST error: SQLSTATE-mapped, or 'unavailable', or 'not allowed'."""
    code, message = exc.code or "", exc.message or str(exc)
    if code in _UNAVAILABLE_CODES or code.startswith(("08", "57P")):
        return DatabaseUnavailable(message, hint="the Supabase API cannot reach its database; retry later",
                                   sqlstate=code or None)
    if code.startswith("PGRST3") or (not code and "api key" in message.lower()):
        return NotAllowed(message, hint=exc.hint or _AUTH_HINT, sqlstate=code or None)
    return error_for_sqlstate(code or None, message, exc.hint)
