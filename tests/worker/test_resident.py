"""The resident worker (shared/worker/resident.py): woken by NOTIFY, polling as a backstop.

Real: PostgreSQL, PostgresBackend, LISTEN/NOTIFY on a real connection, the worker loop
in a thread. The enqueue-side NOTIFY is sent by the test (`kick`), as the enqueue trigger
does; a duplicate of the trigger's own is harmless. The pooler is simulated by its URL
(port 6543) or by listening on nothing: no pooler runs here.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
from psycopg.conninfo import make_conninfo

from shared.config import Settings
from shared.processors.base import JobContext
from shared.queue.errors import DatabaseUnavailable, InvalidInput
from shared.queue.notifications import APPLICATION_NAME, CHANNEL, JobNotifications, listen_blocker
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions
from shared.worker.resident import ResidentOptions, ResidentWorker
from tests.worker.conftest import AddType, Conn, enqueue, job_row
from tests.worker.procs import processor

NOT_WOKEN_SECONDS = 0.5  # how long a test gives a wrong wake-up to show itself
DONE_SECONDS = 5.0  # far below the 30 s poll of the NOTIFY tests, far above a wake-up


def kick(conn: Conn, *types: str) -> None:
    """What the enqueue trigger sends when ready jobs arrive."""
    conn.execute("select pg_notify(%s, %s)", (CHANNEL, json.dumps({"types": list(types)})))


class Recorder:
    """A processor that records the jobs it ran and sets `done` after `expect` of them."""

    def __init__(self, expect: int = 1) -> None:
        self.ran: list[str] = []
        self.expect = expect
        self.done = threading.Event()

    def handle(self, payload: Any, ctx: JobContext) -> dict[str, Any]:
        self.ran.append(ctx.job_type)
        if len(self.ran) >= self.expect:
            self.done.set()
        return {}


@contextmanager
def resident(backend: PostgresBackend, settings: Settings, registry: dict[str, Any], *,
             listen_url: str | None, poll: float,
             types: Sequence[str] | None = None) -> Iterator[ResidentWorker]:
    """A resident worker running in a thread, idle (waiting) when the block starts."""
    invocation = InvocationOptions(types=list(types) if types else None, time_budget_seconds=60)
    options = ResidentOptions(invocation, poll_interval=poll, listen_url=listen_url,
                              poll_reason="the test listens to nothing")
    worker = ResidentWorker(backend, settings, options, registry=registry)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        assert worker.waiting.wait(DONE_SECONDS), "the resident worker never went idle"
        yield worker
    finally:
        worker.stop.set()
        thread.join(DONE_SECONDS)
        assert not thread.is_alive(), "the resident worker did not stop"


def test_a_job_enqueued_while_idle_is_run_on_its_notify_long_before_the_poll(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, db_url: str) -> None:
    add_type("t_wake")
    recorder = Recorder()
    with resident(backend, settings, {"t_wake": processor("t_wake", recorder.handle)},
                  listen_url=db_url, poll=30) as worker:
        (job_id,) = enqueue(backend, "t_wake", {})
        kick(conn, "t_wake")
        assert recorder.done.wait(DONE_SECONDS)
    assert worker.totals.wakes["notify"] >= 1
    assert worker.totals.wakes["poll"] == 1  # only the final wait, cut short by the stop
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "completed"


def test_notifications_sent_while_it_works_are_not_lost(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, db_url: str) -> None:
    """A job enqueued while the worker runs another is picked up by the next wait's wake."""
    add_type("t_busy")
    second_enqueued = threading.Event()
    recorder = Recorder(expect=2)

    def handle(payload: Any, ctx: JobContext) -> dict[str, Any]:
        if not second_enqueued.is_set():  # the first job enqueues the second, and kicks
            enqueue(backend, "t_busy", {})
            kick(conn, "t_busy")
            second_enqueued.set()
        return recorder.handle(payload, ctx)

    with resident(backend, settings, {"t_busy": processor("t_busy", handle)}, listen_url=db_url, poll=30):
        enqueue(backend, "t_busy", {})
        kick(conn, "t_busy")
        assert recorder.done.wait(DONE_SECONDS)
    completed = conn.execute("select count(*) as n from job_queue where status = 'completed'").fetchone()
    assert completed == {"n": 2}


