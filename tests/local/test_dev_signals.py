"""`queue-worker dev` stopped the ways a person stops it — Ctrl-C, `kill`, closing the
terminal (SIGHUP) and `kill -9` — while a job runs, then started again, as the issue's
trial did. Each stop gives the running jobs back (their attempts not counted, as the next
start's claim shows); after kill -9 the next start stops the orphaned server, which gives
back what it ran.

Real: the console script in a subprocess, its functions-framework server, the embedded
PostgreSQL in a temporary LOCAL_DIR, the signals, `ps` (psutil) to see what is left.
Nothing faked.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psutil
import pytest

from shared.local.database import EMBEDDED_DATABASE
from shared.worker.stopping import GIVEN_BACK_REASON
from tests.functions.conftest import free_port
from tests.local.test_dev import DevProcess, dev_env
from tests.sql.factories import connect


def leftovers(local_dir: Path) -> list[str]:
    """What `ps` shows of this stack: our function servers and PostgreSQL on our data directory."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        command = " ".join(process.info["cmdline"] or [])
        if str(local_dir / "pgdata") in command or ("functions_framework" in command and
                                                   str(process.info["pid"]) in _server_pids):
            found.append(f"{process.info['pid']} {command[:120]}")
    return found


_server_pids: set[str] = set()
_dev_pids: set[str] = set()
_started: list[DevProcess] = []


def ps_lines(local_dir: Path) -> str:
    """`ps`-style lines (pid, ppid, status, command) of what is left of the dev stacks this
    module started: the `dev` processes, their function servers and their workers, and
    PostgreSQL on our data directory; for the test's output."""
    ours = set(_server_pids | _dev_pids)
    processes = [p.info for p in psutil.process_iter(["pid", "ppid", "status", "cmdline"])]
    for info in processes:  # PostgreSQL on our data directory; its children follow below
        if str(local_dir) in " ".join(info["cmdline"] or []):
            ours.add(str(info["pid"]))
    lines = []
    for info in processes:
        if {str(info["pid"]), str(info["ppid"])} & ours:
            command = " ".join(info["cmdline"] or [])
            lines.append(f"{info['pid']:>7} {info['ppid']:>7} {info['status']:<9} {command[:140]}")
    return "\n".join(lines)


def start(env: dict[str, str], port: int, tmp_path: Path, name: str) -> tuple[DevProcess, int]:
    dev = DevProcess(env, port, tmp_path / f"{name}-stderr.log")
    _dev_pids.add(str(dev.process.pid))
    _started.append(dev)
    server_pid = int(dev.wait_for_line(r"server pid (\d+)", 120).group(1))
    _server_pids.add(str(server_pid))
    dev.wait_for_line(r"^ready\.", 30)
    return dev, server_pid


def group_is_gone(pgid: int) -> bool:
    """No live process in group `pgid` (zombies count as gone: a server orphaned by kill -9
    is reparented, and who reaps it is the machine's init, not us)."""
    for process in psutil.process_iter(["status"]):
        try:
            if os.getpgid(process.pid) == pgid and process.info["status"] != psutil.STATUS_ZOMBIE:
                return False
        except (ProcessLookupError, psutil.Error):
            continue
    return True


