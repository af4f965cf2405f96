"""get_next_job: what is ready, in which order, and what a claim writes.

Real: PostgreSQL. Faked: nothing (time moves by enqueueing with run_at in the future).
"""

from __future__ import annotations

from datetime import timedelta

from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, assert_history_matches_states, claim, enqueue, history, job, value


def test_jobs_are_claimed_highest_priority_first(conn: Conn) -> None:
    ids = {p: enqueue(conn, priority=p) for p in ("low", "normal", "critical", "high")}
    claimed = [row["id"] for row in claim(conn, batch=4)]
    assert claimed == [ids["critical"], ids["high"], ids["normal"], ids["low"]]


def test_within_a_priority_the_earliest_run_at_goes_first(conn: Conn) -> None:
    now = value(conn, "select now()")
    late = enqueue(conn, run_at=now - timedelta(seconds=1))
    early = enqueue(conn, run_at=now - timedelta(seconds=5))
    assert [row["id"] for row in claim(conn, batch=2)] == [early, late]


def test_jobs_with_the_same_run_at_are_claimed_in_enqueue_order(conn: Conn) -> None:
    at = value(conn, "select now() - interval '1 minute'")
    ids = [enqueue(conn, run_at=at) for _ in range(20)]
    assert [row["id"] for row in claim(conn, batch=20)] == ids


def test_a_job_whose_run_at_is_in_the_future_is_not_claimed(conn: Conn) -> None:
    later = enqueue(conn, run_at=value(conn, "select now() + interval '1 hour'"))
    now = enqueue(conn)
    assert [row["id"] for row in claim(conn, batch=10)] == [now]
    assert job(conn, later)["status"] == "pending"


def test_a_claim_marks_the_job_running_under_the_worker_with_the_types_timeout(conn: Conn) -> None:
    job_id = enqueue(conn, "email")
    [row] = claim(conn, worker="worker-a")
    assert row["id"] == job_id
    assert (row["status"], row["attempts"], row["locked_by"], row["lock_seconds"]) == (
        "running",
        1,
        "worker-a",
        30,
    )
    assert timedelta(seconds=29) < row["locked_until"] - row["started_at"] <= timedelta(seconds=30)
    assert history(conn, job_id) == [(None, "pending"), ("pending", "running")]


def test_an_explicit_lock_length_overrides_the_types_timeout(conn: Conn) -> None:
    enqueue(conn, "email")
    [row] = claim(conn, lock_seconds=600)
    assert row["lock_seconds"] == 600
    assert row["locked_until"] - row["started_at"] == timedelta(seconds=600)


def test_only_the_requested_types_are_claimed(conn: Conn) -> None:
    email = enqueue(conn, "email")
    enqueue(conn, "noop", priority="critical")
    assert [row["id"] for row in claim(conn, batch=5, types=["email"])] == [email]
    assert value(conn, "select count(*) from job_queue where status = 'pending'") == 1


def test_a_disabled_type_is_not_claimed(conn: Conn) -> None:
    enqueue(conn, "email")
    conn.execute("update job_types set enabled = false where name = 'email'")
    assert claim(conn, batch=5) == []
    assert claim(conn, batch=5, types=["email"]) == []


def test_a_claim_returns_at_most_the_batch_size_and_nothing_when_empty(conn: Conn) -> None:
    assert claim(conn, batch=10) == []
    for _ in range(5):
        enqueue(conn)
    assert len(claim(conn, batch=3)) == 3
    assert len(claim(conn, batch=3)) == 2
    assert value(conn, "select count(*) from job_queue where status = 'running'") == 5
    assert_history_matches_states(conn)


def test_running_and_finished_jobs_are_not_claimed_again(conn: Conn) -> None:
    enqueue(conn)
    [row] = claim(conn)
    conn.execute("select complete_job(%s, null, 'w1')", (row["id"],))
    assert claim(conn, batch=5) == []


def test_a_batch_enqueued_at_once_is_claimed_in_input_order(conn: Conn) -> None:
    rows = conn.execute(
        "select enqueue_jobs as id from enqueue_jobs(%s)",
        (Jsonb([{"type": "noop", "payload": {"n": n}} for n in range(50)]),),
    ).fetchall()
    assert [row["id"] for row in claim(conn, batch=50)] == [row["id"] for row in rows]
