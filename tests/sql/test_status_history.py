"""job_status_history: every status change of a job is listed exactly once (stored as an event, or
read from the job row for its current claim and its completion).

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

from uuid import UUID

from psycopg.types.json import Jsonb

from tests.sql.factories import (
    Conn,
    assert_history_matches_states,
    claim,
    enqueue,
    history,
    make_job,
    value,
)


def _ready_now(conn: Conn, job_id: UUID) -> None:
    conn.execute("update job_queue set run_at = now() - interval '1 second' where id = %s", (job_id,))


def _reclaim(conn: Conn, job_id: UUID, worker: str) -> None:
    _ready_now(conn, job_id)
    assert [row["id"] for row in claim(conn, worker)] == [job_id]


def test_a_job_that_goes_through_every_state_has_one_row_per_change(conn: Conn) -> None:
    job_id = enqueue(conn, max_attempts=5)
    _reclaim(conn, job_id, "w1")
    assert value(conn, "select fail_job(%s, 'oops', true, null, 'w1')", (job_id,)) == "retried"
    _reclaim(conn, job_id, "w2")
    conn.execute("select release_jobs(%s, 'w2')", (Jsonb([{"id": str(job_id)}]),))
    _reclaim(conn, job_id, "w3")
    assert value(conn, "select cleanup_stuck_jobs(now() + interval '1 hour')") == 1
    _reclaim(conn, job_id, "w4")
    assert value(conn, "select complete_job(%s, null, 'w4')", (job_id,)) is True
    assert history(conn, job_id) == [(None, "pending")] + [
        ("pending", "running"),
        ("running", "pending"),
    ] * 3 + [
        ("pending", "running"),
        ("running", "completed"),
    ]
    workers = conn.execute(
        "select worker_id from job_status_history where job_id = %s and to_status = 'running' "
        "order by id nulls last, at",
        (job_id,),
    ).fetchall()
    assert [row["worker_id"] for row in workers] == ["w1", "w2", "w3", "w4"]


def test_cancellation_dead_letters_cascades_and_replays_all_leave_history(conn: Conn) -> None:
    make_job(conn, "cancelled")
    running = make_job(conn, "running")
    value(conn, "select cancel_job(%s)", (running,))
    dead_parent = make_job(conn, "running")
    enqueue(conn, depends_on=[dead_parent])
    value(conn, "select fail_job(%s, 'fatal', false, null, 'w1')", (dead_parent,))
    letter = value(conn, "select id from job_dead_letter")
    replay = value(conn, "select retry_dead_letter_job(%s)", (letter,))
    assert history(conn, replay) == [(None, "pending")]
    assert history(conn, running)[-1] == ("running", "cancelled")
    assert_history_matches_states(conn)


def test_a_batch_of_changes_writes_one_row_per_job(conn: Conn) -> None:
    conn.execute("select enqueue_jobs(%s)", (Jsonb([{"type": "noop"}] * 30),))
    ids = [row["id"] for row in claim(conn, "w", batch=30)]
    conn.execute("select complete_jobs(%s, 'w')", (Jsonb([{"id": str(i)} for i in ids[:10]]),))
    conn.execute("select fail_jobs(%s, 'w')", (Jsonb([{"id": str(i), "error": "e"} for i in ids[10:20]]),))
    conn.execute(
        "select fail_jobs(%s, 'w')",
        (Jsonb([{"id": str(i), "error": "e", "retryable": False} for i in ids[20:]]),),
    )
    counts = conn.execute("select to_status, count(*) as n from job_status_history group by 1").fetchall()
    assert {row["to_status"]: row["n"] for row in counts} == {
        "pending": 40,
        "running": 30,
        "completed": 10,
        "dead_letter": 10,
    }
    assert_history_matches_states(conn)


def test_a_claim_and_a_completion_are_read_from_the_row_not_stored_as_events(conn: Conn) -> None:
    """The hot path writes no event rows; the view still lists both transitions with their worker."""
    job_id = enqueue(conn)
    stored = value(conn, "select count(*) from job_status_events where job_id = %s", (job_id,))
    assert [row["id"] for row in claim(conn, "w9")] == [job_id]
    assert value(conn, "select complete_job(%s, null, 'w9')", (job_id,)) is True
    assert value(conn, "select count(*) from job_status_events where job_id = %s", (job_id,)) == stored == 1
    rows = conn.execute("select id, from_status, to_status, worker_id, at from job_status_history "
                        "where job_id = %s order by id nulls last, at", (job_id,)).fetchall()
    assert [(r["from_status"], r["to_status"], r["worker_id"]) for r in rows] == [
        (None, "pending", None), ("pending", "running", "w9"), ("running", "completed", "w9")]
    job = conn.execute("select started_at, finished_at from job_queue where id = %s", (job_id,)).fetchone()
    assert [r["at"] for r in rows[1:]] == [job["started_at"], job["finished_at"]]
    assert [r["id"] for r in rows[1:]] == [None, None]
