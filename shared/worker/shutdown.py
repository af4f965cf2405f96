"""Stopping cleanly: running invocations when the server is told to shut down (SIGTERM),
and the CLI's long-running commands on Ctrl-C or SIGTERM.

Cloud Run and Lambda send SIGTERM, then kill the process a few seconds later. A
`process` request in flight must then stop claiming and give back the jobs it has not
started. Each request registers a stop event here; SIGTERM sets them all.

functions-framework serves with gunicorn, whose worker process installs its own SIGTERM
handler after it forks (so a handler set when our module is imported would be
replaced). We therefore wrap gunicorn's worker exit handler, which still does its usual
graceful shutdown afterwards.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

# What a terminal user's stop looks like: Ctrl-C, `kill`, and closing the terminal (SIGHUP,
# which would otherwise kill the CLI before it cleans up: a leaked server, a held port).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_lock = threading.Lock()
_events: set[threading.Event] = set()


@contextmanager
def stop_on_shutdown() -> Iterator[threading.Event]:
    """An event that is set when the process is asked to shut down while the block runs."""
    event = threading.Event()
    with _lock:
        _events.add(event)
    try:
        yield event
    finally:
        with _lock:
            _events.discard(event)


def stop_all() -> int:
    """Set every registered stop event; returns how many there were."""
    with _lock:
        events = list(_events)
    for event in events:
        event.set()
    return len(events)


def _wrapped(handler: Callable[..., Any]) -> Callable[..., Any]:
    def handle_exit(self: Any, sig: int, frame: FrameType | None) -> Any:
        stop_all()
        return handler(self, sig, frame)

    handle_exit.queue_worker_wrapped = True  # type: ignore[attr-defined]
    return handle_exit


def install_gunicorn_hook() -> None:
    """Make gunicorn's worker SIGTERM handler stop our invocations first (idempotent)."""
    try:
        from gunicorn.workers.base import Worker  # type: ignore[import-untyped]
        from gunicorn.workers.gthread import ThreadWorker  # type: ignore[import-untyped]
    except ImportError:  # not served by gunicorn (Windows, flask dev server)
        return
    for cls in (Worker, ThreadWorker):
        handler = cls.__dict__.get("handle_exit")
        if handler is not None and not getattr(handler, "queue_worker_wrapped", False):
            setattr(cls, "handle_exit", _wrapped(handler))  # noqa: B010


@contextmanager
def stop_on_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT (Ctrl-C), SIGTERM or SIGHUP while the block runs, instead of dying
    before cleaning up; the previous handlers come back afterwards. Main thread only."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def stop_then_exit_on_signals(on_stop: Callable[[str], None],
                              on_exit: Callable[[str], None]) -> Iterator[threading.Event]:
    """Like stop_on_signals for a long-running worker: the first stop signal sets the
    event (and calls `on_stop` with the signal's name); a second one calls `on_exit`, then
    ends the process at once with 128 + the signal number, jobs still running left to
    their locks (cleanup_stuck_jobs gives them back). Main thread only."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            on_exit(name)
            os._exit(128 + signum)
        stop.set()
        on_stop(name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