def test_without_listen_it_still_picks_jobs_up_by_polling(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_poll")
    recorder = Recorder()
    with resident(backend, settings, {"t_poll": processor("t_poll", recorder.handle)},
                  listen_url=None, poll=0.2) as worker:
        enqueue(backend, "t_poll", {})  # no NOTIFY at all
        assert recorder.done.wait(DONE_SECONDS)
    assert worker.totals.wakes["notify"] == 0
    assert worker.totals.completed == 1


def test_behind_a_transaction_pooler_port_it_polls_and_says_why(
        backend: PostgresBackend, settings: Settings, add_type: AddType, db_url: str,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_type("t_pooler")
    recorder = Recorder()
    pooler_url = make_conninfo(db_url, port=6543)  # never connected to: the URL alone decides
    with resident(backend, settings, {"t_pooler": processor("t_pooler", recorder.handle)},
                  listen_url=pooler_url, poll=0.2) as worker:
        enqueue(backend, "t_pooler", {})
        assert recorder.done.wait(DONE_SECONDS)
    assert worker.totals.wakes["notify"] == 0
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    polling = [line for line in lines if line["message"].startswith("resident worker polling every 0.2 s")]
    assert len(polling) == 1
    assert "port 6543" in polling[0]["message"]


def test_notifications_for_other_types_do_not_wake_it(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, db_url: str) -> None:
    add_type("t_mine")
    add_type("t_other")
    recorder = Recorder()
    registry = {name: processor(name, recorder.handle) for name in ("t_mine", "t_other")}
    with resident(backend, settings, registry, listen_url=db_url, poll=30, types=["t_mine"]) as worker:
        (other,) = enqueue(backend, "t_other", {})
        kick(conn, "t_other")
        assert not recorder.done.wait(NOT_WOKEN_SECONDS)
        assert worker.totals.invocations == 1  # only the one at start
        (mine,) = enqueue(backend, "t_mine", {})
        kick(conn, "t_other", "t_mine")
        assert recorder.done.wait(DONE_SECONDS)
    assert recorder.ran == ["t_mine"]
    assert [r["status"] for r in (job_row(conn, mine), job_row(conn, other)) if r] == ["completed", "pending"]


def test_it_recovers_stuck_jobs_at_start_as_a_scheduler_tick_would(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    """A job left running by a vanished worker goes back to pending and this worker runs it."""
    add_type("t_stuck")
    (job_id,) = enqueue(backend, "t_stuck", {})
    backend.jobs_claim("gone:1:deadbeef", ["t_stuck"], 1)
    conn.execute("update job_queue set locked_until = now() - interval '1 second' where id = %s", (job_id,))
    recorder = Recorder()
    registry = {"t_stuck": processor("t_stuck", recorder.handle)}
    with resident(backend, settings, registry, listen_url=None, poll=30):
        assert recorder.done.wait(DONE_SECONDS)
    row = job_row(conn, job_id)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("completed", 2)


def listener_pids(conn: Conn) -> list[int]:
    rows = conn.execute("select pid from pg_stat_activity where application_name = %s "
                        "and datname = current_database()", (APPLICATION_NAME,)).fetchall()
    return [row["pid"] for row in rows]


def test_a_lost_listen_connection_is_reopened_and_wakes_it_again(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, db_url: str) -> None:
    add_type("t_lost")
    recorder = Recorder()
    with resident(backend, settings, {"t_lost": processor("t_lost", recorder.handle)},
                  listen_url=db_url, poll=30) as worker:
        (first,) = listener_pids(conn)
        conn.execute("select pg_terminate_backend(%s)", (first,))
        for _ in range(100):
            if (pids := listener_pids(conn)) and pids != [first]:
                break
            threading.Event().wait(0.05)
        assert len(pids) == 1, "no new listener"
        assert pids != [first]
        assert worker.waiting.wait(DONE_SECONDS)
        enqueue(backend, "t_lost", {})
        kick(conn, "t_lost")
        assert recorder.done.wait(DONE_SECONDS)
    assert worker.totals.wakes["notify"] >= 1


@pytest.mark.parametrize(("url", "blocked"), [
    ("postgresql://postgres:pw@aws-0-eu-west-1.pooler.supabase.com:6543/postgres", "port 6543"),
    ("postgresql://u@pgbouncer.internal:5432/app", "pgbouncer"),
    ("postgresql://u@db.example.supabase.co:5432/postgres", None),
    ("postgresql://u@aws-0-eu-west-1.pooler.supabase.com:5432/postgres", None),  # session mode
    ("host=localhost port=6543 dbname=app", "port 6543"),
])
def test_listen_blocker_names_the_transaction_poolers_a_url_shows(url: str, blocked: str | None) -> None:
    reason = listen_blocker(url)
    assert (reason is None) if blocked is None else (reason is not None and blocked in reason)


@pytest.mark.parametrize(("payload", "wanted"), [
    ({"types": ["t_a"]}, True), ({"types": ["t_b"]}, False), ({"types": ["t_b", "t_a"]}, True),
    ({}, True), ({"types": "t_a"}, True), ({"self_test": "x"}, False),
])
def test_which_notifications_wake_a_worker_of_one_type(db_url: str, payload: dict[str, Any],
                                                       wanted: bool) -> None:
    """A payload without a usable list of types may concern any type: it wakes (a spare claim)."""
    notifications = JobNotifications(db_url, ["t_a"])
    try:
        assert notifications.wanted(payload) is wanted
    finally:
        notifications.close()


def test_the_self_test_sees_its_own_notify_on_a_direct_connection(db_url: str) -> None:
    notifications = JobNotifications(db_url)
    try:
        assert notifications.self_test()
        assert not notifications.wait(0.05)  # the self-test's NOTIFY is not work
    finally:
        notifications.close()


def test_bad_resident_options_are_refused(settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="poll_interval must be positive, got -1"):
        ResidentOptions(InvocationOptions(), poll_interval=-1)
    with pytest.raises(InvalidInput, match="maintain_every must be positive, got 0"):
        ResidentOptions(InvocationOptions(), maintain_every=0)


def test_listening_on_a_database_that_is_down_says_why(db_url: str) -> None:
    with pytest.raises(DatabaseUnavailable, match="cannot LISTEN on queue_worker_jobs"):
        JobNotifications(make_conninfo(db_url, port=1, connect_timeout=2))


def wait_for(condition: Any, what: str) -> None:
    for _ in range(int(DONE_SECONDS / 0.02)):
        if condition():
            return
        threading.Event().wait(0.02)
    raise AssertionError(f"never happened: {what}")


def test_each_invocation_is_recorded_in_worker_runs_with_its_counts(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, db_url: str) -> None:
    """Its invocations record their start in the background: the record is still complete."""
    add_type("t_runs")
    recorder = Recorder()
    with resident(backend, settings, {"t_runs": processor("t_runs", recorder.handle)},
                  listen_url=db_url, poll=30) as worker:
        enqueue(backend, "t_runs", {})
        kick(conn, "t_runs")
        assert recorder.done.wait(DONE_SECONDS)
        wait_for(lambda: worker.totals.completed == 1, "the invocation ended")
    runs = conn.execute("select claimed, completed, finished_at is not null as finished from worker_runs "
                        "order by started_at").fetchall()
    assert len(runs) == worker.totals.invocations
    assert all(run["finished"] for run in runs)
    assert sum(run["completed"] for run in runs) == 1


def test_a_type_disabled_while_it_idles_is_not_claimed_on_the_next_wake(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, db_url: str) -> None:
    """The copy of job_types the idle worker keeps is re-read while it waits."""
    add_type("t_off")
    recorder = Recorder()
    with resident(backend, settings, {"t_off": processor("t_off", recorder.handle)},
                  listen_url=db_url, poll=30) as worker:
        copy = worker._invocation_backend  # what the next invocation will read
        conn.execute("update job_types set enabled = false where name = 't_off'")
        # A fresh copy is returned as is (not re-read by this call): the idle worker read it.
        wait_for(lambda: copy.job_types_age() < 1.0 and not copy.job_types()["t_off"].enabled,
                 "the idle worker saw the change")
        invocations = worker.totals.invocations
        (job_id,) = enqueue(backend, "t_off", {})
        kick(conn, "t_off")
        wait_for(lambda: worker.totals.invocations > invocations, "the kick woke it")
    assert recorder.ran == []
    row = job_row(conn, job_id)
    assert row is not None
    assert (row["status"], row["attempts"]) == ("pending", 0)
