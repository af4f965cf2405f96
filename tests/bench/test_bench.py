"""run_bench end to end with a tiny N: it works, prints what it returns, cleans up, and
refuses what it should. Never a timed assertion.

Real: PostgreSQL, PostgresBackend, the worker loop, spawned worker processes; nothing faked.
"""

from __future__ import annotations

import json

import pytest

from shared.bench.benchmark import run_bench
from shared.queue.errors import QueueError
from shared.queue.postgres import PostgresBackend
from tests.worker.conftest import Conn, enqueue


def test_a_tiny_benchmark_drains_every_job_and_reports_json(
        db_url: str, conn: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_bench(db_url, jobs=40, runs=2, batch_size=16, workers=1, as_json=True)
    printed = json.loads(capsys.readouterr().out)
    assert printed == result
    assert result["drain"]["completed_runs"] == [40, 40]
    assert result["drain"]["jobs_per_s_median"] > 0
    assert result["enqueue"]["one_at_a_time_jobs_per_s"] > 0
    assert result["claim_round_trip_ms"]["samples"] >= 2 * 3  # 40 jobs in claims of at most 16
    assert result["pickup_latency_ms"]["samples"] == 40  # one trial per job, at most 100
    assert result["pickup_resident_ms"]["samples"] == 40
    assert result["pickup_resident_ms"]["notify_sent_by"] in {"trigger", "bench"}
    assert 0 < result["pickup_resident_ms"]["median"] <= result["pickup_resident_ms"]["p99"]
    assert result["drain_shipped_defaults"]["completed_runs"] == [40, 40]
    assert result["backlog_wait_ms"]["samples"] == 80
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 0}


def test_several_worker_processes_share_the_drain(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_bench(db_url, jobs=60, runs=1, batch_size=10, workers=2, as_json=False)
    out, err = capsys.readouterr()
    assert result["drain"]["completed_runs"] == [60]
    assert "jobs/s" in out
    assert "2 worker process(es)" in out
    assert "drain, shipped defaults" in out
    assert "pickup, resident worker" in out
    assert "drain run 1/1" in err  # the progress bar goes to stderr


def test_the_benchmark_refuses_while_other_noop_jobs_are_pending(db_url: str,
                                                                  backend: PostgresBackend) -> None:
    enqueue(backend, "noop", {})
    with pytest.raises(QueueError, match="noop jobs are already pending"):
        run_bench(db_url, jobs=10, runs=1, batch_size=10, workers=1, as_json=True)


@pytest.mark.parametrize(("jobs", "runs", "batch", "workers"), [(0, 1, 10, 1), (10, 0, 10, 1), (10, 1, 0, 1),
                                                               (10, 1, 1001, 1), (10, 1, 10, 0)])
def test_bad_benchmark_arguments_are_refused(db_url: str, jobs: int, runs: int, batch: int,
                                            workers: int) -> None:
    with pytest.raises(QueueError):
        run_bench(db_url, jobs=jobs, runs=runs, batch_size=batch, workers=workers, as_json=True)
