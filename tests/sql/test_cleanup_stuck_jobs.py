"""cleanup_stuck_jobs(p_now): running jobs whose lock expired go back to pending, or to the dead
letter when out of attempts; live locks are untouched.

Real: PostgreSQL. Faked: nothing; p_now moves the clock instead of sleeping.
"""

from __future__ import annotations

from tests.sql.factories import Conn, assert_history_matches_states, claim, history, job, make_job, value


def test_an_expired_lock_returns_the_job_to_pending_ready_at_once(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email", worker="dead-worker")  # timeout 30 s
    assert value(conn, "select cleanup_stuck_jobs(now() + interval '31 seconds')") == 1
    row = job(conn, job_id)
    assert (row["status"], row["locked_by"], row["locked_until"], row["attempts"]) == (
        "pending",
        None,
        None,
        1,
    )
    assert "dead-worker" in row["last_error"]
    assert row["errors"][-1]["worker_id"] == "dead-worker"
    assert history(conn, job_id)[-1] == ("running", "pending")
    assert [r["id"] for r in claim(conn, "next", types=["email"])] == [job_id]


def test_a_lock_that_has_not_expired_is_left_alone(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email")
    pending = make_job(conn, "pending")
    before = (job(conn, job_id), job(conn, pending))
    assert value(conn, "select cleanup_stuck_jobs(now() + interval '20 seconds')") == 0
    assert value(conn, "select cleanup_stuck_jobs()") == 0
    assert (job(conn, job_id), job(conn, pending)) == before


def test_an_expired_job_without_attempts_left_goes_to_the_dead_letter(conn: Conn) -> None:
    job_id = make_job(conn, "running", max_attempts=1)
    assert value(conn, "select cleanup_stuck_jobs(now() + interval '1 hour')") == 1
    assert value(conn, "select count(*) from job_queue") == 0
    letter = conn.execute("select * from job_dead_letter where job_id = %s", (job_id,)).fetchone()
    assert letter is not None
    assert letter["attempts"] == 1
    assert "lock expired" in letter["last_error"]
    assert history(conn, job_id)[-1] == ("running", "dead_letter")
    assert_history_matches_states(conn)


def test_a_heartbeat_keeps_a_long_job_from_being_swept(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email", worker="w")
    conn.execute("update job_queue set locked_until = now() - interval '1 second' where id = %s", (job_id,))
    assert value(conn, "select update_job_progress(%s, 40, 'rendering', 'w')", (job_id,)) is True
    assert value(conn, "select cleanup_stuck_jobs()") == 0
    row = job(conn, job_id)
    assert (row["progress"], row["progress_message"], row["status"]) == (40, "rendering", "running")
