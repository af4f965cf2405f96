"""`queue-worker dev`: the whole stack on one machine, the README's first command.

Starts (or attaches to) the embedded PostgreSQL unless DATABASE_URL is set, migrates,
serves the function with functions-framework on localhost, POSTs it when the database
notifies that jobs arrived (shared/local/kick_listener.py), and ticks it like Cloud
Scheduler would (plus the maintenance pg_cron does in production) as the backstop.
Ctrl-C, SIGTERM or SIGHUP (the terminal closed) stops everything: the server's whole
process group is sent SIGTERM (its running jobs get QUEUE_WORKER_STOP_GRACE_SECONDS, then
are given back; it says which on our stdout), a second signal is passed on (given back at
once), and the embedded PostgreSQL is stopped by its handle when this process exits. A
`dev` killed outright (SIGKILL) is cleaned up by the next start (shared/local/stale_stack.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

import httpx

from shared.config import REPO_ROOT, Settings
from shared.local import stale_stack
from shared.local.database import describe, migrate_database, sql_database_url
from shared.local.kick_listener import CHANNEL, start_kicks
from shared.local.scheduler import Scheduler
from shared.providers.outbox import outbox_dir
from shared.queue.errors import QueueError
from shared.queue.postgres import PostgresBackend
from shared.worker.shutdown import stop_on_signals

SOURCE = REPO_ROOT / "functions" / "queue_worker" / "main.py"
# What the server may take beyond the grace period to give back its jobs and exit.
SERVER_STOP_MARGIN_SECONDS = 5.0
RELAY_DRAIN_SECONDS = 5.0  # at most, for the relay to print what a stopped server wrote last
_relays: dict[int, threading.Thread] = {}  # server pid -> the thread relaying its stderr


@dataclass(frozen=True)
class DevOptions:
    port: int = 8080
    every: float = 60.0
    host: str = "127.0.0.1"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def server_command(options: DevOptions) -> list[str]:
    return [sys.executable, "-m", "functions_framework", "--source", str(SOURCE), "--target", "queue_worker",
            "--host", options.host, "--port", str(options.port)]


def start_server(database_url: str, settings: Settings, options: DevOptions) -> subprocess.Popen[bytes]:
    """functions-framework in its own process group (so stopping it stops its workers too),
    its log lines passed through `relay_logs`."""
    env = os.environ | {"DATABASE_URL": database_url, "QUEUE_WORKER_ALLOW_UNAUTHENTICATED": "1",
                        "LOCAL_DIR": str(settings.local_dir), "PYTHONUNBUFFERED": "1"}
    server = subprocess.Popen(server_command(options), env=env, cwd=REPO_ROOT, start_new_session=True,
                              stderr=subprocess.PIPE)
    relay = threading.Thread(target=relay_logs, args=(server,), name="queue-worker-dev-logs", daemon=True)
    relay.start()
    _relays[server.pid] = relay
    return server


def is_routine(line: bytes) -> bool:
    """A log line that says nothing happened: a successful request, an empty invocation."""
    try:
        entry = json.loads(line)
    except ValueError:
        return False
    if not isinstance(entry, dict):
        return False
    message = entry.get("message")
    return (message == "request" and int(entry.get("status", 500)) < 400) or (
        message == "invocation finished" and not entry.get("claimed"))


def stopping_message(line: bytes) -> str | None:
    """The message of a `stopping: ...` log line (what a stop waits for and gives back), else None."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    message = entry.get("message") if isinstance(entry, dict) else None
    return message if isinstance(message, str) and message.startswith("stopping:") else None


def relay_logs(server: subprocess.Popen[bytes]) -> None:
    """Copy the server's stderr to ours, without the once-a-tick routine lines; what a stop
    waits for goes to stdout as plain text, beside our other messages to the person."""
    assert server.stderr is not None
    for line in server.stderr:
        if (message := stopping_message(line)) is not None:
            print(f"queue-worker dev: {message}", flush=True)
        elif not is_routine(line):
            sys.stderr.buffer.write(line)
            sys.stderr.flush()


def wait_until_serving(server: subprocess.Popen[bytes], url: str, stop: threading.Event,
                       timeout: float = 60.0) -> None:
    """Return once the server answers (or `stop` is set); QueueError if it dies or times out."""
    deadline = time.monotonic() + timeout
    while server.poll() is None and time.monotonic() < deadline and not stop.is_set():
        try:
            httpx.get(url + "?action=health", timeout=5.0)  # any answer will do
            return
        except httpx.TransportError:
            time.sleep(0.1)
    if stop.is_set():
        return
    exited = server.poll()
    raise QueueError(f"the function did not start serving on {url}"
                     + (f" (functions-framework exited with {exited})" if exited is not None else ""))


