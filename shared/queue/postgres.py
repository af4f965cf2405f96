"""QueueBackend over direct Postgres connections (psycopg 3; shared.queue.connections
says why they are not psycopg_pool's).

Safe behind Supavisor or pgBouncer in transaction mode: every call is one
autocommit statement, no server-side prepared statements (prepare_threshold=None),
no session state (no SET, no temp tables, no LISTEN).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from shared.queue.connections import CannotConnect, Connections, ConnectionsBusy
from shared.queue.errors import DatabaseUnavailable, QueueError, error_for_sqlstate
from shared.queue.models import (
    CLAIM_COLUMNS,
    TRACED_CLAIM_COLUMNS,
    Completion,
    DeadLetter,
    FailOutcome,
    Failure,
    Job,
    NewJob,
    Release,
)
from shared.queue.protocol import JobTypeInfo
from shared.queue.trace_context import enqueue_span, enqueued

_ENQUEUE = "select enqueue_jobs as id from enqueue_jobs(%s)"
# With a trace context: the setting is made in the same statement (so in its transaction,
# also behind a transaction-mode pooler) before enqueue_jobs runs: the argument's
# sub-select is evaluated first. The column default reads it; it ends with the statement.
_ENQUEUE_TRACED = ("select enqueue_jobs as id from enqueue_jobs("
                   "(select %s::jsonb from pg_catalog.set_config('queue.traceparent', %s, true)))")


def _jobs_json(items: Sequence[Any]) -> Jsonb:
    return Jsonb([item.model_dump(mode="json", exclude_none=True) for item in items])


class PostgresBackend:
    """The direct path, used when DATABASE_URL is set."""

    def __init__(self, database_url: str, *, max_size: int = 4, open_timeout: float = 5.0) -> None:
        """`open_timeout`: how long a connection attempt may wait for the server to answer
        (libpq's connect_timeout, unless the URL sets one); a refused one fails at once."""
        self._pool = Connections(
            database_url, {"autocommit": True, "prepare_threshold": None, "row_factory": dict_row},
            max_size=max_size,
            # Waiting for a busy connection longer than this eats the invocation's budget.
            wait_seconds=10.0,
            connect_timeout=max(1, math.ceil(open_timeout)))
        try:
            self.ping()  # a wrong DATABASE_URL is reported here, not at the first job
        except QueueError as exc:
            self._pool.close()
            raise DatabaseUnavailable(f"cannot connect to the database: {exc.message}",
                                      hint="check DATABASE_URL and that the server is up") from exc

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            raise _translate(exc) from exc

    def _rows(self, query: str, params: Sequence[Any] = (), *,
              repeatable: bool = False) -> list[dict[str, Any]]:
        """The statement's rows. `repeatable`: running it twice does no harm (a read, or a
        fenced settle), so when its connection breaks it is run once more on a fresh one
        (not when no connection could be had: trying again at once would not help)."""
        try:
            with self._conn() as conn:
                return conn.execute(query, params).fetchall()
        except DatabaseUnavailable as exc:
            if not repeatable or isinstance(exc, ConnectionsBusy | CannotConnect):
                raise
        with self._conn() as conn:  # the broken connection was discarded: this one is new
            return conn.execute(query, params).fetchall()

    def _value(self, query: str, params: Sequence[Any] = (), *, repeatable: bool = False) -> Any:
        rows = self._rows(query, params, repeatable=repeatable)
        return next(iter(rows[0].values())) if rows else None

    def jobs_enqueue(self, jobs: Sequence[NewJob]) -> list[UUID]:
        with enqueue_span(jobs) as traceparent:
            if traceparent is None:
                rows = self._rows(_ENQUEUE, (_jobs_json(jobs),))
            else:
                rows = self._rows(_ENQUEUE_TRACED, (_jobs_json(jobs), traceparent))
                enqueued([row["id"] for row in rows])
        return [row["id"] for row in rows]

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        columns = TRACED_CLAIM_COLUMNS if with_traceparent else CLAIM_COLUMNS
        rows = self._rows(f"select {columns} from get_next_job(%s, %s, %s, %s)",
                          (worker_id, list(types) if types else None, batch_size, lock_seconds))
        # Built, not validated: psycopg already decoded each column to the model's type.
        return [Job.model_construct(**row) for row in rows]

    def jobs_complete(self, worker_id: str, completions: Sequence[Completion]) -> set[UUID]:
        if not completions:
            return set()
        # Plain dicts, not model_dump: a drain completes thousands of jobs a second.
        items = [{"id": str(c.id)} if c.result is None else {"id": str(c.id), "result": c.result}
                 for c in completions]
        rows = self._rows("select complete_jobs as id from complete_jobs(%s, %s)",
                          (Jsonb(items), worker_id), repeatable=True)
        return {row["id"] for row in rows}

    def jobs_fail(self, worker_id: str, failures: Sequence[Failure]) -> dict[UUID, FailOutcome]:
        if not failures:
            return {}
        rows = self._rows("select job_id, outcome from fail_jobs(%s, %s)",
                          (_jobs_json(failures), worker_id), repeatable=True)
        return {row["job_id"]: FailOutcome(row["outcome"]) for row in rows}

    def jobs_release(self, worker_id: str, releases: Sequence[Release]) -> set[UUID]:
        if not releases:
            return set()
        rows = self._rows("select release_jobs as id from release_jobs(%s, %s)",
                          (_jobs_json(releases), worker_id), repeatable=True)
        return {row["id"] for row in rows}

    def jobs_release_unstarted(self, worker_id: str, started: Sequence[UUID], reason: str) -> set[UUID]:
        rows = self._rows("select release_unstarted_jobs as id "
                          "from release_unstarted_jobs(%s, %s::uuid[], %s)",
                          (worker_id, list(started), reason), repeatable=True)
        return {row["id"] for row in rows}

    def job_progress(self, job_id: UUID, progress: int, message: str | None, worker_id: str) -> bool:
        return bool(self._value("select update_job_progress(%s, %s, %s, %s)",
                                (job_id, progress, message, worker_id), repeatable=True))

    def job_cancel(self, job_id: UUID) -> bool:
        return bool(self._value("select cancel_job(%s)", (job_id,)))

    def dead_letter_replay(self, dead_letter_id: UUID) -> UUID:
        value: UUID = self._value("select retry_dead_letter_job(%s)", (dead_letter_id,))
        return value

    def dead_letters_list(self, limit: int = 50) -> list[DeadLetter]:
        rows = self._rows("select * from job_dead_letter order by failed_at desc limit %s", (limit,),
                          repeatable=True)
        return [DeadLetter.model_validate(row) for row in rows]

    def jobs_cleanup_stuck(self) -> int:
        return int(self._value("select cleanup_stuck_jobs()"))

    def job_types(self) -> dict[str, JobTypeInfo]:
        rows = self._rows("select name, timeout_seconds, max_attempts, enabled, concurrency_limit "
                          "from job_types", repeatable=True)
        return {row["name"]: JobTypeInfo.model_validate(row) for row in rows}

    def queue_stats(self) -> dict[str, Any]:
        return dict(self._value("select queue_stats()", repeatable=True))

    def queue_health(self) -> dict[str, Any]:
        return dict(self._value("select queue_health()", repeatable=True))

    def schema_versions(self) -> list[str]:
        return list(self._value("select queue_schema_versions()", repeatable=True))

    def worker_run_start(self, worker_id: str, meta: dict[str, Any]) -> None:
        self._rows("select worker_run_start(%s, %s)", (worker_id, Jsonb(meta)), repeatable=True)

    def worker_run_finish(self, worker_id: str, counts: dict[str, int]) -> None:
        self._rows("select worker_run_finish(%s, %s)", (worker_id, Jsonb(counts)), repeatable=True)

    def rpc(self, function: str, args: dict[str, Any]) -> Any:
        # to_jsonb: the value comes back as JSON data (uuid and timestamps as strings), exactly
        # what SupabaseBackend.rpc gets from PostgREST, so processors see one contract.
        query = sql.SQL("select to_jsonb({}.{}({})) as value").format(
            sql.Identifier("public"), sql.Identifier(function),
            sql.SQL(", ").join(sql.SQL("{} => {}").format(sql.Identifier(name), sql.Placeholder())
                               for name in args))
        params = [Jsonb(v) if isinstance(v, dict | list) else v for v in args.values()]
        with self._conn() as conn:
            row = conn.execute(query, params).fetchone()
        return row["value"] if row else None

    def ping(self) -> float:
        started = time.perf_counter()
        self._value("select 1", repeatable=True)
        return (time.perf_counter() - started) * 1000

    def close(self) -> None:
        self._pool.close()


def _translate(exc: psycopg.Error) -> QueueError:
    """The QueueError for a driver error: SQLSTATE-mapped (connection classes 08/57P
    included), or 'database unavailable' when the connection broke without one."""
    if isinstance(exc, psycopg.OperationalError) and exc.sqlstate is None:
        return DatabaseUnavailable(str(exc).strip(), hint="check DATABASE_URL and that the server is up")
    diag = exc.diag
    return error_for_sqlstate(exc.sqlstate, diag.message_primary or str(exc), diag.message_hint)

