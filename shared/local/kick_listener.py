"""The kick on enqueue for `queue-worker dev`: LISTEN queue_worker_jobs, POST the function.

The database notifies `queue_worker_jobs` when ready jobs arrive (migration
20260105000110_kick_on_enqueue.sql). Each notification asks for one POST; while a POST is in
flight, any number of further notifications ask for exactly one more, sent when it returns,
so a job that arrived while the function was finishing is not left for the tick. The
scheduler's tick stays the backstop: a notification lost with the connection costs at most
one tick. The connection is opened again after a loss.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import psycopg

from shared.local.scheduler import say

CHANNEL = "queue_worker_jobs"
RECONNECT_SECONDS = 2.0
POLL_SECONDS = 0.5  # how often a quiet listener looks at `stop`


class KickPoster(threading.Thread):
    """Runs `post` once per `want()`, coalescing: wanted again while posting -> one more post."""

    def __init__(self, post: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name="queue-worker-dev-kick-poster", daemon=True)
        self.post, self.stop = post, stop
        self._wanted = threading.Event()

    def want(self) -> None:
        self._wanted.set()

    def run(self) -> None:
        while not self.stop.is_set():
            if self._wanted.wait(POLL_SECONDS):
                self._wanted.clear()  # before posting: a kick during the POST asks for one more
                if not self.stop.is_set():
                    self.post()


class KickListener(threading.Thread):
    """LISTENs on its own connection and calls `kicked()` for every notification."""

    def __init__(self, database_url: str, kicked: Callable[[], None], stop: threading.Event) -> None:
        super().__init__(name="queue-worker-dev-kick-listener", daemon=True)
        self.database_url, self.kicked, self.stop = database_url, kicked, stop
        self.listening = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                self.listening.clear()
                if not self.stop.is_set():
                    say(f"kick listener lost its connection ({exc}); the tick runs jobs until it is back")
                self.stop.wait(RECONNECT_SECONDS)

    def _listen(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            conn.execute(f"listen {CHANNEL}")
            self.listening.set()
            self.kicked()  # jobs may have arrived before we listened
            while not self.stop.is_set():
                for _ in conn.notifies(timeout=POLL_SECONDS):
                    self.kicked()


def start_kicks(database_url: str, post: Callable[[], None], stop: threading.Event) -> KickListener:
    """Start the poster and the listener; returns the listener (its `listening` is set once it listens)."""
    poster = KickPoster(post, stop)
    poster.start()
    listener = KickListener(database_url, poster.want, stop)
    listener.start()
    return listener
