"""`queue-worker dev`, the README's first command, as a user runs it: a subprocess.

Real: the console script, the functions-framework server it starts, its scheduler,
PostgreSQL (the test server via DATABASE_URL, and once the embedded one in a temporary
LOCAL_DIR), SIGINT. Nothing faked.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from shared.config import REPO_ROOT
from tests.cli.conftest import ENV_NAMES
from tests.functions.conftest import free_port
from tests.sql.factories import connect, job


class DevProcess:
    """`queue-worker dev` in a subprocess, its stdout lines collected as they come."""

    def __init__(self, env: dict[str, str], port: int, stderr_path: Path, every: str = "1s") -> None:
        script = Path(sys.executable).parent / "queue-worker"
        self.stderr_path = stderr_path
        self.stderr = stderr_path.open("wb")
        self.process = subprocess.Popen([str(script), "dev", "--port", str(port), "--every", every], env=env,
                                        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=self.stderr, text=True)
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of output: the process is exiting

    def wait_for_line(self, pattern: str, timeout: float) -> re.Match[str]:
        """The first output line matching `pattern`; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                self.lines.put(None)
                raise AssertionError(f"queue-worker dev exited before printing {pattern!r}; output: "
                                     f"{self.seen}; stderr: {self.stderr_path.read_text()[-3000:]}")
            self.seen.append(line)
            if match := re.search(pattern, line):
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout} s; output so far: {self.seen}; "
                             f"stderr: {self.stderr_path.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self.stderr.close()


@contextmanager
def dev_running(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[DevProcess, str, int]]:
    """`queue-worker dev` up and ready; yields it, its URL and the server's pid."""
    port = free_port()
    dev = DevProcess(env, port, tmp_path / "dev-stderr.log")
    try:
        server_pid = int(dev.wait_for_line(r"server pid (\d+)", 120).group(1))
        dev.wait_for_line(r"^ready\.", 10)
        yield dev, f"http://127.0.0.1:{port}/", server_pid
    finally:
        dev.stop()


def dev_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    return env | {"LOCAL_DIR": str(tmp_path / "local")} | extra


def is_gone(kill: Callable[[int, int], None], pid: int) -> bool:
    """Whether signal 0 finds nothing: `os.kill` for a process, `os.killpg` for a group."""
    try:
        kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def assert_processes_a_job_end_to_end(dev: DevProcess, url: str, body: dict[str, Any]) -> UUID:
    """Enqueue through the function (as the printed curl line does); the scheduler runs it."""
    created = httpx.post(url + "?action=enqueue", json=body, timeout=30)
    assert created.status_code == 201, created.text
    dev.wait_for_line(r"processed: claimed 1, completed 1", 30)
    return UUID(created.json()["id"])


def assert_stopped_cleanly(dev: DevProcess, server_pid: int, port_url: str) -> None:
    assert dev.stop() == 0
    assert "queue-worker dev: stopped" in [*dev.seen, *iter_queue(dev.lines)]
    assert is_gone(os.killpg, server_pid), "the function server (or its worker) is still running"
    with pytest.raises(httpx.TransportError):
        httpx.get(port_url, timeout=2)


def iter_queue(lines: queue.Queue[str | None]) -> list[str]:
    drained = []
    while not lines.empty():
        line = lines.get_nowait()
        if line is not None:
            drained.append(line)
    return drained


@pytest.mark.slow
def test_dev_with_database_url_processes_a_job_and_stops_cleanly_on_ctrl_c(db_url: str,
                                                                           tmp_path: Path) -> None:
    with dev_running(dev_env(tmp_path, DATABASE_URL=db_url), tmp_path) as (dev, url, server_pid):
        banner = "\n".join(dev.seen)
        assert "curl -s -X POST" in banner
        assert "?action=health" in banner
        assert "?action=stats" in banner
        printed = re.search(r"-d '(\{.*\})'$", next(line for line in dev.seen if "action=enqueue" in line))
        assert printed is not None
        job_id = assert_processes_a_job_end_to_end(dev, url, json.loads(printed.group(1)))
        with connect(db_url) as conn:
            assert job(conn, job_id)["status"] == "completed"
    # The printed example is an email; without provider settings it lands in the local outbox.
    (message,) = (tmp_path / "local" / "outbox").glob("*.eml")
    assert "Subject: Hello" in message.read_text()
    assert_stopped_cleanly(dev, server_pid, url)


@pytest.mark.slow
def test_dev_without_database_url_runs_on_the_embedded_postgres_and_stops_it(tmp_path: Path) -> None:
    pgdata = tmp_path / "local" / "pgdata"
    with dev_running(dev_env(tmp_path), tmp_path) as (dev, url, server_pid):
        assert any(line.startswith("migrated: ") for line in dev.seen)
        assert_processes_a_job_end_to_end(dev, url, {"type": "noop", "payload": {"i": 1}})
        postmaster_pid = int((pgdata / "postmaster.pid").read_text().split()[0])
    assert_stopped_cleanly(dev, server_pid, url)
    deadline = time.monotonic() + 20
    while not is_gone(os.kill, postmaster_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert is_gone(os.kill, postmaster_pid), "the embedded PostgreSQL is still running"
    assert not (pgdata / "postmaster.pid").exists()


