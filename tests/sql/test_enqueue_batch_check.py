"""enqueue_jobs' one-pass check (queue.enqueue_batch_is_plainly_valid): it calls a batch clean
only when the per-element checks would pass it, so a clean verdict never lets a bad job in,
and every bad element still gets the per-element error naming it.

Real: PostgreSQL, the migrations' functions. Faked: nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, sqlstate_of, value

OWNER = "11111111-1111-4111-8111-111111111111"
# Elements at the edges of what the per-element checks accept or refuse.
EDGES: list[Any] = [
    {"type": "noop"},
    {"type": "noop", "payload": {}, "priority": "critical", "max_attempts": 1000, "owner_id": OWNER},
    {"type": "noop", "max_attempts": "3"},
    {"type": "noop", "max_attempts": None, "owner_id": None, "depends_on": None},
    {"type": "noop", "max_attempts": 0},
    {"type": "noop", "max_attempts": 1001},
    {"type": "noop", "max_attempts": 2.5},
    {"type": "noop", "max_attempts": "x"},
    {"type": "noop", "priority": "urgent"},
    {"type": "noop", "priority": None},
    {"type": "noop", "payload": []},
    {"type": "noop", "payload": None},
    {"type": "noop", "owner_id": "not-a-uuid"},
    {"type": "noop", "owner_id": OWNER.upper()},
    {"type": "nope"},
    {"type": None},
    {},
    "noop",
    {"type": "noop", "depends_on": "x"},
    {"type": "noop", "depends_on": []},
]


def _plain(conn: Conn, jobs: list[Any]) -> bool:
    return bool(value(conn, "select queue.enqueue_batch_is_plainly_valid(%s)", (Jsonb(jobs),)))


@pytest.mark.parametrize("element", EDGES, ids=[repr(e) for e in EDGES])
def test_a_clean_verdict_means_the_per_element_checks_pass(conn: Conn, element: Any) -> None:
    batch = [{"type": "noop"}, element]
    if _plain(conn, batch):
        assert len(conn.execute("select * from enqueue_jobs(%s)", (Jsonb(batch),)).fetchall()) == 2
    else:  # the per-element checks decide: they pass it, or name the element
        error: psycopg.Error | None = None
        try:
            conn.execute("select * from enqueue_jobs(%s)", (Jsonb(batch),))
        except psycopg.Error as exc:
            error = exc
        assert error is None or "element 2" in str(error), error


def test_clean_batches_take_the_one_pass_and_bad_ones_do_not(conn: Conn) -> None:
    assert _plain(conn, [{"type": "noop", "payload": {"n": i}} for i in range(100)])
    assert not _plain(conn, [{"type": "noop"}] * 99 + [{"type": "noop", "priority": "urgent"}])
    bad = Jsonb([{"type": "noop"}] * 99 + [{"type": "noop", "priority": "urgent"}])
    error = sqlstate_of(lambda: conn.execute("select * from enqueue_jobs(%s)", (bad,)))
    assert error.sqlstate == "22QP1"
    assert "p_jobs element 100" in str(error)
    assert value(conn, "select count(*) from job_queue") == 0
