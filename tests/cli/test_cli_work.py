"""`queue-worker work`: the resident worker as a real process, and its bad flags.

Real: PostgreSQL, the installed `queue-worker` script in a subprocess, LISTEN/NOTIFY,
signals, the noop processor (its `sleep_seconds` makes it slow). The enqueue-side NOTIFY
is sent by the test, as the enqueue trigger does (a duplicate is harmless).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.config import REPO_ROOT
from shared.queue.notifications import CHANNEL
from tests.cli.conftest import ENV_NAMES
from tests.cli.test_cli_jobs import exit_status
from tests.sql.factories import enqueue

Conn = psycopg.Connection[dict[str, Any]]
WAIT_SECONDS = 20.0  # generous: a loaded machine, a process that imports everything


class Worker:
    """A `queue-worker work` process whose stderr lines are collected as they come."""

    def __init__(self, db_url: str, *flags: str, env_extra: dict[str, str] | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
        env["DATABASE_URL"] = db_url
        env.update(env_extra or {})
        script = Path(sys.executable).parent / "queue-worker"
        self.proc = subprocess.Popen([str(script), "work", *flags], cwd=REPO_ROOT, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line)

    def wait_for_line(self, text: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not any(text in line for line in self.seen):
            self.seen.append(self.lines.get(timeout=max(0.0, deadline - time.monotonic())))

    def messages(self) -> list[str]:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return [json.loads(line)["message"] for line in self.seen if line.startswith("{")]


@contextmanager
def worker(db_url: str, *flags: str, grace: str | None = None) -> Iterator[Worker]:
    started = Worker(db_url, *flags, env_extra={"QUEUE_WORKER_STOP_GRACE_SECONDS": grace} if grace else None)
    try:
        started.wait_for_line("listening on queue_worker_jobs")
        yield started
    finally:
        if started.proc.poll() is None:
            started.proc.kill()
        started.proc.wait(WAIT_SECONDS)


def kick(conn: Conn, *types: str) -> None:
    conn.execute("select pg_notify(%s, %s)", (CHANNEL, json.dumps({"types": list(types)})))


def wait_until(conn: Conn, query: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not conn.execute(query).fetchone():
        assert time.monotonic() < deadline, f"never true: {query}"
        time.sleep(0.05)


def test_sigterm_finishes_the_running_job_gives_back_the_others_and_exits_0(db_url: str, conn: Conn) -> None:
    other = enqueue(conn, "analytics", payload={})  # not one of its --types: never touched
    flags = ("--types", "noop", "--concurrency", "1", "--batch", "5", "--poll-interval", "30s")
    with worker(db_url, *flags) as w:
        slow = [enqueue(conn, "noop", payload={"sleep_seconds": 1.5}) for _ in range(4)]
        kick(conn, "noop")  # woken by this, not by its 30 s poll
        wait_until(conn, "select 1 from job_queue where type = 'noop' and status = 'running'")
        time.sleep(0.3)  # the first job is sleeping now
        w.proc.send_signal(signal.SIGTERM)
        assert w.proc.wait(WAIT_SECONDS) == 0
        messages = w.messages()
    rows = {r["id"]: r for r in conn.execute("select id, status, attempts, locked_by from job_queue")}
    done = [i for i in slow if rows[i]["status"] == "completed"]
    given_back = [i for i in slow if rows[i]["status"] == "pending"]
    assert len(done) >= 1
    assert len(done) + len(given_back) == 4  # none lost, none left running
    assert all(rows[i]["attempts"] == 0 and rows[i]["locked_by"] is None for i in given_back)
    assert (rows[other]["status"], rows[other]["attempts"]) == ("pending", 0)
    assert any(m.startswith("SIGTERM received: no new claims") for m in messages)
    assert "resident worker stopped" in messages


def test_a_job_still_running_when_the_grace_period_ends_is_given_back_its_attempt_not_counted(
        db_url: str, conn: Conn) -> None:
    flags = ("--types", "noop", "--poll-interval", "30s")
    with worker(db_url, *flags, grace="1") as w:
        job_id = enqueue(conn, "noop", payload={"sleep_seconds": 600})
        kick(conn, "noop")
        wait_until(conn, "select 1 from job_queue where status = 'running'")
        w.proc.send_signal(signal.SIGINT)
        assert w.proc.wait(WAIT_SECONDS) == 0
        messages = w.messages()
    said = f"noop {str(job_id)[:8]}…"
    assert f"stopping: waiting up to 1s for 1 running job ({said})" in messages
    assert any(m.startswith(f"stopping: giving back 1 unfinished job after 1s: {said}") for m in messages)
    row = conn.execute("select status, attempts, locked_by from job_queue where id = %s", (job_id,))
    assert row.fetchone() == {"status": "pending", "attempts": 0, "locked_by": None}
    note = conn.execute("select note from job_status_events where job_id = %s and to_status = 'pending' "
                        "order by id desc limit 1", (job_id,)).fetchone()
    assert note == {"note": "interrupted: the worker stopped before it finished"}


def test_a_job_that_finishes_within_the_grace_period_completes_and_is_named_as_it_finishes(
        db_url: str, conn: Conn) -> None:
    with worker(db_url, "--types", "noop", "--poll-interval", "30s", grace="60") as w:
        job_id = enqueue(conn, "noop", payload={"sleep_seconds": 1})
        kick(conn, "noop")
        wait_until(conn, "select 1 from job_queue where status = 'running'")
        w.proc.send_signal(signal.SIGTERM)
        assert w.proc.wait(WAIT_SECONDS) == 0
        messages = w.messages()
    said = f"noop {str(job_id)[:8]}…"
    assert f"stopping: waiting up to 60s for 1 running job ({said})" in messages
    assert f"stopping: {said} finished (complete); waiting for 0 more" in messages
    assert not any(m.startswith("stopping: giving back") for m in messages)
    row = conn.execute("select status, attempts from job_queue where id = %s", (job_id,)).fetchone()
    assert row == {"status": "completed", "attempts": 1}


def test_a_second_signal_gives_the_running_job_back_at_once_and_exits_128_plus_its_number(
        db_url: str, conn: Conn) -> None:
    with worker(db_url, "--types", "noop", "--poll-interval", "30s", grace="600") as w:
        job_id = enqueue(conn, "noop", payload={"sleep_seconds": 600})
        kick(conn, "noop")
        wait_until(conn, "select 1 from job_queue where status = 'running'")
        w.proc.send_signal(signal.SIGINT)
        w.wait_for_line("SIGINT received")
        w.proc.send_signal(signal.SIGINT)
        assert w.proc.wait(WAIT_SECONDS) == 128 + signal.SIGINT  # long before its 600 s grace period
        messages = w.messages()
    assert any(m.startswith("second SIGINT: exiting now; the jobs still running are given back")
               for m in messages)
    assert any(m.startswith("stopping: giving back 1 unfinished job at once (a second signal)")
               for m in messages)
    row = conn.execute("select status, attempts from job_queue where id = %s", (job_id,)).fetchone()
    assert row == {"status": "pending", "attempts": 0}


@pytest.mark.parametrize(("argv", "message"), [
    (["work", "--concurrency", "0"], "argument --concurrency: 0 is not a positive integer"),
    (["work", "--types", "noop,nope"], "unknown job type(s) nope; known: "),
    (["work", "--types", "noop,"], "argument --types/--type: 'noop,' has an empty job type"),
    (["work", "--poll-interval=-1"], "argument --poll-interval: '-1' is negative: a duration is positive"),
    (["work", "--poll-interval", "0"], "argument --poll-interval: '0' is too short: at least 0.1s"),
    (["work", "--batch", "1001"], "argument --batch: 1001 is not an integer from 1 to 1000"),
])
def test_bad_flags_are_refused_with_status_2(cli_env: str, conn: Conn, argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    enqueue(conn, "noop", payload={})
    assert exit_status(argv) == 2
    assert message in capsys.readouterr().err
    row = conn.execute("select status, attempts from job_queue").fetchone()
    assert row == {"status": "pending", "attempts": 0}  # nothing claimed


def test_the_help_says_when_to_use_it_and_what_the_pooler_does(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["work", "--help"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Cloud Run with minimum instances" in out
    assert "port 6543" in out
    assert "--poll-interval" in out
