"""enqueue_job and enqueue_jobs: defaults, idempotency, and identical calls racing.

Real: PostgreSQL (embedded 18 or TEST_DATABASE_URL), one real connection per thread.
Faked: nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, connect, enqueue, history, job, value

RACERS = 12


def test_a_new_job_is_pending_with_its_types_defaults_and_a_history_row(conn: Conn) -> None:
    job_id = enqueue(conn, "email", payload={"to": "a@example.com"})
    row = job(conn, job_id)
    assert (row["status"], row["priority"], row["attempts"], row["max_attempts"]) == (
        "pending",
        "normal",
        0,
        5,
    )
    assert row["payload"] == {"to": "a@example.com"}
    assert row["owner_id"] is None
    assert history(conn, job_id) == [(None, "pending")]


def test_the_same_idempotency_key_returns_the_same_id_and_creates_nothing(conn: Conn) -> None:
    first = enqueue(conn, "noop", idempotency_key="k1")
    again = enqueue(conn, "noop", idempotency_key="k1", payload={"different": True})
    assert again == first
    assert value(conn, "select count(*) from job_queue") == 1
    assert value(conn, "select count(*) from job_status_history") == 1
    assert job(conn, first)["payload"] == {}


def test_the_same_key_under_another_type_is_another_job(conn: Conn) -> None:
    assert enqueue(conn, "noop", idempotency_key="k") != enqueue(conn, "email", idempotency_key="k")


def _race(db_url: str, call: Any) -> list[Any]:
    """Run `call(conn)` on RACERS connections released at the same instant."""
    barrier = threading.Barrier(RACERS, timeout=30)

    def one(_: int) -> Any:
        with connect(db_url) as c:
            barrier.wait()
            return call(c)

    with ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(one, range(RACERS), timeout=60))


def test_concurrent_identical_enqueues_make_one_job_with_one_id(conn: Conn, db_url: str) -> None:
    ids = _race(db_url, lambda c: enqueue(c, "noop", idempotency_key="race", payload={"n": 1}))
    assert len(set(ids)) == 1
    assert value(conn, "select count(*) from job_queue") == 1
    assert history(conn, ids[0]) == [(None, "pending")]


def _enqueue_batch(c: Conn, jobs: list[dict[str, Any]]) -> list[UUID]:
    return [row["id"] for row in c.execute("select enqueue_jobs as id from enqueue_jobs(%s)", (Jsonb(jobs),))]


def test_concurrent_identical_batches_make_each_job_once(conn: Conn, db_url: str) -> None:
    batch = [{"type": "noop", "idempotency_key": f"b{i}"} for i in range(20)]
    results = _race(db_url, lambda c: _enqueue_batch(c, batch))
    assert all(ids == results[0] for ids in results)
    assert len(set(results[0])) == 20
    assert value(conn, "select count(*) from job_queue") == 20
    assert value(conn, "select count(*) from job_status_history") == 20


def test_a_batch_returns_ids_in_input_order_with_existing_keys_resolved(conn: Conn) -> None:
    existing = enqueue(conn, "noop", idempotency_key="old")
    ids = _enqueue_batch(
        conn,
        [
            {"type": "email", "payload": {"n": 1}, "priority": "high"},
            {"type": "noop", "idempotency_key": "old"},
            {"type": "noop", "idempotency_key": "twice"},
            {"type": "noop", "idempotency_key": "twice"},
        ],
    )
    assert ids[1] == existing
    assert ids[2] == ids[3]
    assert len({ids[0], ids[1], ids[2]}) == 3
    assert job(conn, ids[0])["priority"] == "high"
    assert value(conn, "select count(*) from job_queue") == 3


def test_a_batch_keeps_every_field_of_each_element(conn: Conn) -> None:
    dep = enqueue(conn)
    owner = "6f1c8f36-6d5c-4a59-8a38-3b3e0c6f0a11"
    [job_id] = _enqueue_batch(
        conn,
        [
            {
                "type": "email",
                "payload": {"a": 1},
                "priority": "low",
                "run_at": "2030-01-01T00:00:00Z",
                "max_attempts": 9,
                "depends_on": [str(dep)],
                "idempotency_key": "i",
                "rate_limit_key": "r",
                "owner_id": owner,
            }
        ],
    )
    row = job(conn, job_id)
    assert (row["priority"], row["max_attempts"], row["depends_on"], row["rate_limit_key"]) == (
        "low",
        9,
        [dep],
        "r",
    )
    assert str(row["owner_id"]) == owner
    assert row["run_at"].year == 2030


def test_an_empty_batch_enqueues_nothing(conn: Conn) -> None:
    assert _enqueue_batch(conn, []) == []
    assert value(conn, "select count(*) from job_queue") == 0
