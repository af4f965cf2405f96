"""Fencing: a worker whose job was reclaimed (lock expired, swept, claimed by another) cannot
complete, fail, release or report progress on it, and its attempt changes nothing.

Real: PostgreSQL. Faked: nothing (the lock expires by passing p_now to cleanup_stuck_jobs).
"""

from __future__ import annotations

from functools import partial
from uuid import UUID

import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, claim, fingerprint, job, make_job, sqlstate_of, value


def _reclaimed(conn: Conn) -> UUID:
    """A job first claimed by `stale`, swept after its lock expired, now running under `fresh`."""
    job_id = make_job(conn, "running", worker="stale")
    assert value(conn, "select cleanup_stuck_jobs(now() + interval '1 hour')") == 1
    assert [row["id"] for row in claim(conn, "fresh")] == [job_id]
    return job_id


def test_a_stale_worker_cannot_complete_a_reclaimed_job(conn: Conn) -> None:
    job_id = _reclaimed(conn)
    before = job(conn, job_id)
    assert value(conn, "select complete_job(%s, '{}', 'stale')", (job_id,)) is False
    assert (
        value(conn, "select count(*) from complete_jobs(%s, 'stale')", (Jsonb([{"id": str(job_id)}]),)) == 0
    )
    assert job(conn, job_id) == before


def test_a_stale_worker_cannot_fail_a_reclaimed_job(conn: Conn) -> None:
    job_id = _reclaimed(conn)
    before = job(conn, job_id)
    assert value(conn, "select fail_job(%s, 'late', false, null, 'stale')", (job_id,)) == "lease_lost"
    assert job(conn, job_id) == before
    assert value(conn, "select count(*) from job_dead_letter") == 0


def test_a_stale_worker_cannot_report_progress_or_release(conn: Conn) -> None:
    job_id = _reclaimed(conn)
    before = job(conn, job_id)
    assert value(conn, "select update_job_progress(%s, 50, 'half', 'stale')", (job_id,)) is False
    assert value(conn, "select count(*) from release_jobs(%s, 'stale')", (Jsonb([{"id": str(job_id)}]),)) == 0
    assert job(conn, job_id) == before


def test_the_current_holder_still_completes_the_job(conn: Conn) -> None:
    job_id = _reclaimed(conn)
    assert value(conn, "select complete_job(%s, '{\"ok\": 1}', 'fresh')", (job_id,)) is True
    assert (job(conn, job_id)["status"], job(conn, job_id)["attempts"]) == ("completed", 2)


def test_a_cancelled_running_job_cannot_be_completed_by_its_worker(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w")
    assert value(conn, "select cancel_job(%s)", (job_id,)) is True
    assert value(conn, "select complete_job(%s, null, 'w')", (job_id,)) is False
    assert value(conn, "select fail_job(%s, 'x', true, null, 'w')", (job_id,)) == "lease_lost"
    assert job(conn, job_id)["status"] == "cancelled"


def test_a_finished_job_cannot_be_completed_or_failed_again(conn: Conn) -> None:
    job_id = make_job(conn, "completed", worker="w")
    before = job(conn, job_id)
    assert value(conn, "select complete_job(%s, null, 'w')", (job_id,)) is False
    assert value(conn, "select fail_job(%s, 'x', true, null, 'w')", (job_id,)) == "lease_lost"
    assert job(conn, job_id) == before


def test_a_batch_reports_lease_lost_only_for_the_jobs_it_lost(conn: Conn) -> None:
    lost = _reclaimed(conn)
    mine = make_job(conn, "running", worker="stale")
    rows = conn.execute(
        "select job_id, outcome from fail_jobs(%s, 'stale')",
        (Jsonb([{"id": str(lost), "error": "e"}, {"id": str(mine), "error": "e"}]),),
    ).fetchall()
    assert {row["job_id"]: row["outcome"] for row in rows} == {lost: "lease_lost", mine: "retried"}


# Each settle call with the job and a worker id; the id must name the holder, never be left out.
SETTLE_CALLS = {
    "complete_job": "select complete_job(%(id)s, '{}', %(worker)s)",
    "complete_jobs": "select complete_jobs(jsonb_build_array(jsonb_build_object('id', %(id)s)), %(worker)s)",
    "fail_job": "select fail_job(%(id)s, 'boom', false, null, %(worker)s)",
    "fail_jobs": "select fail_jobs(jsonb_build_array(jsonb_build_object('id', %(id)s)), %(worker)s)",
    "release_jobs": "select release_jobs(jsonb_build_array(jsonb_build_object('id', %(id)s)), %(worker)s)",
    "update_job_progress": "select update_job_progress(%(id)s, 50, 'half', %(worker)s)",
}


@pytest.mark.parametrize("worker", [None, "", "x" * 201], ids=["null", "empty", "too long"])
@pytest.mark.parametrize("call", SETTLE_CALLS.values(), ids=SETTLE_CALLS.keys())
def test_a_settle_call_without_the_holders_worker_id_is_refused_and_changes_nothing(
    conn: Conn, call: str, worker: str | None
) -> None:
    job_id = make_job(conn, "running", worker="holder")
    before = fingerprint(conn)
    error = sqlstate_of(lambda: conn.execute(call, {"id": job_id, "worker": worker}))
    assert error.sqlstate == "22QW1", error
    assert "p_worker_id must be the id of the worker holding the job" in (error.diag.message_primary or "")
    assert "cancel_job" in (error.diag.message_hint or "")
    assert fingerprint(conn) == before


def test_the_calls_that_omit_the_worker_id_argument_are_refused_too(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="holder")
    before = fingerprint(conn)
    for call in (
        "select complete_job(%s)",
        "select fail_job(%s, 'boom')",
        "select update_job_progress(%s, 10)",
        "select complete_jobs(jsonb_build_array(jsonb_build_object('id', %s::uuid)))",
    ):
        assert sqlstate_of(partial(conn.execute, call, (job_id,))).sqlstate == "22QW1"
    assert fingerprint(conn) == before
    assert value(conn, "select complete_job(%s, null, 'holder')", (job_id,)) is True