class StopSignals:
    """What `dev` says on a stop signal, and a second one passed on to the server, whose
    invocations then give their running jobs back at once."""

    def __init__(self, grace_seconds: float) -> None:
        self.grace_seconds = grace_seconds
        self.server: subprocess.Popen[bytes] | None = None

    def first(self, name: str) -> None:
        print(f"queue-worker dev: {name}: stopping; running jobs have {self.grace_seconds:g}s to finish, "
              f"then are given back ({name} again: at once)", flush=True)

    def again(self, name: str) -> None:
        """The whole group this time: gunicorn's worker sees its second SIGTERM."""
        print(f"queue-worker dev: {name} again: giving back the running jobs now", flush=True)
        if self.server is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.server.pid, signal.SIGTERM)


def stop_server(server: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM the server (gunicorn's master, which passes it on to its worker once: a
    second SIGTERM would end the worker's grace period); SIGKILL its whole process group
    if anything is still there after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            (os.kill if sig == signal.SIGTERM else os.killpg)(server.pid, sig)
        except ProcessLookupError:
            break
        try:
            server.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        try:  # the group may outlive its leader for a moment (gunicorn's worker)
            os.killpg(server.pid, 0)
        except ProcessLookupError:
            break
    server.poll()
    relay = _relays.pop(server.pid, None)
    if relay is not None:  # its last lines (what it gave back) are printed before we say "stopped"
        relay.join(RELAY_DRAIN_SECONDS)


def banner(options: DevOptions, database_url: str, settings: Settings, server_pid: int) -> str:
    """What is running, where local output goes, and the curl lines to try."""
    auth = ' -H "Authorization: Bearer $QUEUE_WORKER_SECRET"' if settings.worker_secret else ""
    url, email = options.url, '{"to": "ada@example.com", "subject": "Hello", "text": "It works."}'
    return "\n".join([
        f"queue-worker dev: function on {url} (server pid {server_pid}), database {describe(database_url)}",
        f"scheduler: POST {url} every {options.every:g}s (the backstop); jobs start on enqueue: "
        f"LISTEN {CHANNEL} -> POST {url}",
        f"dashboard: {url}dashboard",
        f"local output: emails in {outbox_dir(settings)}, audio in {settings.local_dir / 'audio'}",
        "try:",
        f"  curl -s -X POST{auth} '{url}?action=enqueue' -H 'Content-Type: application/json' "
        f"-d '{{\"type\": \"email\", \"payload\": {email}}}'",
        f"  curl -s -X POST{auth} '{url}'                  # process now",
        f"  curl -s{auth} '{url}?action=health'",
        f"  curl -s{auth} '{url}?action=stats'",
        "  queue-worker psql                 # a SQL prompt here; -c 'select ...' runs one statement",
        "ready. Ctrl-C stops everything.",
    ])


def run_dev(settings: Settings, options: DevOptions) -> int:
    """Run the stack until Ctrl-C, SIGTERM or SIGHUP, or until the server dies (status 1).
    First clears what an earlier `dev` that was killed left behind, saying what it did."""
    for message in stale_stack.take_over(settings.local_dir):
        print(f"queue-worker dev: {message}", flush=True)
    if not port_is_free(options.host, options.port):
        raise QueueError(f"port {options.port} on {options.host} is in use", hint="pass --port")
    signals = StopSignals(settings.queue_worker_stop_grace_seconds)
    with stop_on_signals(signals.first, signals.again) as stop:
        return run_stack(settings, options, stop, signals)


def run_stack(settings: Settings, options: DevOptions, stop: threading.Event,
              signals: StopSignals | None = None) -> int:
    """Database, migrations, server, scheduler; everything stopped again on the way out."""
    database_url = sql_database_url(settings)
    for migration in migrate_database(database_url, settings):
        print(f"migrated: {migration.name}", flush=True)
    backend = PostgresBackend(database_url, max_size=2)
    scheduler = Scheduler(options.url, options.every, backend, settings, stop)
    server = start_server(database_url, settings, options)
    if signals is not None:
        signals.server = server
    stale_stack.record(settings.local_dir, stale_stack.DevState(os.getpid(), server.pid, options.port))
    try:
        return serve(server, scheduler, options, banner(options, database_url, settings, server.pid), stop,
                     database_url)
    finally:
        stop.set()
        # SIGTERM: the function stops claiming, gives its running jobs their grace period,
        # then gives back the rest; killed only if that takes much longer.
        stop_server(server, settings.queue_worker_stop_grace_seconds + SERVER_STOP_MARGIN_SECONDS)
        if scheduler.is_alive():
            scheduler.join(10)
        backend.close()
        stale_stack.clear(settings.local_dir)
        print("queue-worker dev: stopped", flush=True)


def serve(server: subprocess.Popen[bytes], scheduler: Scheduler, options: DevOptions, text: str,
          stop: threading.Event, database_url: str) -> int:
    """Wait for the server, print the banner, tick and kick until stopped; 1 if the server died."""
    wait_until_serving(server, options.url, stop)
    if stop.is_set():
        return 0
    print(text, flush=True)
    scheduler.start()
    start_kicks(database_url, scheduler.trigger, stop)
    while not stop.wait(0.5):
        if server.poll() is not None:
            print(f"queue-worker dev: the function server exited with {server.returncode}", flush=True)
            return 1
    return 0
