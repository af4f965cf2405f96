"""The time budget and per-job timeouts.

Real: PostgreSQL, PostgresBackend, the worker loop and its threads, real sleeps (short).
Test-only job types and processors; nothing faked. Durations are asserted only as the
contract's upper bounds (budget + one timeout), never as speed.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from shared.config import Settings
from shared.processors.base import JobContext
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker.conftest import AddType, Conn, enqueue, history, job_row
from tests.worker.procs import ok, processor


def sleeper(seconds: float) -> Any:
    def handle(payload: Any, ctx: JobContext) -> Any:
        time.sleep(seconds)
        return {}
    return handle


def test_a_short_budget_stops_claiming_in_time_and_returns_within_budget_plus_one_timeout(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("slow", timeout_seconds=1)
    enqueue(backend, "slow", *[{} for _ in range(40)])
    options = InvocationOptions(batch_size=2, concurrency=2, time_budget_seconds=1.5)
    started = time.monotonic()
    report = run_invocation(backend, settings, options, registry={"slow": processor("slow", sleeper(0.25))})
    elapsed = time.monotonic() - started
    assert elapsed <= 1.5 + 1
    assert 0 < report.completed < 40
    last_claim = conn.execute("select max(at) - min(at) as span from job_status_history "
                              "where to_status = 'running'").fetchone()
    assert last_claim is not None
    assert last_claim["span"].total_seconds() <= 0.5 + 0.1
    pending = conn.execute("select count(*) as n from job_queue where status = 'pending'").fetchone()
    assert pending == {"n": 40 - report.completed}
    assert report.claimed == report.completed + report.released


def test_types_whose_timeout_does_not_fit_the_budget_are_not_claimed(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("short_one", timeout_seconds=2)
    add_type("long_one", timeout_seconds=300)
    (long_id,) = enqueue(backend, "long_one", {}, priority="critical")
    (short_id,) = enqueue(backend, "short_one", {})
    registry = {"short_one": processor("short_one", ok), "long_one": processor("long_one", ok)}
    report = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=10), registry=registry)
    assert [j.id for j in report.jobs] == [short_id]
    long_row = job_row(conn, long_id)
    assert long_row is not None
    assert long_row["status"] == "pending"
    assert long_row["attempts"] == 0


def test_nothing_is_claimed_when_no_type_fits_the_budget(
        backend: PostgresBackend, settings: Settings, add_type: AddType) -> None:
    add_type("long_only", timeout_seconds=60)
    enqueue(backend, "long_only", {})
    report = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=5),
                            registry={"long_only": processor("long_only", ok)})
    assert report.claimed == 0


def test_a_job_that_overruns_its_timeout_fails_retryably_and_its_late_finish_is_ignored(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("overrun", timeout_seconds=1, backoff_base_seconds=60, backoff_cap_seconds=60)
    add_type("after", timeout_seconds=2)
    released = threading.Event()
    finished_late: list[bool] = []

    def stuck(payload: Any, ctx: JobContext) -> Any:
        released.wait(10)
        finished_late.append(True)
        return {"late": True}

    def second(payload: Any, ctx: JobContext) -> Any:
        released.set()  # the stuck thread now returns while this round is being collected
        time.sleep(0.3)
        return {}

    (stuck_id,) = enqueue(backend, "overrun", {})
    registry = {"overrun": processor("overrun", stuck), "after": processor("after", second)}
    options = InvocationOptions(types=["overrun"], time_budget_seconds=10)
    first = run_invocation(backend, settings, options, registry=registry)
    (after_id,) = enqueue(backend, "after", {})
    then = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=10), registry=registry)
    assert [(j.outcome, j.error) for j in first.jobs] == [("retried", "timed out after 1 s")]
    row = job_row(conn, stuck_id)
    assert row is not None
    assert row["status"] == "pending"
    assert row["last_error"] == "timed out after 1 s"
    assert [j.id for j in then.jobs] == [after_id]
    deadline = time.monotonic() + 5
    while not finished_late and time.monotonic() < deadline:
        time.sleep(0.02)
    assert finished_late == [True]
    assert ("running", "completed") not in history(conn, stuck_id)


def test_a_late_result_arriving_in_a_later_round_is_dropped(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("late", timeout_seconds=1, backoff_base_seconds=60, backoff_cap_seconds=60)
    add_type("next", timeout_seconds=2)
    go = threading.Event()

    def stuck(payload: Any, ctx: JobContext) -> Any:
        go.wait(10)
        return {"late": True}

    def next_round(payload: Any, ctx: JobContext) -> Any:
        go.set()
        time.sleep(0.3)  # the stuck job's late result arrives meanwhile
        return {}

    (stuck_id,) = enqueue(backend, "late", {}, priority="critical")
    # Ready only after the first round (1 s timeout) is over.
    (next_id,) = enqueue(backend, "next", {}, run_at=_in_seconds(conn, 0.5))
    registry = {"late": processor("late", stuck), "next": processor("next", next_round)}
    report = run_invocation(backend, settings, InvocationOptions(batch_size=1, time_budget_seconds=10),
                            registry=registry)
    assert [(j.id, j.outcome) for j in report.jobs][:1] == [(stuck_id, "retried")]
    assert (next_id, "completed") in [(j.id, j.outcome) for j in report.jobs]
    assert report.claimed == len(report.jobs) == 2
    assert ("running", "completed") not in history(conn, stuck_id)


def _in_seconds(conn: Conn, seconds: float) -> Any:
    row = conn.execute("select clock_timestamp() + make_interval(secs => %s) as at", (seconds,)).fetchone()
    assert row is not None
    return row["at"]
