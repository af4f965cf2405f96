"""Stopping (SIGTERM's event) and heartbeats.

Real: PostgreSQL, PostgresBackend, the worker loop and its threads. The stop event is set
by a processor, as the HTTP layer's signal handler would set it; nothing faked.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import psycopg
import pytest

from shared.config import Settings
from shared.processors.base import JobContext
from shared.queue.models import Job, Release
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker.conftest import AddType, Conn, enqueue, history, job_row
from tests.worker.procs import Counted, ok, processor


def test_stop_releases_the_jobs_not_yet_started_without_burning_attempts(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_stop")
    stop = threading.Event()

    def handle(payload: Any, ctx: JobContext) -> Any:
        stop.set()  # SIGTERM arrives while the first job runs
        return {}

    ids = enqueue(backend, "t_stop", *[{} for _ in range(5)])
    enqueue(backend, "t_stop", *[{} for _ in range(3)])  # never claimed: the loop stops claiming
    options = InvocationOptions(batch_size=5, concurrency=1, time_budget_seconds=40)
    report = run_invocation(backend, settings, options, registry={"t_stop": processor("t_stop", handle)},
                            stop=stop)
    assert (report.claimed, report.completed, report.released) == (5, 1, 4)
    rows = [job_row(conn, i) for i in ids]
    assert [r["status"] for r in rows if r] == ["completed"] + ["pending"] * 4
    assert [r["attempts"] for r in rows if r][1:] == [0, 0, 0, 0]
    notes = conn.execute("select note from job_status_history where job_id = %s and from_status = 'running'",
                         (ids[1],)).fetchall()
    assert notes == [{"note": "not started: the worker is shutting down"}]
    left = conn.execute("select count(*) as n from job_queue "
                        "where status = 'pending' and attempts = 0").fetchone()
    assert left == {"n": 7}


def test_a_stop_set_before_the_invocation_claims_nothing(
        backend: PostgresBackend, settings: Settings, add_type: AddType) -> None:
    add_type("t_early")
    enqueue(backend, "t_early", {})
    stop = threading.Event()
    stop.set()
    report = run_invocation(backend, settings, InvocationOptions(),
                            registry={"t_early": processor("t_early", ok)}, stop=stop)
    assert report.claimed == 0


def test_progress_extends_the_lock_and_is_saved(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, db_url: str) -> None:
    add_type("t_beat", timeout_seconds=20)
    seen: dict[str, Any] = {}

    def handle(payload: Any, ctx: JobContext) -> Any:
        with psycopg.connect(db_url, autocommit=True) as own:
            query = "select locked_until, progress, progress_message from job_queue where id = %s"
            own.execute("update job_queue set locked_until = now() + interval '1 second' where id = %s",
                        (ctx.job_id,))  # as if most of the lock had already been spent
            seen["before"] = own.execute(query, (ctx.job_id,)).fetchone()
            seen["ok"] = ctx.progress(40, "rendering chunk 2 of 5")
            seen["after"] = own.execute(query, (ctx.job_id,)).fetchone()
            seen["deadline"] = ctx.deadline_seconds()
        return {}

    (job_id,) = enqueue(backend, "t_beat", {})
    report = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=40),
                            registry={"t_beat": processor("t_beat", handle)})
    assert seen["ok"] is True
    assert report.completed == 1
    before, after = seen["before"], seen["after"]
    assert (after[0] - before[0]).total_seconds() > 15
    assert after[1:] == (40, "rendering chunk 2 of 5")
    assert 15 < seen["deadline"] <= 20
    assert history(conn, job_id) == [(None, "pending"), ("pending", "running"), ("running", "completed")]


def test_the_context_carries_the_job_and_the_invocation(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_ctx", max_attempts=4)
    seen: list[JobContext] = []

    def handle(payload: Any, ctx: JobContext) -> Any:
        seen.append(ctx)
        return {}

    owner = "6f1d3c59-8c0c-4c39-9e1b-5a6c0bb3f0a1"
    (job_id,) = enqueue(backend, "t_ctx", {}, owner_id=owner)
    report = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=40),
                            registry={"t_ctx": processor("t_ctx", handle)}, worker_id="test-host:1:abc")
    (ctx,) = seen
    assert (ctx.job_id, ctx.job_type, ctx.attempt, ctx.max_attempts) == (job_id, "t_ctx", 1, 4)
    assert ctx.worker_id == report.worker_id == "test-host:1:abc"
    assert str(ctx.owner_id) == owner
    assert ctx.settings is settings
    assert ctx.backend is backend
    assert ctx.http.is_closed  # the invocation's client is closed when it ends


class PrefetchAfterRelease(PostgresBackend):
    """The real backend, except that a claim made off the main thread (a prefetch) is sent
    only after `stop` is set and a release landed, or 1 s after the stop if none came.
    Without the fix the round's release lands first and the prefetch claims its jobs again
    (what was flaky, now every run); with it the release waits for the prefetch, so none
    comes and the 1 s decides nothing."""

    def __init__(self, database_url: str, stop: threading.Event) -> None:
        super().__init__(database_url)
        self.stop = stop
        self.released = threading.Event()

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        if threading.current_thread() is not threading.main_thread():
            assert self.stop.wait(30), "the test's stop never came"
            self.released.wait(1)
        return super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                  with_traceparent=with_traceparent)

    def jobs_release(self, worker_id: str, releases: Sequence[Release]) -> set[UUID]:
        try:
            return super().jobs_release(worker_id, releases)
        finally:
            if releases:  # every settle calls it, most with nothing to release
                self.released.set()


def test_a_prefetched_round_is_released_untouched_when_stop_comes(
        db_url: str, settings: Settings, add_type: AddType, conn: Conn,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before the fix one run in six released jobs 5-7 twice: a prefetch claim sent after the
    round's release claimed them again. Real: PostgreSQL; the prefetches are held back
    (PrefetchAfterRelease), and every round after the first prefetches."""
    monkeypatch.setattr("shared.worker.invocation.PREFETCH_BELOW_SECONDS", math.inf)
    add_type("t_pre")
    stop = threading.Event()
    backend = PrefetchAfterRelease(db_url, stop)
    ran: list[int] = []

    def handle(payload: Any, ctx: JobContext) -> Any:
        ran.append(payload.n)
        if payload.n == 4:  # first job of the second round, which prefetched round 3
            stop.set()
        return {}

    ids = enqueue(backend, "t_pre", *[{"n": n} for n in range(12)])
    options = InvocationOptions(batch_size=4, concurrency=1, time_budget_seconds=40)
    registry = {"t_pre": processor("t_pre", handle, Counted)}
    report = run_invocation(backend, settings, options, registry=registry, stop=stop)
    backend.close()
    assert ran == [0, 1, 2, 3, 4]
    assert (report.completed, report.released) == (5, 7)
    assert report.claimed == 12  # rounds 1 and 2, and round 3 claimed while round 2 ran
    rows = conn.execute("select status, attempts from job_queue where id = any(%s) order by seq",
                        (ids,)).fetchall()
    assert [(r["status"], r["attempts"]) for r in rows[5:]] == [("pending", 0)] * 7
    releases = conn.execute("select count(*) as n from job_status_history where job_id = any(%s) "
                            "and from_status = 'running' and to_status = 'pending'", (ids,)).fetchone()
    assert releases == {"n": 7}  # each job given back once, in the database too
