"""The direct backend's connections: a small pool for short-lived function invocations.

Why not psycopg_pool: its connections are opened by a background thread that, once an
attempt fails, retries with exponential backoff (about 1, 3, 7, 15, 31 s), so after an
outage the first request could wait up to half a minute after the database was back.
Here a request that finds no idle connection opens one itself, at once: during an outage
it fails fast with the driver's reason (HTTP 503), and the first request after the
outage works. Idle connections are checked before use without a round trip: a backend
that was killed (pg_terminate_backend, a restart) has sent its FATAL message or closed
the socket, so its socket reads as ready; such a connection is closed and replaced, and
a killed idle backend costs a reconnect, not an invocation.
"""

from __future__ import annotations

import logging
import select
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus

from shared.logs import get_logger, log_event
from shared.queue.errors import DatabaseUnavailable

Conn = psycopg.Connection[dict[str, Any]]
# An idle connection older than this is closed rather than reused: a NAT or pooler may
# have dropped it without a word, and a statement on it would hang until TCP gives up.
MAX_IDLE_SECONDS = 300.0


class _NoConnection(DatabaseUnavailable):
    """No connection to run a statement on. Callers see DatabaseUnavailable, as on every
    backend; the subclasses only tell PostgresBackend that trying again at once is useless."""

    def to_dict(self) -> dict[str, str | None]:
        return {**super().to_dict(), "error": DatabaseUnavailable.__name__}


class ConnectionsBusy(_NoConnection):
    """Every connection stayed in use for the whole wait (the database itself may be fine)."""


class CannotConnect(_NoConnection):
    """Opening a connection failed (refused, no answer, authentication): nothing ran."""


class Connections:
    """At most `max_size` connections in use; idle ones reused, newest first."""

    def __init__(self, conninfo: str, kwargs: dict[str, Any], *, max_size: int, wait_seconds: float,
                 connect_timeout: int) -> None:
        self._conninfo, self._kwargs = conninfo, dict(kwargs)
        if "connect_timeout" not in conninfo_to_dict(conninfo):
            self._kwargs["connect_timeout"] = connect_timeout
        self._max_size, self._wait_seconds = max_size, wait_seconds
        self._slots = threading.BoundedSemaphore(max_size)
        self._idle: list[tuple[Conn, float]] = []  # (connection, monotonic time it came back)
        self._lock = threading.Lock()
        self._closed = False
        get_logger()  # from the first connection on, psycopg's own log records are JSON lines too

    @contextmanager
    def connection(self) -> Iterator[Conn]:
        """A live connection for one statement; returned (or discarded when broken) after."""
        if not self._slots.acquire(timeout=self._wait_seconds):
            raise ConnectionsBusy(
                f"all {self._max_size} database connections stayed busy for {self._wait_seconds:g} s",
                hint="retry later, or raise DB_POOL_MAX")
        conn: Conn | None = None
        try:
            conn = self._take()
            yield conn
        finally:
            if conn is not None:
                self._give_back(conn)
            self._slots.release()

    def close(self) -> None:
        """Close the idle connections; those in use are closed when they come back."""
        with self._lock:
            self._closed, idle, self._idle = True, self._idle, []
        for conn, _ in idle:
            conn.close()

    def _take(self) -> Conn:
        while (idle := self._pop()) is not None:
            conn, since = idle
            if time.monotonic() - since > MAX_IDLE_SECONDS:
                conn.close()
                continue
            if usable(conn):
                return conn
            log_event(logging.WARNING, "discarding a broken idle database connection")
            conn.close()
        try:
            return psycopg.Connection[dict[str, Any]].connect(self._conninfo, **self._kwargs)
        except psycopg.OperationalError as exc:
            raise CannotConnect(str(exc).strip(),
                                hint="check DATABASE_URL and that the server is up") from exc

    def _pop(self) -> tuple[Conn, float] | None:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def _give_back(self, conn: Conn) -> None:
        if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
            conn.close()  # broken mid-statement, or left in a transaction: never reuse
            return
        with self._lock:
            if not self._closed:
                self._idle.append((conn, time.monotonic()))
                return
        conn.close()


def usable(conn: Conn) -> bool:
    """Whether an idle autocommit connection still works, without a round trip: the
    server sends nothing unasked (no LISTEN here), so a readable socket means it said
    goodbye (FATAL on termination) or closed the connection."""
    if conn.closed or conn.info.transaction_status != TransactionStatus.IDLE:
        return False
    try:
        return not _readable(conn.fileno())
    except (OSError, ValueError, psycopg.Error):
        return False


def _readable(fd: int) -> bool:
    if hasattr(select, "poll"):  # no FD_SETSIZE limit, unlike select()
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # Windows has no poll()
