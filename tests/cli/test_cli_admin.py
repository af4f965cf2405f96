"""`queue-worker migrate`, help and usage errors, argument parsing, the console script.

Real: PostgreSQL (an empty database for migrate), the installed `queue-worker` console
script in a subprocess. Nothing faked.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.cli import args as cli_args
from shared.cli.main import main
from shared.config import REPO_ROOT
from shared.queue.migrate import migrations_in
from tests.functions.conftest import free_port

COMMANDS = [["dev"], ["migrate"], ["enqueue"], ["process"], ["stats"], ["health"], ["dlq"], ["dlq", "list"],
            ["dlq", "replay"], ["bench"]]


def exit_status(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)


def test_migrate_applies_every_migration_once_and_is_safe_to_rerun(
        empty_db_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    expected = migrations_in(REPO_ROOT / "supabase" / "migrations")
    assert main(["migrate"]) == 0
    out, err = capsys.readouterr()
    # stderr is not a terminal here: one line per migration once applied, with its time
    assert [line.rsplit(" (", 1)[0].removeprefix("applied ") for line in err.splitlines()] == [
        m.name for m in expected]
    assert all(re.fullmatch(r"applied \S+ \(\d+\.\d\d s\)", line) for line in err.splitlines())
    assert re.fullmatch(rf"applied {len(expected)} migration\(s\) to .+; {len(expected)} in all\n", out)
    assert main(["migrate"]) == 0
    assert f"is up to date ({len(expected)} migrations)" in capsys.readouterr().out
    with psycopg.connect(empty_db_url) as conn:
        versions = conn.execute("select version from queue.schema_migrations order by 1").fetchall()
    assert [v for (v,) in versions] == [m.version for m in expected]


def test_migrate_to_an_unreachable_database_fails_with_status_1_and_says_so(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/postgres")
    assert main(["migrate"]) == 1
    err = capsys.readouterr().err
    assert "queue-worker migrate: error: database error" in err
    assert "hint: check DATABASE_URL" in err


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(command: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status([*command, "--help"]) == 0
    assert f"usage: queue-worker {' '.join(command)}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [[], ["dlq"]])
def test_a_missing_command_is_status_2_with_the_help(argv: list[str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(argv) == 2
    assert f"usage: queue-worker {' '.join(argv)}" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "message"), [
    (["explode"], "queue-worker: error: argument COMMAND: invalid choice: 'explode'"),
    (["dlq", "burn"],
     "queue-worker dlq: error: argument {groups,list,replay,delete}: invalid choice: 'burn'"),
    (["enqueue"], "queue-worker enqueue: error: give a job TYPE (and its payload), or --file JOBS"),
    (["dlq", "replay"],
     "queue-worker dlq replay: error: give dead letter IDs, --group FINGERPRINT or --all")])
def test_an_unknown_command_or_missing_argument_is_status_2_with_the_error_and_where_help_is(
        argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(argv) == 2
    err = capsys.readouterr().err
    prog = message.split(": error: ")[0]
    assert err.startswith(message)
    assert err.endswith(f"Try '{prog} --help'.\n")
    assert "usage:" not in err


@pytest.mark.parametrize(("text", "seconds"), [("5s", 5.0), ("2m", 120.0), ("60", 60.0), ("1h", 3600.0),
                                                ("250ms", 0.25), ("1.5s", 1.5), (" 3 s ", 3.0)])
def test_durations_read_as_seconds(text: str, seconds: float) -> None:
    assert cli_args.duration(text) == seconds


@pytest.mark.parametrize("text", ["", "5x", "-1s", "s", "1e3", "five"])
def test_a_bad_duration_says_what_is_allowed(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=r"use e\.g\. 5s, 2m, 1h or 60"):
        cli_args.duration(text)


def test_the_console_script_reports_bad_input_with_status_2(tmp_path: Path) -> None:
    """Refused before any database is opened, so no database is needed here."""
    script = Path(sys.executable).parent / "queue-worker"
    env = {"PATH": "/usr/bin:/bin", "LOCAL_DIR": str(tmp_path)}
    result = subprocess.run([str(script), "enqueue", "nope", "{}"], capture_output=True, text=True,
                            env=env, timeout=60, check=False)
    assert result.returncode == 2
    assert "unknown job type 'nope'" in result.stderr


def test_bench_runs_the_benchmark_and_prints_json(cli_env: str, conn: psycopg.Connection[Any],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--jobs", "30", "--runs", "1", "--batch", "10", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["jobs"], result["runs"], result["batch_size"]) == (30, 1, 10)
    assert result["drain"]["completed_runs"] == [30]
    leftover = conn.execute("select count(*) as n from job_queue where status = 'pending'").fetchone()
    assert leftover == {"n": 0}


@pytest.mark.parametrize(("argv", "message"), [
    (["bench", "--batch", "0"], "0 is not an integer from 1 to 1000"),
    (["bench", "--jobs", "many"], "'many' is not a positive integer")])
def test_bench_refuses_bad_options_with_status_2(argv: list[str], message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(argv) == 2
    assert message in capsys.readouterr().err


def test_an_invalid_setting_fails_with_status_1_naming_it_without_its_value(
        cli_env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("DB_POOL_MAX", "0-secret-looking-value")
    assert main(["stats"]) == 1
    err = capsys.readouterr().err
    assert "invalid configuration: DB_POOL_MAX: " in err
    assert "secret-looking" not in err


def test_dev_on_a_port_in_use_fails_with_status_1_and_suggests_another(
        cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["dev", "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"port {port} on 127.0.0.1 is in use" in err
    assert "hint: pass --port" in err


@pytest.mark.parametrize(("argv", "message"), [
    (["dev", "--every", "0"], "too short"), (["dev", "--every", "soon"], "is not a duration"),
    (["dev", "--port", "http"], "'http' is not a port from 1 to 65535"),
    (["dev", "--port", "70000"], "70000 is not a port from 1 to 65535")])
def test_dev_refuses_bad_options_with_status_2(argv: list[str], message: str,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(argv) == 2
    assert message in capsys.readouterr().err
