"""Fixtures for the worker function: the app through functions-framework's test client,
and real `functions-framework` server processes on local ports.

Real: PostgreSQL (a fresh migrated database per test), functions-framework, Flask,
gunicorn. Nothing is faked.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask.testing import FlaskClient

from shared.api import actions as http_api
from shared.config import REPO_ROOT

SECRET = "test-worker-secret"
AUTH = {"Authorization": f"Bearer {SECRET}"}
READONLY_SECRET = "test-readonly-secret"
READONLY_AUTH = {"Authorization": f"Bearer {READONLY_SECRET}"}
SOURCE = str(REPO_ROOT / "functions" / "queue_worker" / "main.py")
# Settings the function reads; cleared so the machine's environment cannot leak in.
ENV_NAMES = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "QUEUE_WORKER_SECRET",
             "QUEUE_WORKER_READONLY_SECRET", "QUEUE_WORKER_ALLOW_UNAUTHENTICATED",
             "QUEUE_WORKER_TIME_BUDGET_SECONDS",
             "QUEUE_WORKER_DEFAULT_BATCH", "QUEUE_WORKER_MAX_BODY_BYTES", "DB_POOL_MAX", "LOCAL_DIR",
             "MIGRATIONS_DIR")


@pytest.fixture
def worker_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The environment of a deployed function: DATABASE_URL and a secret; settings re-read."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("QUEUE_WORKER_SECRET", SECRET)
    monkeypatch.setenv("QUEUE_WORKER_READONLY_SECRET", READONLY_SECRET)
    http_api.reset()
    yield
    http_api.reset()


@pytest.fixture
def client(worker_env: None) -> FlaskClient:
    """functions-framework's app for our target, as its own tests drive it."""
    import functions_framework

    app = functions_framework.create_app(target="queue_worker", source=SOURCE)  # type: ignore[no-untyped-call]
    test_client: FlaskClient = app.test_client()
    return test_client




def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ENV_NAMES}
    return env | {"DATABASE_URL": db_url, "QUEUE_WORKER_SECRET": SECRET, "THREADS": "8"} | extra


def functions_framework_command(port: int) -> list[str]:
    bin_dir = Path(sys.executable).parent
    return [str(bin_dir / "functions-framework"), "--source", SOURCE, "--target", "queue_worker",
            "--host", "127.0.0.1", "--port", str(port)]


def wait_until_serving(base_url: str, process: subprocess.Popen[Any], timeout: float = 30.0) -> None:
    """Poll until the server answers HTTP (any status); fail if it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"functions-framework exited with {process.returncode}")
        try:
            httpx.get(base_url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(f"{base_url} did not answer within {timeout} s")


def stop_process_group(process: subprocess.Popen[Any], timeout: float = 10.0) -> None:
    """SIGTERM the process group, then SIGKILL what is left after `timeout`."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


@contextmanager
def serving(db_url: str, **env: str) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    """A real `functions-framework` server for our function on a free local port."""
    port = free_port()
    process = subprocess.Popen(functions_framework_command(port), env=server_env(db_url, **env),
                               cwd=REPO_ROOT, start_new_session=True)
    base_url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_serving(base_url, process)
        yield base_url, process
    finally:
        stop_process_group(process)
