"""An invocation as a whole: its record in worker_runs, counts, logs, options, concurrency.

Real: PostgreSQL, PostgresBackend, the worker loop and its threads; nothing faked.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from shared.config import Settings
from shared.logs import LOGGER_NAME
from shared.processors.base import JobContext, RetryableError
from shared.queue.errors import InvalidInput
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, new_worker_id, run_invocation
from tests.worker.conftest import AddType, Conn, enqueue, job_row
from tests.worker.procs import Anything, Counted, ok, processor

BUDGET = 60.0


def test_the_invocation_is_recorded_in_worker_runs_with_its_counts(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_a")
    add_type("t_b", max_attempts=3)

    def flaky(payload: Any, ctx: JobContext) -> Any:
        raise RetryableError("flaky")

    enqueue(backend, "t_a", {}, {}, {})
    enqueue(backend, "t_b", {})
    registry = {"t_a": processor("t_a", ok), "t_b": processor("t_b", flaky)}
    options = InvocationOptions(time_budget_seconds=BUDGET)
    report = run_invocation(backend, settings, options, registry=registry)
    row = conn.execute("select * from worker_runs where worker_id = %s", (report.worker_id,)).fetchone()
    assert row is not None
    assert row["finished_at"] is not None
    assert (row["claimed"], row["completed"], row["retried"], row["dead_lettered"]) == (4, 3, 1, 0)
    assert row["meta"]["batch_size"] is None  # adaptive
    assert report.by_type == {"t_a": {"completed": 3}, "t_b": {"retried": 1}}
    as_json = json.loads(json.dumps(report.to_dict()))
    assert as_json["claimed"] == 4
    assert len(as_json["jobs"]) == 4
    assert as_json["by_type"]["t_b"] == {"retried": 1}


def test_an_empty_queue_still_records_the_run(backend: PostgresBackend, settings: Settings,
                                              conn: Conn) -> None:
    report = run_invocation(backend, settings, InvocationOptions())
    row = conn.execute("select claimed, finished_at from worker_runs where worker_id = %s",
                       (report.worker_id,)).fetchone()
    assert row is not None
    assert row["claimed"] == 0
    assert row["finished_at"] is not None


def test_by_default_completions_are_counted_and_only_the_rest_get_a_line(
        backend: PostgresBackend, settings: Settings, add_type: AddType,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_type("t_quiet", max_attempts=2)

    def flaky(payload: Any, ctx: JobContext) -> Any:
        if payload.n == 1:
            raise RetryableError("flaky")
        return None

    ids = enqueue(backend, "t_quiet", {"n": 0}, {"n": 1}, {"n": 0})
    run_invocation(backend, settings, InvocationOptions(time_budget_seconds=BUDGET),
                   registry={"t_quiet": processor("t_quiet", flaky, Counted)})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["message"], line["job_id"]) for line in lines if "job_id" in line] == [
        ("job retried", str(ids[1]))]
    (end,) = [line for line in lines if line["message"] == "invocation finished"]
    assert (end["claimed"], end["completed"], end["retried"]) == (3, 2, 1)


def test_with_job_logs_all_one_line_per_job_and_per_invocation_without_the_payload(
        backend: PostgresBackend, settings: Settings, add_type: AddType,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_type("t_log")
    settings = settings.model_copy(update={"queue_worker_job_logs": "all"})
    ids = enqueue(backend, "t_log", {"secret_token": "hunter2"}, {"secret_token": "hunter2"})
    report = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=BUDGET),
                            registry={"t_log": processor("t_log", ok, Anything)})
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines()]
    jobs = [line for line in lines if "job_id" in line]
    assert sorted(line["job_id"] for line in jobs) == sorted(str(i) for i in ids)
    for line in jobs:
        assert {"severity", "message", "time", "type", "attempt", "outcome", "duration_ms",
                "worker_id"} <= set(line)
        assert (line["severity"], line["outcome"]) == ("INFO", "completed")
        assert line["worker_id"] == report.worker_id
    (end,) = [line for line in lines if line["message"] == "invocation finished"]
    assert end["claimed"] == 2
    assert end["completed"] == 2
    assert end["by_type"] == {"t_log": {"completed": 2}}
    assert "hunter2" not in err


def test_a_fresh_process_logs_completed_jobs_at_info(
        backend: PostgresBackend, settings: Settings, add_type: AddType,
        capsys: pytest.CaptureFixture[str]) -> None:
    settings = settings.model_copy(update={"queue_worker_job_logs": "all"})
    logger = logging.getLogger(LOGGER_NAME)
    handlers, level = logger.handlers[:], logger.level
    logger.handlers.clear()  # as in a process that has not logged anything yet
    logger.setLevel(logging.NOTSET)
    try:
        add_type("t_fresh")
        (job_id,) = enqueue(backend, "t_fresh", {})
        run_invocation(backend, settings, InvocationOptions(time_budget_seconds=BUDGET),
                       registry={"t_fresh": processor("t_fresh", ok)})
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [line["message"] for line in lines if line.get("job_id") == str(job_id)] == ["job completed"]


def test_only_the_requested_types_are_claimed(backend: PostgresBackend, settings: Settings,
                                              add_type: AddType, conn: Conn) -> None:
    add_type("t_x")
    add_type("t_y")
    (x,) = enqueue(backend, "t_x", {})
    (y,) = enqueue(backend, "t_y", {})
    registry = {"t_x": processor("t_x", ok), "t_y": processor("t_y", ok)}
    report = run_invocation(backend, settings, InvocationOptions(types=["t_y"], time_budget_seconds=BUDGET),
                            registry=registry)
    assert [j.id for j in report.jobs] == [y]
    row = job_row(conn, x)
    assert row is not None
    assert row["status"] == "pending"


def test_types_without_a_processor_in_this_worker_are_left_alone(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_mine")
    add_type("t_theirs")
    (theirs,) = enqueue(backend, "t_theirs", {}, priority="critical")
    report = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=BUDGET),
                            registry={"t_mine": processor("t_mine", ok)})
    row = job_row(conn, theirs)
    assert report.claimed == 0
    assert row is not None
    assert row["attempts"] == 0


def test_asking_for_a_type_without_a_processor_is_refused(backend: PostgresBackend,
                                                          settings: Settings) -> None:
    with pytest.raises(InvalidInput, match=r"no processor for job type\(s\) nope") as caught:
        run_invocation(backend, settings, InvocationOptions(types=["nope"]))
    assert "noop" in (caught.value.hint or "")


def test_max_jobs_caps_the_claims(backend: PostgresBackend, settings: Settings, add_type: AddType) -> None:
    add_type("t_cap")
    enqueue(backend, "t_cap", *[{} for _ in range(7)])
    options = InvocationOptions(batch_size=3, max_jobs=5, time_budget_seconds=BUDGET)
    report = run_invocation(backend, settings, options, registry={"t_cap": processor("t_cap", ok)})
    assert report.claimed == report.completed == 5


def test_jobs_of_a_round_run_concurrently(backend: PostgresBackend, settings: Settings,
                                          add_type: AddType) -> None:
    add_type("t_par")
    barrier = threading.Barrier(4, timeout=10)

    def meet(payload: Any, ctx: JobContext) -> Any:
        barrier.wait()  # breaks (BrokenBarrierError -> retried) unless all four run at once
        return {}

    enqueue(backend, "t_par", *[{} for _ in range(4)])
    report = run_invocation(backend, settings, InvocationOptions(batch_size=4, concurrency=4,
                                                                 time_budget_seconds=BUDGET),
                            registry={"t_par": processor("t_par", meet)})
    assert report.completed == 4


@pytest.mark.parametrize(("field", "value", "message"), [
    ("batch_size", 0, "batch_size must be between 1 and 1000"),
    ("batch_size", 1001, "batch_size must be between 1 and 1000"),
    ("time_budget_seconds", 0, "time_budget_seconds must be positive"),
    ("max_jobs", 0, "max_jobs must be at least 1"),
    ("concurrency", 0, "concurrency must be at least 1"),
    ("types", [], "types is an empty list"),
])
def test_bad_options_are_refused(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        InvocationOptions(**{field: value})


def test_worker_ids_are_unique_and_name_the_host_and_process() -> None:
    ids = {new_worker_id() for _ in range(100)}
    assert len(ids) == 100
    host, pid, short = next(iter(ids)).rsplit(":", 2)
    assert host
    assert pid.isdigit()
    assert len(short) == 8


class CountingBackend(PostgresBackend):
    """PostgresBackend that counts the settle calls that carry jobs (the database is real)."""

    def __init__(self, url: str) -> None:
        super().__init__(url, max_size=4)
        self.calls: list[tuple[str, int]] = []

    def jobs_complete(self, worker_id: str, completions: Any) -> Any:
        if completions:
            self.calls.append(("complete", len(completions)))
        return super().jobs_complete(worker_id, completions)

    def jobs_fail(self, worker_id: str, failures: Any) -> Any:
        if failures:
            self.calls.append(("fail", len(failures)))
        return super().jobs_fail(worker_id, failures)


def test_each_round_settles_with_one_call_per_kind_not_one_per_job(
        db_url: str, settings: Settings, add_type: AddType) -> None:
    add_type("t_batch", max_attempts=1)

    def half_fail(payload: Any, ctx: JobContext) -> Any:
        if payload.n % 2:
            raise RetryableError("odd")
        return {}

    counting = CountingBackend(db_url)
    try:
        enqueue(counting, "t_batch", *[{"n": n} for n in range(20)])
        options = InvocationOptions(batch_size=10, time_budget_seconds=BUDGET)
        report = run_invocation(counting, settings, options,
                                registry={"t_batch": processor("t_batch", half_fail, Counted)})
    finally:
        counting.close()
    assert (report.completed, report.dead_lettered) == (10, 10)
    assert sorted(counting.calls) == [("complete", 5), ("complete", 5), ("fail", 5), ("fail", 5)]
