"""release_unstarted_jobs: after a failed invocation, give back every job it holds and did
not start, without counting the attempt; leave alone what it started and what others hold.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

import pytest

from tests.sql.factories import Conn, claim, fingerprint, history, job, make_job, sqlstate_of, value

RELEASE = "select release_unstarted_jobs as id from release_unstarted_jobs(%s, %s::uuid[], %s)"


def test_the_jobs_a_worker_holds_and_did_not_start_are_pending_again_at_once(conn: Conn) -> None:
    held = [make_job(conn, "running", worker="w") for _ in range(3)]
    released = conn.execute(RELEASE, ("w", [], "not started: lost the connection")).fetchall()
    assert {row["id"] for row in released} == set(held)
    for job_id in held:
        row = job(conn, job_id)
        assert (row["status"], row["attempts"], row["locked_by"]) == ("pending", 0, None)
        assert row["locked_until"] is None
        assert row["run_at"] <= value(conn, "select clock_timestamp()")
        assert history(conn, job_id)[-1] == ("running", "pending")
    notes = conn.execute("select distinct note from job_status_history where to_status = 'pending' "
                         "and from_status = 'running'").fetchall()
    assert notes == [{"note": "not started: lost the connection"}]
    assert [row["id"] for row in claim(conn, "w2", batch=3)] != []  # claimable again


def test_started_jobs_and_other_workers_jobs_are_left_alone(conn: Conn) -> None:
    started = make_job(conn, "running", worker="w")
    unstarted = make_job(conn, "running", worker="w")
    others = make_job(conn, "running", worker="w-other")
    finished = make_job(conn, "completed", worker="w")
    pending = make_job(conn, "pending")
    before = {job_id: job(conn, job_id) for job_id in (started, others, finished, pending)}
    released = conn.execute(RELEASE, ("w", [str(started)], None)).fetchall()
    assert [row["id"] for row in released] == [unstarted]
    assert {job_id: job(conn, job_id) for job_id in before} == before
    assert value(conn, "select note from job_status_history where job_id = %s "
                 "order by id desc nulls first, at desc limit 1",
                 (unstarted,)) == "not started: the invocation failed"


def test_a_worker_holding_nothing_releases_nothing_and_writes_nothing(conn: Conn) -> None:
    make_job(conn, "running", worker="w-other")
    before = fingerprint(conn)
    assert conn.execute(RELEASE, ("w", None, None)).fetchall() == []
    assert fingerprint(conn) == before


@pytest.mark.parametrize("worker", ["", None, "w" * 201])
def test_a_bad_worker_id_is_refused_with_22QW1_and_writes_nothing(conn: Conn, worker: str | None) -> None:
    make_job(conn, "running", worker="w")
    before = fingerprint(conn)
    error = sqlstate_of(lambda: conn.execute(RELEASE, (worker, [], None)))
    assert error.sqlstate == "22QW1"
    assert "p_worker_id must be a non-empty text of at most 200 characters" in str(error)
    assert error.diag.message_hint == "pass the id the invocation claimed with"
    assert fingerprint(conn) == before
