"""update_job_progress: progress and message of a running job, and the lock it extends.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

from datetime import timedelta
from functools import partial

from tests.sql.factories import Conn, job, make_job, sqlstate_of, value


def test_progress_and_message_are_saved_and_the_lock_extended(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email", worker="w")  # lock 30 s
    conn.execute("update job_queue set locked_until = now() + interval '1 second' where id = %s", (job_id,))
    assert value(conn, "select update_job_progress(%s, 0, 'starting', 'w')", (job_id,)) is True
    assert value(conn, "select update_job_progress(%s, 100, null, 'w')", (job_id,)) is True
    row = job(conn, job_id)
    assert (row["progress"], row["progress_message"]) == (100, "starting")
    assert row["locked_until"] - value(conn, "select now()") > timedelta(seconds=25)


def test_progress_of_a_job_that_is_not_running_is_refused(conn: Conn) -> None:
    pending, done = make_job(conn, "pending"), make_job(conn, "completed")
    before = (job(conn, pending), job(conn, done))
    for job_id in (pending, done):
        assert value(conn, "select update_job_progress(%s, 10, null, 'w1')", (job_id,)) is False
    assert (job(conn, pending), job(conn, done)) == before


def test_progress_outside_zero_to_hundred_changes_nothing(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w")
    before = job(conn, job_id)
    for bad in (-1, 101, None):
        error = sqlstate_of(
            partial(conn.execute, "select update_job_progress(%s, %s, 'x', 'w')", (job_id, bad))
        )
        assert error.sqlstate == "22QG1"
    assert job(conn, job_id) == before
