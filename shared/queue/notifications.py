"""Wake-ups from the database: LISTEN on `queue_worker_jobs`, where enqueues NOTIFY.

The enqueue side sends `pg_notify('queue_worker_jobs', '{"types": [...]}')` when ready
jobs arrive. A resident worker keeps one dedicated autocommit connection listening, so a
notification sent while it was busy waits in that connection and wakes the next wait:
none is lost between "nothing ready" and "waiting".

Transaction-mode poolers (Supavisor on port 6543, PgBouncer in transaction mode) hand
each transaction to any server connection, so a LISTEN does not stay with the client and
notifications never arrive: `listen_blocker` names what the URL shows, and the self-test
at start (a NOTIFY to ourselves that must come back within a second) catches the rest.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict

from shared.queue.errors import DatabaseUnavailable

CHANNEL = "queue_worker_jobs"
TRANSACTION_POOLER_PORT = "6543"  # Supavisor's (and Supabase's pooler's) transaction mode
SELF_TEST_SECONDS = 1.0
APPLICATION_NAME = "queue-worker listen"  # how pg_stat_activity shows the listening connection


def listen_blocker(url: str) -> str | None:
    """Why LISTEN cannot work through `url` (a transaction-mode pooler), or None."""
    if "pgbouncer" in url.lower():
        return "the connection string names pgbouncer (transaction pooling drops LISTEN)"
    try:
        port = str(conninfo_to_dict(url).get("port") or "")
    except psycopg.ProgrammingError:
        return None  # not ours to judge: connecting will say what is wrong
    if port == TRANSACTION_POOLER_PORT:
        return "port 6543 is the transaction-mode pooler (Supavisor), which drops LISTEN"
    return None


@contextmanager
def _driver_errors(doing: str) -> Iterator[None]:
    """psycopg's errors as DatabaseUnavailable, the one error callers handle."""
    try:
        yield
    except psycopg.Error as exc:
        raise DatabaseUnavailable(f"{doing}: {str(exc).strip()}",
                                  hint="check DATABASE_URL and that the server is up") from exc


class JobNotifications:
    """A listening connection: `wait(timeout)` returns True when jobs of interest arrived.
    Every method raises DatabaseUnavailable when the connection fails or is lost."""

    def __init__(self, url: str, types: Sequence[str] | None = None) -> None:
        with _driver_errors(f"cannot LISTEN on {CHANNEL}"):
            self._conn = psycopg.connect(url, autocommit=True, connect_timeout=10,
                                         application_name=APPLICATION_NAME)
            self._conn.execute(f"listen {CHANNEL}")
        self._types = set(types) if types else None
        self._token = uuid.uuid4().hex

    def self_test(self, within: float = SELF_TEST_SECONDS) -> bool:
        """NOTIFY ourselves and see it come back: False behind a pooler that drops LISTEN."""
        with _driver_errors("the LISTEN self-test failed"):
            return self._self_test(within)

    def _self_test(self, within: float) -> bool:
        self._conn.execute("select pg_notify(%s, %s)", (CHANNEL, json.dumps({"self_test": self._token})))
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            for notify in self._conn.notifies(timeout=left, stop_after=1):
                if _payload(notify.payload).get("self_test") == self._token:
                    return True
        return False

    def wait(self, timeout: float) -> bool:
        """Block up to `timeout` s for a notification about our types; then take every
        notification already queued too (one wake for a burst)."""
        with _driver_errors("lost the LISTEN connection"):
            return self._wait(timeout)

    def _wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            if self._relevant(self._conn.notifies(timeout=left, stop_after=1)):
                self._relevant(self._conn.notifies(timeout=0))
                return True
        return False

    def _relevant(self, notifies: Iterable[psycopg.Notify]) -> bool:
        found = False
        for notify in notifies:
            found = self.wanted(_payload(notify.payload)) or found
        return found

    def wanted(self, payload: dict[str, Any]) -> bool:
        """A self-test is not work; a payload without a list of types may be any type."""
        if "self_test" in payload:
            return False
        types = payload.get("types")
        if self._types is None or not isinstance(types, list):
            return True
        return bool(self._types.intersection(t for t in types if isinstance(t, str)))

    def close(self) -> None:
        self._conn.close()


def _payload(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
