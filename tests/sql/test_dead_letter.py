"""fail_job's dead letter (permanent and exhausted) and retry_dead_letter_job's replay.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

from tests.sql.factories import (
    Conn,
    assert_history_matches_states,
    claim,
    connect,
    history,
    job,
    make_job,
    value,
)


def _letter(conn: Conn, job_id: UUID) -> dict[str, object]:
    row = conn.execute("select * from job_dead_letter where job_id = %s", (job_id,)).fetchone()
    assert row is not None
    return row


def _fail_until_dead(conn: Conn, job_id: UUID) -> list[str]:
    outcomes = []
    for n in range(10):
        outcome = value(conn, "select fail_job(%s, %s, true, 0, 'w1')", (job_id, f"error {n + 1}"))
        outcomes.append(outcome)
        if outcome == "dead_lettered":
            return outcomes
        assert [row["id"] for row in claim(conn, "w1", types=["audio"])] == [job_id]
    raise AssertionError("never dead-lettered")


def test_a_permanent_failure_moves_the_job_to_the_dead_letter_at_once(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email", payload={"to": "x@example.com"}, idempotency_key="k")
    outcome = value(conn, "select fail_job(%s, 'invalid address', false, null, 'w1')", (job_id,))
    assert outcome == "dead_lettered"
    assert value(conn, "select count(*) from job_queue where id = %s", (job_id,)) == 0
    letter = _letter(conn, job_id)
    assert (letter["type"], letter["payload"], letter["attempts"], letter["last_error"]) == (
        "email",
        {"to": "x@example.com"},
        1,
        "invalid address",
    )
    assert letter["idempotency_key"] == "k"
    assert [e["error"] for e in letter["errors"]] == ["invalid address"]  # type: ignore[attr-defined]
    assert history(conn, job_id)[-1] == ("running", "dead_letter")


def test_an_exhausted_job_keeps_its_full_error_history_in_the_dead_letter(conn: Conn) -> None:
    job_id = make_job(conn, "running", "audio", payload={"text": "hi"})  # max_attempts 3
    assert _fail_until_dead(conn, job_id) == ["retried", "retried", "dead_lettered"]
    letter = _letter(conn, job_id)
    assert (letter["attempts"], letter["max_attempts"], letter["payload"]) == (3, 3, {"text": "hi"})
    errors = letter["errors"]
    assert [(e["attempt"], e["error"]) for e in errors] == [  # type: ignore[attr-defined]
        (1, "error 1"),
        (2, "error 2"),
        (3, "error 3"),
    ]
    assert all(e["worker_id"] == "w1" for e in errors)  # type: ignore[attr-defined]
    assert_history_matches_states(conn)


def test_replay_makes_a_new_pending_job_with_attempts_zero(conn: Conn) -> None:
    job_id = make_job(conn, "dead", "email", payload={"to": "y@example.com"}, priority="high")
    letter = _letter(conn, job_id)
    new_id = value(conn, "select retry_dead_letter_job(%s)", (letter["id"],))
    assert new_id != job_id
    row = job(conn, new_id)
    assert (row["status"], row["attempts"], row["type"], row["payload"], row["errors"]) == (
        "pending",
        0,
        "email",
        {"to": "y@example.com"},
        [],
    )
    assert row["max_attempts"] == 5
    assert history(conn, new_id) == [(None, "pending")]
    replayed = _letter(conn, job_id)
    assert replayed["replayed_job_id"] == new_id
    assert replayed["replayed_at"] is not None


def test_replaying_twice_returns_the_same_job(conn: Conn) -> None:
    letter = _letter(conn, make_job(conn, "dead"))
    first = value(conn, "select retry_dead_letter_job(%s)", (letter["id"],))
    assert value(conn, "select retry_dead_letter_job(%s)", (letter["id"],)) == first
    assert value(conn, "select count(*) from job_queue") == 1


def test_other_jobs_are_untouched_by_a_dead_letter(conn: Conn) -> None:
    pending, running = make_job(conn, "pending"), make_job(conn, "running", worker="other")
    before = (job(conn, pending), job(conn, running))
    make_job(conn, "dead")
    assert (job(conn, pending), job(conn, running)) == before


def test_concurrent_replays_of_one_dead_letter_make_one_job(conn: Conn, db_url: str) -> None:
    letter = _letter(conn, make_job(conn, "dead"))
    barrier = threading.Barrier(4, timeout=30)

    def replay(_: int) -> object:
        with connect(db_url) as c:
            barrier.wait()
            return value(c, "select retry_dead_letter_job(%s)", (letter["id"],))

    with ThreadPoolExecutor(4) as pool:
        ids = set(pool.map(replay, range(4), timeout=60))
    assert len(ids) == 1
    assert value(conn, "select count(*) from job_queue") == 1
