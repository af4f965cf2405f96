"""`queue-worker enqueue | process | stats | health | dlq`, run in-process through `main()`.

Real: PostgreSQL, the worker loop, the noop processor, signals. Nothing faked.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from shared.cli.main import main
from tests.sql.factories import connect, enqueue, fingerprint, job, make_job

Conn = psycopg.Connection[dict[str, Any]]


def exit_status(argv: list[str]) -> int:
    """main()'s status, also when argparse exits on its own (bad usage)."""
    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)


def test_enqueue_prints_the_id_of_the_job_it_made(cli_env: str, conn: Conn,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    parent = make_job(conn)
    status = main(["enqueue", "noop", '{"i": 3}', "--priority", "high", "--run-at", "+1h",
                   "--max-attempts", "5", "--idempotency-key", "cli-1", "--depends-on", str(parent)])
    assert status == 0
    row = job(conn, UUID(capsys.readouterr().out.strip()))
    assert (row["payload"], row["priority"], row["max_attempts"], row["idempotency_key"]) == (
        {"i": 3}, "high", 5, "cli-1")
    assert row["depends_on"] == [parent]
    assert row["run_at"] > datetime.now(UTC)


@pytest.mark.parametrize(("argv", "message"), [
    (["enqueue", "nope", "{}"], "unknown job type 'nope'; known types: "),
    (["enqueue", "noop", "{bad"], "argument JSON: not valid JSON"),
    (["enqueue", "noop", "[1]"], "must be a JSON object"),
    (["enqueue", "noop", '{"a\\u0000": 1}'], "argument JSON: payload.a\\u0000: the key contains "
     "\\u0000 (NUL); allowed: any Unicode text except \\u0000 (NUL), which PostgreSQL cannot store"),
    (["enqueue", "noop", '{"fail": "crash\\u0000"}'], "payload.fail: the string contains \\u0000 (NUL)"),
    # a payload 64 levels deep: it is level 2, as in an HTTP body, so its innermost is level 65
    (["enqueue", "noop", '{"a": ' * 63 + "{}" + "}" * 63], "payload" + ".a" * 63 + ": nested more than 64 "
     "levels deep; allowed: objects and arrays nested at most 64 levels deep"),
    (["enqueue", "noop", '{"a": ' * 5000 + "1" + "}" * 5000], "the JSON is nested more than 64 levels deep"),
    (["enqueue", "noop", "{}", "--priority", "urgent"], "invalid choice: 'urgent'"),
    (["enqueue", "noop", '{"sleep_seconds": -1, "x": 1}'], "payload.sleep_seconds: "),
    (["enqueue", "noop", '{"x": 1}'], "payload.x: Extra inputs are not permitted"),
    (["enqueue", "noop", "--run-at", "soon"], "is not a time"),
    (["enqueue", "noop", "--max-attempts", "0"], "0 is not a positive integer"),
    (["enqueue", "noop", "--depends-on", "42"], "argument --depends-on: '42': not a job id (a UUID)"),
    (["enqueue", "noop", "--run-at", "2026-12-01T09:00:00"], "has no offset"),
    (["enqueue", "noop", "--run-at", "+5 minutes"], "use an ISO 8601 time with an offset"),
])
def test_enqueue_refuses_bad_input_with_status_2_and_writes_nothing(
        cli_env: str, conn: Conn, capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    before = fingerprint(conn)
    assert exit_status(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.endswith("Try 'queue-worker enqueue --help'.\n")
    assert "usage:" not in err  # the error, not a usage block burying it
    assert fingerprint(conn) == before


def test_enqueue_depending_on_a_missing_job_fails_with_the_database_message(
        cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    missing = uuid4()
    assert main(["enqueue", "noop", "--depends-on", str(missing)]) == 1
    err = capsys.readouterr().err
    assert f"queue-worker enqueue: error: depends_on names job {missing}, which does not exist\n" in err
    assert "p_jobs" not in err  # the batch parameter a person never typed


def test_process_once_runs_ready_jobs_and_prints_a_summary(cli_env: str, conn: Conn,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    done, dead = enqueue(conn, "noop"), enqueue(conn, "noop", payload={"fail": "permanent"})
    assert main(["process", "--once", "--type", "noop", "--batch", "5"]) == 0
    out = capsys.readouterr().out
    assert "claimed 2: completed 1, retried 0, dead-lettered 1" in out
    assert job(conn, done)["status"] == "completed"
    letters = conn.execute("select count(*) as n from job_dead_letter where job_id = %s", (dead,)).fetchone()
    assert letters == {"n": 1}


def test_process_once_json_prints_the_full_report(cli_env: str, conn: Conn,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    job_id = enqueue(conn, "noop")
    assert main(["process", "--once", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(j["id"], j["outcome"]) for j in report["jobs"]] == [(str(job_id), "completed")]


@pytest.mark.parametrize(("argv", "message"), [
    (["process", "--once", "--type", "nope"], "unknown job type(s) nope; known: "),
    (["process", "--once", "--batch", "0"], "0 is not an integer from 1 to 1000"),
    (["process", "--once", "--batch", "abc"], "'abc' is not an integer from 1 to 1000"),
    (["process", "--every", "0"], "too short"),
    (["process", "--budget", "5 minutes"], "is not a duration"),
])
def test_process_refuses_bad_options_with_status_2(cli_env: str, capsys: pytest.CaptureFixture[str],
                                                   argv: list[str], message: str) -> None:
    assert exit_status(argv) == 2
    assert message in capsys.readouterr().err


def test_process_without_once_keeps_working_until_sigterm(cli_env: str, conn: Conn) -> None:
    job_id = enqueue(conn, "noop")

    def terminate_when_done() -> None:
        with connect(cli_env) as own:  # a connection of this thread's own
            deadline = time.monotonic() + 20
            while job(own, job_id)["status"] != "completed" and time.monotonic() < deadline:
                time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_when_done)
    killer.start()
    assert main(["process", "--every", "0.2s"]) == 0
    killer.join(5)
    assert job(conn, job_id)["status"] == "completed"


def test_stats_prints_queue_stats_as_json(cli_env: str, conn: Conn,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    make_job(conn), make_job(conn, "completed")
    assert main(["stats"]) == 0
    assert json.loads(capsys.readouterr().out)["by_status"] == {"pending": 1, "completed": 1}


def test_health_prints_the_checks_and_exits_by_severity(cli_env: str, conn: Conn,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """Exit 0 ok, 1 warning, 2 critical (Nagios' convention); JSON when stdout is not a terminal."""
    status = main(["health"])
    report = json.loads(capsys.readouterr().out)
    assert (report["status"], report["severity"]) == ("degraded", "warning")  # no worker has run yet
    assert report["checks"]["last_worker_run"]["ok"] is False
    assert status == 1
    conn.execute("select worker_run_start('w-cli', '{}')")
    assert main(["health"]) == 0
    capsys.readouterr()
    conn.execute("update job_types set max_backlog_age_seconds = 60 where name = 'noop'")
    make_job(conn, run_at="2000-01-01T00:00:00Z")
    assert main(["health", "--json"]) == 2
    assert json.loads(capsys.readouterr().out)["severity"] == "critical"


def test_health_on_a_terminal_prints_the_failing_checks_with_their_hints(
        cli_env: str, conn: Conn, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    conn.execute("update job_types set max_backlog_age_seconds = 60 where name = 'noop'")
    make_job(conn, run_at="2000-01-01T00:00:00Z")
    assert main(["health"]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("CRITICAL backlog_age:noop ")
    assert out[0].endswith("> 60 seconds")
    assert "max_backlog_age_seconds" in out[1]
    assert any(line.startswith("WARNING  last_worker_run none > 300 seconds") for line in out)
    assert out[-1].startswith("degraded (critical): 2 of ")
    # Neither pg_net nor pg_cron lives in a test database (pg_cron only in cron.database_name's).
    assert out[-1].endswith("checks need attention; not checked: pg_net_backlog, pg_net_failures, "
                            "cron_failures, cron_run_details_rows")


def test_dlq_list_shows_dead_letters_and_replay_makes_a_pending_job(
        cli_env: str, conn: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "list"]) == 0
    assert "the dead letter queue is empty" in capsys.readouterr().out
    dead_job = make_job(conn, "dead")
    assert main(["dlq", "list", "--json"]) == 0
    (letter,) = json.loads(capsys.readouterr().out)
    assert letter["job_id"] == str(dead_job)
    assert main(["dlq", "list"]) == 0
    assert letter["id"] in capsys.readouterr().out
    assert main(["dlq", "replay", letter["id"]]) == 0
    replayed = job(conn, UUID(capsys.readouterr().out.strip()))
    assert (replayed["status"], replayed["attempts"]) == ("pending", 0)


def test_dlq_replay_of_an_unknown_id_fails_with_status_1_and_a_hint(
        cli_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dlq", "replay", str(uuid4())]) == 1
    err = capsys.readouterr().err
    assert "queue-worker dlq replay: error: no dead letter with id" in err
    assert "hint: " in err
