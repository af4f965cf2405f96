"""Ctrl-C on `queue-worker dev` while jobs run, as a person meets it: it says what it waits
for, names each job as it finishes, gives back what is still running when the grace period
ends (pending again, its attempt not counted), says so, and stops, leaving no process.

Real: the console script in a subprocess, its functions-framework server and scheduler,
PostgreSQL (the test database via DATABASE_URL), SIGINT, psutil for what `ps` shows. The
slow jobs are noop jobs with `sleep_seconds`. Nothing faked.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from tests.functions.conftest import free_port
from tests.local.test_dev import DevProcess, dev_env
from tests.local.test_dev_signals import leftovers, ps_lines, start, wait_gone
from tests.sql.factories import enqueue

Conn = psycopg.Connection[dict[str, Any]]


def wait_running(conn: Conn, ids: list[UUID], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while conn.execute("select count(*) as n from job_queue where id = any(%s) and status = 'running'",
                       (ids,)).fetchone() != {"n": len(ids)}:
        assert time.monotonic() < deadline, "the jobs never ran"
        time.sleep(0.05)


def rows(conn: Conn, *ids: UUID) -> list[dict[str, Any]]:
    return [conn.execute("select status, attempts, locked_by from job_queue where id = %s", (i,)).fetchone()
            or {} for i in ids]


def stop_at_once(dev: DevProcess) -> None:
    """Ctrl-C twice (no grace period), unless it stopped already."""
    if dev.process.poll() is None:
        dev.process.send_signal(signal.SIGINT)
        time.sleep(0.5)
        dev.stop()


def said(job_id: UUID) -> str:
    return f"noop {str(job_id)[:8]}…"


@pytest.mark.slow
def test_ctrl_c_waits_for_the_running_jobs_then_gives_back_the_unfinished_one_and_stops(
        db_url: str, conn: Conn, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    env = dev_env(tmp_path, DATABASE_URL=db_url, QUEUE_WORKER_STOP_GRACE_SECONDS="6")
    dev, server_pid = start(env, free_port(), tmp_path, "ctrl-c")
    request.addfinalizer(lambda: stop_at_once(dev))  # a failure leaves no dev running behind it
    with conn.transaction():  # one NOTIFY, one claim: both jobs in the same invocation
        long = enqueue(conn, "noop", payload={"sleep_seconds": 600})
        short = enqueue(conn, "noop", payload={"sleep_seconds": 3})
    wait_running(conn, [long, short])
    dev.process.send_signal(signal.SIGINT)

    dev.wait_for_line(r"SIGINT: stopping; running jobs have 6s to finish", 30)
    waiting = dev.wait_for_line(r"stopping: waiting up to 6s for 2 running jobs \((.*)\)", 30)
    assert sorted(waiting.group(1).split(", ")) == sorted([said(long), said(short)])
    dev.wait_for_line(rf"stopping: {said(short)} finished \(complete\); waiting for 1 more", 30)
    dev.wait_for_line(rf"stopping: giving back 1 unfinished job after 6s: {said(long)}; they go back to "
                      "pending, their attempt not counted", 30)
    dev.wait_for_line(r"^queue-worker dev: stopped$", 30)
    assert dev.process.wait(30) == 0
    dev.stderr.close()

    assert rows(conn, long, short) == [{"status": "pending", "attempts": 0, "locked_by": None},
                                       {"status": "completed", "attempts": 1, "locked_by": None}]
    assert wait_gone(server_pid, group=True), "the function server is still running"
    assert leftovers(tmp_path / "local") == []
    print("ps after Ctrl-C with a job running:", ps_lines(tmp_path / "local") or "(nothing of this stack)")


@pytest.mark.slow
def test_a_second_ctrl_c_gives_the_running_job_back_at_once(db_url: str, conn: Conn, tmp_path: Path,
                                                             request: pytest.FixtureRequest) -> None:
    env = dev_env(tmp_path, DATABASE_URL=db_url, QUEUE_WORKER_STOP_GRACE_SECONDS="600")
    dev, server_pid = start(env, free_port(), tmp_path, "ctrl-c-twice")
    request.addfinalizer(lambda: stop_at_once(dev))
    job_id = enqueue(conn, "noop", payload={"sleep_seconds": 600})
    wait_running(conn, [job_id])
    dev.process.send_signal(signal.SIGINT)
    dev.wait_for_line(rf"stopping: waiting up to 600s for 1 running job \({said(job_id)}\)", 30)
    dev.process.send_signal(signal.SIGINT)

    dev.wait_for_line(r"SIGINT again: giving back the running jobs now", 30)
    dev.wait_for_line(rf"stopping: giving back 1 unfinished job at once \(a second signal\): {said(job_id)}",
                      30)
    assert dev.process.wait(30) == 0  # long before the 600 s grace period
    dev.stderr.close()
    assert rows(conn, job_id) == [{"status": "pending", "attempts": 0, "locked_by": None}]
    assert wait_gone(server_pid, group=True), "the function server is still running"
    assert leftovers(tmp_path / "local") == []
    print("ps after a second Ctrl-C:", ps_lines(tmp_path / "local") or "(nothing of this stack)")
