"""A job is never started on a lease that is gone: a worker frozen past a prefetched job's
lock confirms the lease with the database before the job starts.

Real: PostgreSQL, PostgresBackend, two worker invocations and their threads, real time
passing (the lock is 1 s; the freeze ends when the database says the lock expired).
Faked: the side effect is a list append standing for an SMTP send.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any
from uuid import UUID

import pytest

from shared.config import Settings
from shared.processors.base import JobContext
from shared.queue.errors import DatabaseUnavailable
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker.conftest import AddType, Conn, enqueue, job_row
from tests.worker.procs import Counted, ok, processor


def wait_until(conn: Conn, query: str, job_id: UUID) -> None:
    """Poll until `query` (one boolean, for the job id) is true; fails after 10 s."""
    for _ in range(400):
        row = conn.execute(query, (job_id,)).fetchone()
        if row and next(iter(row.values())):
            return
        time.sleep(0.025)
    raise AssertionError(f"timed out waiting for: {query}")


def freeze_until_expired(conn: Conn, job_id: UUID, frozen: threading.Event) -> None:
    """Until the job (prefetched by this worker) is running and its lock has expired."""
    wait_until(conn, "select status = 'running' from job_queue where id = %s", job_id)
    wait_until(conn, "select locked_until < clock_timestamp() from job_queue where id = %s", job_id)
    frozen.set()


@pytest.fixture
def lease_types(add_type: AddType, monkeypatch: pytest.MonkeyPatch) -> None:
    add_type("t_quick", timeout_seconds=30)
    add_type("t_freeze", timeout_seconds=30)
    add_type("t_send", timeout_seconds=1)  # lock 1 s
    monkeypatch.setattr("shared.worker.invocation.PREFETCH_BELOW_SECONDS", math.inf)  # prefetch after round 1


def run_frozen_worker(backend: PostgresBackend, settings: Settings, conn: Conn,
                      while_frozen: Any) -> tuple[list[UUID], UUID, Any]:
    """Round 1: a quick job. Round 2: a job that freezes the worker while the t_send job
    prefetched with it waits past its lock; `while_frozen(send_id)` runs before it thaws."""
    sent: list[UUID] = []
    frozen = threading.Event()
    enqueue(backend, "t_quick", {}, priority="critical")
    enqueue(backend, "t_freeze", {}, priority="high")
    (send_id,) = enqueue(backend, "t_send", {})

    def freeze(payload: Any, ctx: JobContext) -> Any:
        freeze_until_expired(conn, send_id, frozen)
        while_frozen(send_id)
        return {}

    def send(payload: Any, ctx: JobContext) -> Any:
        sent.append(ctx.job_id)
        return {}

    registry = {"t_quick": processor("t_quick", ok), "t_freeze": processor("t_freeze", freeze),
                "t_send": processor("t_send", send)}
    report = run_invocation(backend, settings, InvocationOptions(batch_size=1, concurrency=1),
                            registry=registry)
    assert frozen.is_set()
    return sent, send_id, report


def test_a_frozen_worker_does_not_start_a_prefetched_job_another_worker_has_since_run(
        backend: PostgresBackend, settings: Settings, conn: Conn, lease_types: None) -> None:
    other: dict[str, Any] = {}

    def reclaim_and_run(send_id: UUID) -> None:
        conn.execute("select cleanup_stuck_jobs()")  # the expired lock goes back to pending
        registry = {"t_send": processor("t_send", lambda p, ctx: other.setdefault("sent", ctx.job_id))}
        other["report"] = run_invocation(backend, settings, InvocationOptions(types=["t_send"]),
                                         registry=registry)

    sent, send_id, report = run_frozen_worker(backend, settings, conn, reclaim_and_run)
    assert other["sent"] == send_id  # the other worker sent it
    assert other["report"].completed == 1
    assert sent == []  # and the frozen one did not send it again
    assert (report.completed, report.lease_lost) == (2, 1)
    row = job_row(conn, send_id)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("completed", 2)


def test_a_frozen_worker_whose_expired_lock_nobody_took_renews_it_and_runs_the_job_once(
        backend: PostgresBackend, settings: Settings, conn: Conn, lease_types: None) -> None:
    sent, send_id, report = run_frozen_worker(backend, settings, conn, lambda send_id: None)
    assert sent == [send_id]
    assert (report.completed, report.lease_lost) == (3, 0)
    row = job_row(conn, send_id)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("completed", 1)


class RenewalFails(PostgresBackend):
    """The real backend, except that the first heartbeat fails as when the database is out
    of reach (later ones work, so a slow machine cannot make the re-claim fail too)."""

    failed = False

    def job_progress(self, job_id: UUID, progress: int, message: str | None, worker_id: str) -> bool:
        if not self.failed:
            self.failed = True
            raise DatabaseUnavailable("server closed the connection unexpectedly")
        return super().job_progress(job_id, progress, message, worker_id)


def test_a_job_whose_lease_cannot_be_confirmed_is_given_back_not_started(
        db_url: str, settings: Settings, add_type: AddType, conn: Conn) -> None:
    """Faked: the failing heartbeat (RenewalFails). The second job waits behind a slow first
    one for more than a quarter of its 2 s lock, so it must confirm its lease first."""
    add_type("t_wait", timeout_seconds=2)
    ran: list[int] = []

    def handle(payload: Any, ctx: JobContext) -> Any:
        ran.append(payload.n)
        time.sleep(0.7)
        return {}

    backend = RenewalFails(db_url)
    _, second = enqueue(backend, "t_wait", {"n": 0}, {"n": 1})
    report = run_invocation(backend, settings, InvocationOptions(batch_size=2, concurrency=1),
                            registry={"t_wait": processor("t_wait", handle, Counted)})
    # Given back unstarted, then claimed again on a fresh lease and run once.
    assert ran == [0, 1]
    assert (report.claimed, report.completed, report.released) == (3, 2, 1)
    rows = conn.execute("select from_status, to_status, note from job_status_history where job_id = %s "
                        "order by id nulls last, at", (second,)).fetchall()
    assert [(r["from_status"], r["to_status"]) for r in rows] == [
        (None, "pending"), ("pending", "running"), ("running", "pending"), ("pending", "running"),
        ("running", "completed")]
    assert rows[2]["note"] == ("not started: could not confirm its lease: "
                               "server closed the connection unexpectedly")
    row = job_row(conn, second)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("completed", 1)
    backend.close()
