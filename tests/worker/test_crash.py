"""A worker process killed with SIGKILL in the middle of a batch loses nothing.

Real: PostgreSQL, PostgresBackend, a worker in a separate Python process (run_invocation
on `crashy` jobs, tests/worker/crash_proc.py), a real SIGKILL, cleanup_stuck_jobs, and a
second invocation in this process. Nothing faked. Lock expiry is not waited for:
cleanup_stuck_jobs is called with p_now an hour ahead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from shared.config import REPO_ROOT, Settings
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker import crash_proc
from tests.worker.conftest import AddType, Conn, enqueue

WORKER = """
import sys
from shared.queue.postgres import PostgresBackend
from shared.config import Settings
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker import crash_proc

backend = PostgresBackend(sys.argv[1])
run_invocation(backend, Settings(database_url=sys.argv[1], _env_file=None),
               InvocationOptions(batch_size=8, concurrency=3, time_budget_seconds=600),
               registry={"crashy": crash_proc}, worker_id="doomed:1:worker")
"""


def wait_for_started(conn: Conn, count: int, seconds: float = 30) -> None:
    """Until `count` jobs report progress (their processor is running), bounded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = conn.execute("select count(*) as n from job_queue where progress > 0").fetchone()
        if row is not None and row["n"] >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"the worker did not start {count} jobs within {seconds} s")


def test_jobs_of_a_killed_worker_are_finished_by_the_next_invocation_exactly_once(
        db_url: str, backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("crashy", timeout_seconds=120, max_attempts=3)
    ids = enqueue(backend, "crashy", *[{"i": i} for i in range(8)])
    proc = subprocess.Popen([sys.executable, "-c", WORKER, db_url], cwd=REPO_ROOT,
                            env={**os.environ, "PYTHONPATH": str(REPO_ROOT)}, stderr=subprocess.DEVNULL)
    try:
        wait_for_started(conn, 3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    running = conn.execute("select count(*) as n from job_queue where status = 'running' "
                           "and locked_by = 'doomed:1:worker'").fetchone()
    assert running == {"n": 8}  # 3 started, 5 waiting for a thread: all claimed, none settled

    recovered = conn.execute("select cleanup_stuck_jobs(now() + interval '1 hour') as n").fetchone()
    report = run_invocation(backend, settings, InvocationOptions(batch_size=8, time_budget_seconds=600),
                            registry={"crashy": crash_proc})

    assert recovered == {"n": 8}
    assert sorted(j.id for j in report.jobs) == sorted(ids)
    assert {j.outcome for j in report.jobs} == {"completed"}
    rows = conn.execute("select id, status, attempts, result from job_queue where id = any(%s)",
                        (ids,)).fetchall()
    assert {(r["status"], r["attempts"]) for r in rows} == {("completed", 2)}
    assert sorted(r["result"]["i"] for r in rows) == list(range(8))
    completions = conn.execute("select job_id, count(*) as n from job_status_history "
                               "where to_status = 'completed' group by job_id").fetchall()
    assert sorted(c["job_id"] for c in completions) == sorted(ids)
    assert {c["n"] for c in completions} == {1}
