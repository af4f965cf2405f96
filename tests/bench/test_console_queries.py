"""shared.bench.console_queries with tiny numbers: it fills its scratch database, times every
console query that exists, prints what it returns and drops the database. Never a timed
assertion.

Real: PostgreSQL (a scratch database on the test server), the migrations, the SQL functions.
Nothing faked.
"""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from shared.bench.console_queries import main, run


def test_a_tiny_run_times_the_console_queries_and_drops_its_database(
        db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    scratch = f"qw_console_bench_{os.getpid()}"
    result = run(db_url, finished=300, dead_letters=40, pending=20, runs=2, database=scratch,
                 as_json=True)
    assert json.loads(capsys.readouterr().out) == result
    assert {"console_overview()", "console_types()"} <= set(result["median_ms"])
    assert all(ms > 0 for ms in result["median_ms"].values())
    assert set(result["fill_ms"]) == {"finished jobs", "dead letters", "pending jobs", "running jobs",
                                      "worker runs"}
    with psycopg.connect(db_url) as conn:
        left = conn.execute("select count(*) from pg_database where datname = %s", (scratch,)).fetchone()
        assert left == (0,)


def test_the_summary_names_each_query_and_the_target(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    run(db_url, finished=10, dead_letters=2, pending=2, runs=1, database=f"qw_console_bench_{os.getpid()}_s")
    out = capsys.readouterr().out
    assert "console_overview()" in out
    assert "ms" in out


def test_bad_counts_are_refused(db_url: str, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    assert main(["--finished", "-1", "--database", f"qw_console_bench_{os.getpid()}_bad"]) == 1
    assert "counts must be 0 or more" in capsys.readouterr().err
