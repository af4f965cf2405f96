"""job_lease_state: why a worker whose heartbeat was refused no longer holds its job.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

import uuid
from functools import partial

import pytest

from tests.sql.factories import Conn, job, make_job, sqlstate_of, value

STATE = "select job_lease_state(%s, %s)"


def test_a_running_job_locked_by_the_caller_is_held(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w1")
    assert value(conn, STATE, (job_id, "w1")) == "held"


def test_a_job_cancelled_while_it_ran_is_cancelled_for_the_worker_that_ran_it(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w1")
    assert value(conn, "select cancel_job(%s)", (job_id,)) is True
    assert value(conn, "select update_job_progress(%s, 50, null, 'w1')", (job_id,)) is False
    assert value(conn, STATE, (job_id, "w1")) == "cancelled"


def test_a_job_another_worker_took_over_is_lost_and_held_by_that_worker(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w1")
    # w1's lock expired and the job went back to pending; w2 claims it.
    conn.execute("update job_queue set locked_until = now() - interval '1 minute' where id = %s", (job_id,))
    assert value(conn, "select cleanup_stuck_jobs()") >= 1
    conn.execute("update job_queue set run_at = now() where id = %s", (job_id,))
    claimed = conn.execute("select id from get_next_job('w2', array['noop'], 1)").fetchall()
    assert [row["id"] for row in claimed] == [job_id]
    assert value(conn, STATE, (job_id, "w1")) == "lost"
    assert value(conn, STATE, (job_id, "w2")) == "held"


@pytest.mark.parametrize("state", ["pending", "completed"])
def test_a_job_in_any_other_state_is_lost(conn: Conn, state: str) -> None:
    job_id = make_job(conn, state, worker="w1")
    assert value(conn, STATE, (job_id, "w1")) == "lost"


def test_a_dead_lettered_job_and_one_that_does_not_exist_are_gone(conn: Conn) -> None:
    assert value(conn, STATE, (make_job(conn, "dead", worker="w1"), "w1")) == "gone"
    assert value(conn, STATE, (uuid.uuid4(), "w1")) == "gone"


def test_bad_input_is_refused_and_changes_nothing(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w1")
    before = job(conn, job_id)
    assert sqlstate_of(partial(conn.execute, STATE, (None, "w1"))).sqlstate == "22Q01"
    for bad_worker in (None, "", "x" * 201):
        assert sqlstate_of(partial(conn.execute, STATE, (job_id, bad_worker))).sqlstate == "22QW1"
    assert job(conn, job_id) == before
