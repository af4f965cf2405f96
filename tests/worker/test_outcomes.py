"""How each processor outcome and error class is settled.

Real: PostgreSQL (a fresh migrated database per test), PostgresBackend, the worker loop,
its thread pool. Test-only job types and processors (tests/worker/procs.py); nothing faked.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from shared.config import Settings
from shared.processors import noop
from shared.processors.base import (
    CheckpointAndContinue,
    JobContext,
    PermanentError,
    RateLimitedError,
    RetryableError,
)
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker.conftest import AddType, Conn, enqueue, history, job_row
from tests.worker.procs import Counted, ok, processor

ONE_ROUND = InvocationOptions(batch_size=10, time_budget_seconds=60)


def run(backend: PostgresBackend, settings: Settings, *modules: Any) -> Any:
    registry = {m.JOB_TYPE: m for m in modules}
    return run_invocation(backend, settings, ONE_ROUND, registry=registry)


def raiser(exc: Exception) -> Any:
    def handle(payload: Any, ctx: JobContext) -> Any:
        raise exc
    return handle


def test_a_finished_job_is_completed_with_its_result(backend: PostgresBackend, settings: Settings,
                                                     add_type: AddType, conn: Conn) -> None:
    add_type("t_ok")
    (job_id,) = enqueue(backend, "t_ok", {})
    report = run(backend, settings, processor("t_ok", ok))
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "completed"
    assert row["result"] == {"ok": True, "attempt": 1}
    assert (report.claimed, report.completed) == (1, 1)
    assert [(j.id, j.outcome, j.attempt) for j in report.jobs] == [(job_id, "completed", 1)]


def test_a_permanent_error_dead_letters_the_job_at_once(backend: PostgresBackend, settings: Settings,
                                                        add_type: AddType, conn: Conn) -> None:
    add_type("t_perm", max_attempts=5)
    (job_id,) = enqueue(backend, "t_perm", {})
    report = run(backend, settings, processor("t_perm", raiser(PermanentError("card declined"))))
    assert job_row(conn, job_id) is None
    letter = conn.execute("select * from job_dead_letter where job_id = %s", (job_id,)).fetchone()
    assert letter is not None
    assert letter["last_error"] == "card declined"
    assert letter["attempts"] == 1
    assert report.dead_lettered == 1
    assert report.jobs[0].error == "card declined"


def test_a_retryable_error_schedules_a_retry_with_backoff(backend: PostgresBackend, settings: Settings,
                                                          add_type: AddType, conn: Conn) -> None:
    add_type("t_retry", max_attempts=3, backoff_base_seconds=100, backoff_cap_seconds=100)
    (job_id,) = enqueue(backend, "t_retry", {})
    report = run(backend, settings, processor("t_retry", raiser(RetryableError("provider 503"))))
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "pending"
    assert row["attempts"] == 1
    assert row["last_error"] == "provider 503"
    later = conn.execute("select %s > now() + interval '10 seconds' as later", (row["run_at"],)).fetchone()
    assert later == {"later": True}
    assert report.retried == 1


def test_a_retryable_error_on_the_last_attempt_dead_letters(backend: PostgresBackend, settings: Settings,
                                                            add_type: AddType, conn: Conn) -> None:
    add_type("t_last", max_attempts=1)
    (job_id,) = enqueue(backend, "t_last", {})
    report = run(backend, settings, processor("t_last", raiser(RetryableError("still down"))))
    assert job_row(conn, job_id) is None
    assert report.dead_lettered == 1
    assert report.retried == 0


def test_an_unexpected_exception_is_retried_and_logged_with_its_traceback(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn,
        capsys: pytest.CaptureFixture[str]) -> None:
    add_type("t_bug")
    (job_id,) = enqueue(backend, "t_bug", {})
    report = run(backend, settings, processor("t_bug", raiser(KeyError("missing"))))
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "pending"
    assert row["last_error"] == "unexpected KeyError: 'missing'"
    assert report.retried == 1
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    crash = [line for line in lines if line["message"] == "processor raised an unexpected error"]
    assert len(crash) == 1
    assert crash[0]["severity"] == "ERROR"
    assert crash[0]["job_id"] == str(job_id)
    assert "KeyError: 'missing'" in crash[0]["stack_trace"]
    assert "Traceback" in crash[0]["stack_trace"]


def test_rate_limited_releases_without_burning_the_attempt(backend: PostgresBackend, settings: Settings,
                                                           add_type: AddType, conn: Conn) -> None:
    add_type("t_rate")
    (job_id,) = enqueue(backend, "t_rate", {})
    report = run(backend, settings, processor("t_rate", raiser(RateLimitedError("429", retry_after=0.2))))
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "pending"
    assert row["attempts"] == 0
    # retry_after is rounded up to whole seconds (release_jobs takes integers), never down to "now".
    assert conn.execute("select %s > now() as later", (row["run_at"],)).fetchone() == {"later": True}
    assert report.released == 1
    assert report.jobs[0].error == "rate limited: 429"


def test_a_checkpoint_is_saved_and_handed_back_to_the_next_attempt(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_ckpt")
    seen: list[Any] = []

    def handle(payload: Any, ctx: JobContext) -> Any:
        seen.append(ctx.previous_result)
        if ctx.previous_result is None:
            raise CheckpointAndContinue({"done_chunks": 3})
        return {"resumed_from": ctx.previous_result["done_chunks"]}

    (job_id,) = enqueue(backend, "t_ckpt", {})
    report = run(backend, settings, processor("t_ckpt", handle))
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "completed"
    assert seen == [None, {"done_chunks": 3}]
    assert row["result"] == {"resumed_from": 3}
    assert row["attempts"] == 1
    assert [j.outcome for j in report.jobs] == ["released", "completed"]


def test_an_invalid_payload_is_dead_lettered_naming_each_bad_field(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_val")
    calls: list[Any] = []
    (job_id,) = enqueue(backend, "t_val", {"n": 99, "extra": 1})

    def handle(payload: Any, ctx: JobContext) -> Any:
        calls.append(payload)
        return {}

    report = run(backend, settings, processor("t_val", handle, Counted))
    letter = conn.execute("select last_error from job_dead_letter where job_id = %s", (job_id,)).fetchone()
    assert letter is not None
    assert "payload.n: Input should be less than or equal to 20" in letter["last_error"]
    assert "payload.extra: Extra inputs are not permitted" in letter["last_error"]
    assert calls == []
    assert report.dead_lettered == 1


def test_a_result_that_is_not_json_is_a_retryable_failure(backend: PostgresBackend, settings: Settings,
                                                          add_type: AddType, conn: Conn) -> None:
    add_type("t_obj")
    (job_id,) = enqueue(backend, "t_obj", {})
    report = run(backend, settings, processor("t_obj", lambda p, c: {"handle": object()}))
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "pending"
    assert "unexpected" in (row["last_error"] or "")
    assert report.retried == 1


def test_a_job_cancelled_while_it_runs_is_reported_as_lease_lost(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_cancel")
    progress: list[bool] = []

    def handle(payload: Any, ctx: JobContext) -> Any:
        ctx.backend.job_cancel(ctx.job_id)
        progress.append(ctx.progress(50, "after cancel"))
        return {}

    (job_id,) = enqueue(backend, "t_cancel", {})
    report = run(backend, settings, processor("t_cancel", handle))
    row = job_row(conn, job_id)
    assert row is not None
    assert row["status"] == "cancelled"
    assert progress == [False]
    assert report.lease_lost == 1
    assert ("running", "completed") not in history(conn, job_id)


def test_noop_jobs_fail_each_way_they_are_asked_to(backend: PostgresBackend, settings: Settings) -> None:
    ids = enqueue(backend, "noop", {}, {"fail": "permanent"}, {"fail": "retryable"}, {"fail": "rate_limited"},
                  {"fail": "crash"}, {"sleep_seconds": -1})
    report = run(backend, settings, noop)
    outcomes = {j.id: j.outcome for j in report.jobs}
    assert [outcomes[i] for i in ids] == ["completed", "dead_lettered", "retried", "released", "retried",
                                          "dead_lettered"]
    assert report.by_type == {"noop": {"completed": 1, "dead_lettered": 2, "retried": 2, "released": 1}}