def process_is_gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_gone(pid: int, group: bool = False, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (group_is_gone if group else process_is_gone)(pid):
            return True
        time.sleep(0.1)
    return False


def postmaster_pid(local_dir: Path) -> int:
    return int((local_dir / "pgdata" / "postmaster.pid").read_text().split()[0])


def embedded_url(local_dir: Path) -> str:
    """Connection string of the embedded database `dev` runs (port and socket directory from
    postmaster.pid; the database's name is shared.local.database.EMBEDDED_DATABASE)."""
    lines = (local_dir / "pgdata" / "postmaster.pid").read_text().splitlines()
    return f"host={lines[4]} port={lines[3]} user=postgres dbname={EMBEDDED_DATABASE}"


def enqueue_long_job(url: str) -> UUID:
    created = httpx.post(url + "?action=enqueue", json={"type": "noop", "payload": {"sleep_seconds": 600}},
                         timeout=30)
    assert created.status_code == 201, created.text
    return UUID(created.json()["id"])


def wait_all_running(db: str, ids: list[UUID]) -> list[dict[str, Any]]:
    """The jobs' rows once all of them run."""
    deadline = time.monotonic() + 60
    with connect(db) as conn:
        while True:
            found = conn.execute("select id, status, attempts from job_queue where id = any(%s) order by id",
                                 (ids,)).fetchall()
            if all(row["status"] == "running" for row in found) and len(found) == len(ids):
                return found
            assert time.monotonic() < deadline, f"never all running: {found}"
            time.sleep(0.05)


def given_back(dev: DevProcess) -> int:
    """How many jobs `dev` said it gave back when its grace period ended."""
    said = (re.search(r"stopping: giving back (\d+) unfinished jobs? after 1s", line) for line in dev.seen)
    return sum(int(m.group(1)) for m in said if m)


@pytest.mark.slow
def test_each_stop_signal_gives_back_the_running_jobs_leaves_nothing_and_the_next_start_cleans_up_a_kill_9(
        tmp_path: Path) -> None:
    try:
        check_each_stop_signal_and_a_kill_9(tmp_path)
    finally:  # a failure leaves no dev running behind it
        for dev in _started:
            if dev.process.poll() is None:
                dev.stop()


def check_each_stop_signal_and_a_kill_9(tmp_path: Path) -> None:
    env = dev_env(tmp_path, QUEUE_WORKER_STOP_GRACE_SECONDS="1")
    port, local_dir = free_port(), tmp_path / "local"
    url, jobs = f"http://127.0.0.1:{port}/", []
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        dev, server_pid = start(env, port, tmp_path, sig.name)
        postgres = postmaster_pid(local_dir)
        jobs.append(enqueue_long_job(url))
        # Those given back by the earlier stops run again, each on its first counted attempt.
        assert [row["attempts"] for row in wait_all_running(embedded_url(local_dir), jobs)] == [1] * len(jobs)
        dev.process.send_signal(sig)
        dev.wait_for_line(r"^queue-worker dev: stopped$", 30)
        assert given_back(dev) == len(jobs), dev.seen  # by one invocation or by concurrent ones
        assert dev.process.wait(60) == 0, f"dev did not exit cleanly on {sig.name}"
        dev.stderr.close()
        assert wait_gone(server_pid, group=True), f"{sig.name}: the function server is still running"
        assert wait_gone(postgres), f"{sig.name}: the embedded PostgreSQL is still running"
        assert leftovers(local_dir) == [], f"{sig.name}: ps still shows {leftovers(local_dir)}"
        print(f"ps after {sig.name}:", ps_lines(local_dir) or "(nothing of this stack)")

    killed, server_pid = start(env, port, tmp_path, "SIGKILL")
    postgres = postmaster_pid(local_dir)
    wait_all_running(embedded_url(local_dir), jobs)
    killed.process.kill()
    killed.process.wait(10)
    killed.stderr.close()
    assert not group_is_gone(server_pid)  # what kill -9 leaves: the server on the port ...
    assert not process_is_gone(postgres)  # ... and PostgreSQL, held by a dead pid
    print("ps after SIGKILL:\n" + ps_lines(local_dir))

    again, new_server_pid = start(env, port, tmp_path, "after-SIGKILL")
    said = "\n".join(again.seen)
    assert f"stopped the function server (pid {server_pid}, port {port})" in said
    assert "took over the embedded PostgreSQL" in said
    assert group_is_gone(server_pid)
    assert postmaster_pid(local_dir) == postgres  # the same server, now owned by the new dev
    # Stopping the orphaned server (SIGTERM to its group: a hurried stop) made it give back
    # what it ran, as each stop before did: 3 + 2 + 1 earlier, then all 3; no attempt counted.
    with connect(embedded_url(local_dir)) as conn:
        given = conn.execute("select count(*) as n from job_status_events where job_id = any(%s) and "
                             "to_status = 'pending' and note = %s", (jobs, GIVEN_BACK_REASON)).fetchone()
        attempts = {row["attempts"] for row in conn.execute("select attempts from job_queue").fetchall()}
    assert given == {"n": 9}
    assert attempts <= {0, 1}  # pending again, or claimed once more by the new dev
    assert again.stop() == 0
    assert wait_gone(new_server_pid, group=True)
    assert wait_gone(postgres), "the taken-over PostgreSQL did not stop with its new owner"
    assert leftovers(local_dir) == []
    print("ps after the restart's Ctrl-C:", ps_lines(local_dir) or "(nothing of this stack)")
