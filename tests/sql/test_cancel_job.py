"""cancel_job: pending and running jobs are cancelled (with their dependents); others are not.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

from tests.sql.factories import Conn, job, make_job, value


def test_a_pending_job_is_cancelled_and_finished(conn: Conn) -> None:
    job_id = make_job(conn, "pending")
    assert value(conn, "select cancel_job(%s)", (job_id,)) is True
    row = job(conn, job_id)
    assert (row["status"], row["last_error"]) == ("cancelled", "cancelled by operator")
    assert row["finished_at"] is not None


def test_a_running_job_is_cancelled_and_its_lock_released(conn: Conn) -> None:
    job_id = make_job(conn, "running")
    assert value(conn, "select cancel_job(%s)", (job_id,)) is True
    row = job(conn, job_id)
    assert (row["status"], row["locked_by"], row["locked_until"]) == ("cancelled", None, None)


def test_finished_and_unknown_jobs_are_not_cancelled(conn: Conn) -> None:
    done, cancelled = make_job(conn, "completed"), make_job(conn, "cancelled")
    before = (job(conn, done), job(conn, cancelled))
    for job_id in (done, cancelled):
        assert value(conn, "select cancel_job(%s)", (job_id,)) is False
    assert value(conn, "select cancel_job(gen_random_uuid())") is False
    assert (job(conn, done), job(conn, cancelled)) == before


def test_cancelling_one_job_leaves_the_others_alone(conn: Conn) -> None:
    target, other = make_job(conn, "pending"), make_job(conn, "pending")
    before = job(conn, other)
    value(conn, "select cancel_job(%s)", (target,))
    assert job(conn, other) == before
