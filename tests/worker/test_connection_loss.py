"""An invocation whose database connection dies mid-statement fails, and gives back the
jobs it had claimed and not started, through a fresh connection.

Real: PostgreSQL, PostgresBackend, the worker loop and its threads. In the first test the
connection is lost for real (pg_terminate_backend on the backend running a prefetch claim
and on every idle connection of the worker's pool, as in the fault-injection runs);
PrefetchDiesMidStatement only orders the two prefetch claims so the kill hits the one the
worker waits for first. Faked: in the second test, the loss of a claim's answer after the
claim committed (SecondClaimAnswerLost raises it; the claim itself is real).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence

import psycopg
import pytest

from shared.config import Settings
from shared.queue.errors import DatabaseUnavailable
from shared.queue.models import Job
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker.conftest import AddType, Conn, enqueue
from tests.worker.procs import Counted, ok, processor


def kill_when_waiting(url: str, spared: Sequence[int]) -> None:
    """Once a claim waits on a lock, terminate it and every other backend of this database
    (the worker's idle connections too) except `spared`, waiting until they are gone."""
    with psycopg.connect(url, autocommit=True) as killer:
        for _ in range(400):
            row = killer.execute("select pid from pg_stat_activity where wait_event_type = 'Lock' and "
                                 "datname = current_database() and query like '%get_next_job%'").fetchone()
            if row:
                break
            time.sleep(0.025)
        else:
            raise AssertionError("the claim never waited on the lock")
        killer.execute("select pg_terminate_backend(pid, 5000) from pg_stat_activity "
                       "where datname = current_database() and backend_type = 'client backend' "
                       "and pid <> pg_backend_pid() and pid <> all(%s)", (list(spared),))


class PrefetchDiesMidStatement(PostgresBackend):
    """Of a round's two prefetch claims (4 jobs, then 3, under max_jobs), the later one runs
    and lands first; then the older one, which the worker takes first, is sent while the
    test holds its type's row (claims of a limited type lock it) and dies waiting."""

    def __init__(self, url: str, spared: int) -> None:
        super().__init__(url)
        self.url, self.spared = url, spared
        self.later_landed = threading.Event()

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        if threading.current_thread() is threading.main_thread():
            return super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                      with_traceparent=with_traceparent)
        if batch_size == 3:
            try:
                return super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                          with_traceparent=with_traceparent)
            finally:
                self.later_landed.set()
        assert self.later_landed.wait(30)
        with psycopg.connect(self.url) as holder:
            holder.execute("select 1 from job_types where name = 't_die' for update")
            spared = [self.spared, holder.info.backend_pid]
            killer = threading.Thread(target=kill_when_waiting, args=(self.url, spared))
            killer.start()
            try:
                return super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                          with_traceparent=with_traceparent)
            finally:
                killer.join()


def test_an_invocation_that_loses_its_connection_gives_back_its_unstarted_jobs_at_once(
        db_url: str, settings: Settings, add_type: AddType, conn: Conn,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # every round after the first
    monkeypatch.setattr("shared.worker.invocation.PREFETCH_BELOW_SECONDS", math.inf)
    add_type("t_die", concurrency_limit=100)
    backend = PrefetchDiesMidStatement(db_url, spared=conn.info.backend_pid)
    ids = enqueue(backend, "t_die", *[{"n": n} for n in range(12)])
    registry = {"t_die": processor("t_die", ok, Counted)}
    options = InvocationOptions(batch_size=4, concurrency=1, max_jobs=15)
    with pytest.raises(DatabaseUnavailable):
        run_invocation(backend, settings, options, registry=registry)
    rows = conn.execute("select payload->>'n' as n, status, attempts, run_at <= now() as ready "
                        "from job_queue where id = any(%s) order by seq", (ids,)).fetchall()
    assert [r["status"] for r in rows] == ["completed"] * 8 + ["pending"] * 4
    assert all(r["attempts"] == 0 and r["ready"] for r in rows[8:])  # claimable at once, attempts not counted
    notes = conn.execute("select note from job_status_history where job_id = any(%s) "
                         "and from_status = 'running' and to_status = 'pending'", (ids[8:],)).fetchall()
    assert notes == [{"note": "not started: the invocation ended"}] * 3  # 8-10 were held; 11 never claimed
    again = run_invocation(PostgresBackend(db_url), settings, InvocationOptions(), registry=registry)
    assert again.completed == 4
    backend.close()


class SecondClaimAnswerLost(PostgresBackend):
    """The real backend, except that the second claim's answer is lost: the claim runs and
    commits, then the caller gets DatabaseUnavailable as when the connection breaks before
    the rows arrive (the one fault here that is raised, not caused)."""

    claims = 0

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        jobs = super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                  with_traceparent=with_traceparent)
        self.claims += 1
        if self.claims == 2:
            raise DatabaseUnavailable("server closed the connection unexpectedly")
        return jobs


def test_jobs_of_a_claim_whose_answer_was_lost_are_given_back_when_the_invocation_fails(
        db_url: str, settings: Settings, add_type: AddType, conn: Conn,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # every claim on the main thread
    monkeypatch.setattr("shared.worker.invocation.PREFETCH_BELOW_SECONDS", 0.0)
    add_type("t_lost")
    backend = SecondClaimAnswerLost(db_url)
    ids = enqueue(backend, "t_lost", *[{"n": n} for n in range(6)])
    registry = {"t_lost": processor("t_lost", ok, Counted)}
    with pytest.raises(DatabaseUnavailable):
        run_invocation(backend, settings, InvocationOptions(batch_size=3, concurrency=1), registry=registry)
    rows = conn.execute("select status, attempts, run_at <= now() as ready from job_queue "
                        "where id = any(%s) order by seq", (ids,)).fetchall()
    assert [(r["status"], r["attempts"], r["ready"]) for r in rows] == \
        [("completed", 1, True)] * 3 + [("pending", 0, True)] * 3
    notes = conn.execute("select note from job_status_history where job_id = any(%s) "
                         "and from_status = 'running' and to_status = 'pending'", (ids[3:],)).fetchall()
    assert notes == [{"note": "not started: the invocation failed"}] * 3
    backend.close()


def test_after_the_pools_idle_backends_are_killed_the_next_invocation_succeeds(
        db_url: str, settings: Settings, add_type: AddType, conn: Conn) -> None:
    """Real: the kills (pg_terminate_backend, waiting until each backend is gone)."""
    add_type("t_idle")
    backend = PostgresBackend(db_url, max_size=4)
    registry = {"t_idle": processor("t_idle", ok, Counted)}
    enqueue(backend, "t_idle", *[{"n": n} for n in range(20)])
    options = InvocationOptions(batch_size=5, concurrency=4)
    assert run_invocation(backend, settings, options, registry=registry).completed == 20  # warm pool
    killed = conn.execute("select count(pg_terminate_backend(pid, 5000)) as n from pg_stat_activity "
                          "where datname = current_database() and pid <> pg_backend_pid() "
                          "and backend_type = 'client backend'").fetchone()
    assert killed is not None
    assert killed["n"] >= 1
    conn.execute("""select enqueue_job('t_idle', '{"n": 1}')""")  # not through the pool under test
    assert run_invocation(backend, settings, options, registry=registry).completed == 1
    backend.close()
