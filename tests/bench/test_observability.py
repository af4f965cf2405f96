"""shared.bench.observability with tiny numbers: it fills its scratch database (with
console_queries' seeding), times ?action=metrics and ?action=health in-process and their SQL,
prints what it returns, drops the database and leaves the environment as it was. Never a
timed assertion.

Real: PostgreSQL (a scratch database on the test server), the migrations, the SQL functions,
the function's actions through shared.api.respond. Nothing faked.
"""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from shared.bench.observability import main, run


def test_a_tiny_run_times_both_actions_and_their_sql_and_drops_its_database(
        db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://unchanged.invalid/x")
    monkeypatch.delenv("QUEUE_WORKER_SECRET", raising=False)
    scratch = f"qw_obs_bench_{os.getpid()}"
    result = run(db_url, finished=300, dead_letters=40, pending=20, runs=2, database=scratch, as_json=True)
    assert json.loads(capsys.readouterr().out) == result
    assert set(result["median_ms"]) == {"?action=metrics", "?action=health", "metrics_snapshot()",
                                        "health_warnings()"}
    assert all(ms > 0 for ms in result["median_ms"].values())
    assert os.environ["DATABASE_URL"] == "postgresql://unchanged.invalid/x"
    assert "QUEUE_WORKER_SECRET" not in os.environ
    with psycopg.connect(db_url) as conn:
        left = conn.execute("select count(*) from pg_database where datname = %s", (scratch,)).fetchone()
        assert left == (0,)


def test_the_summary_names_each_measure_and_the_target(db_url: str,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    run(db_url, finished=10, dead_letters=2, pending=2, runs=1, database=f"qw_obs_bench_{os.getpid()}_s")
    out = capsys.readouterr().out
    assert "?action=metrics" in out
    assert "health_warnings()" in out


def test_bad_counts_are_refused(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["--runs", "0", "--database", f"qw_obs_bench_{os.getpid()}_bad"]) == 1
    assert "runs at least 1" in capsys.readouterr().err
