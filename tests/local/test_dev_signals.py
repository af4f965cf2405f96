"""`queue-worker dev` stopped the ways a person stops it — Ctrl-C, `kill`, closing the
terminal (SIGHUP) and `kill -9` — then started again, as the issue's trial did.

Real: the console script in a subprocess, its functions-framework server, the embedded
PostgreSQL in a temporary LOCAL_DIR, the signals, `ps` (psutil) to see what is left.
Nothing faked.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psutil
import pytest

from tests.functions.conftest import free_port
from tests.local.test_dev import DevProcess, dev_env


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


def start(env: dict[str, str], port: int, tmp_path: Path, name: str) -> tuple[DevProcess, int]:
    dev = DevProcess(env, port, tmp_path / f"{name}-stderr.log")
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


@pytest.mark.slow
def test_each_stop_signal_leaves_nothing_and_a_kill_9_is_cleaned_up_by_the_next_start(tmp_path: Path) -> None:
    env, port, local_dir = dev_env(tmp_path), free_port(), tmp_path / "local"
    for sig in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
        dev, server_pid = start(env, port, tmp_path, sig.name)
        postgres = postmaster_pid(local_dir)
        dev.process.send_signal(sig)
        assert dev.process.wait(60) == 0, f"dev did not exit cleanly on {sig.name}"
        dev.stderr.close()
        assert wait_gone(server_pid, group=True), f"{sig.name}: the function server is still running"
        assert wait_gone(postgres), f"{sig.name}: the embedded PostgreSQL is still running"
        assert leftovers(local_dir) == [], f"{sig.name}: ps still shows {leftovers(local_dir)}"

    killed, server_pid = start(env, port, tmp_path, "SIGKILL")
    postgres = postmaster_pid(local_dir)
    killed.process.kill()
    killed.process.wait(10)
    killed.stderr.close()
    assert not group_is_gone(server_pid)  # what kill -9 leaves: the server on the port ...
    assert not process_is_gone(postgres)  # ... and PostgreSQL, held by a dead pid

    again, new_server_pid = start(env, port, tmp_path, "after-SIGKILL")
    said = "\n".join(again.seen)
    assert f"stopped the function server (pid {server_pid}, port {port})" in said
    assert "took over the embedded PostgreSQL" in said
    assert group_is_gone(server_pid)
    assert postmaster_pid(local_dir) == postgres  # the same server, now owned by the new dev
    assert again.stop() == 0
    assert wait_gone(new_server_pid, group=True)
    assert wait_gone(postgres), "the taken-over PostgreSQL did not stop with its new owner"
    assert leftovers(local_dir) == []
