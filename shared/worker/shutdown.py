"""Stopping cleanly: running invocations when the server is told to shut down (SIGTERM),
and the CLI's long-running commands on Ctrl-C or SIGTERM.

Cloud Run and Lambda send SIGTERM, then kill the process a few seconds later. A
`process` request in flight must then stop claiming and give back the jobs it has not
started; the jobs it runs get QUEUE_WORKER_STOP_GRACE_SECONDS to finish, then are given
back too (shared/worker/stopping.py). Each request registers a StopEvent here; SIGTERM
sets them all, a second SIGTERM ends their grace period at once.

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
_events: set[StopEvent] = set()
# After a second signal, the process ends by itself this long after it asked its jobs to be
# given back at once: a database that does not answer must not keep it from stopping.
HURRY_EXIT_SECONDS = 5.0


class StopEvent(threading.Event):
    """Set: claim and start nothing more; the running jobs have their grace period.
    `hurry()` (a second signal) also ends the grace period: they are given back now."""

    def __init__(self) -> None:
        super().__init__()
        self._hurried = threading.Event()
        self.exit_status = 0  # what a CLI exits with: 128 + the signal's number after a second one

    def hurry(self) -> None:
        self._hurried.set()
        self.set()

    def hurried(self) -> bool:
        return self._hurried.is_set()


def is_hurried(stop: threading.Event) -> bool:
    """Whether `stop` asks for running jobs to be given back now (a plain Event never does)."""
    return isinstance(stop, StopEvent) and stop.hurried()


@contextmanager
def stop_on_shutdown() -> Iterator[StopEvent]:
    """An event that is set when the process is asked to shut down while the block runs."""
    event = StopEvent()
    with _lock:
        _events.add(event)
    try:
        yield event
    finally:
        with _lock:
            _events.discard(event)


def stop_all() -> int:
    """Set every registered stop event (hurry those already set: a second signal); returns
    how many there were."""
    with _lock:
        events = list(_events)
    for event in events:
        if event.is_set():
            event.hurry()
        else:
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
def stop_on_signals(on_stop: Callable[[str], None] | None = None,
                    on_again: Callable[[str], None] | None = None) -> Iterator[StopEvent]:
    """An event set by SIGINT (Ctrl-C), SIGTERM or SIGHUP while the block runs, instead of dying
    before cleaning up; `on_stop` is called with the first signal's name. A further signal
    hurries the event (running jobs are given back now) and calls `on_again`. The previous
    handlers come back afterwards. Main thread only."""
    stop = StopEvent()

    def handler(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop.is_set():
            stop.hurry()
            if on_again is not None:
                on_again(name)
            return
        stop.set()
        if on_stop is not None:
            on_stop(name)

    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def stop_then_exit_on_signals(on_stop: Callable[[str], None],
                              on_exit: Callable[[str], None]) -> Iterator[StopEvent]:
    """Like stop_on_signals for a long-running worker: the first stop signal sets the
    event (and calls `on_stop` with the signal's name); a second one calls `on_exit` and
    hurries it: the running jobs are given back at once, and the command exits with
    128 + the signal number (`exit_status`). Should giving back hang, the process ends by
    itself HURRY_EXIT_SECONDS later, leaving those jobs to their locks. Main thread only."""
    def again(name: str) -> None:
        status = 128 + signal.Signals[name].value
        if stop.exit_status:  # a third signal: no more waiting
            os._exit(status)
        stop.exit_status = status
        on_exit(name)
        timer = threading.Timer(HURRY_EXIT_SECONDS, os._exit, args=(status,))
        timer.daemon = True
        timer.start()

    with stop_on_signals(on_stop, again) as stop:
        yield stop
