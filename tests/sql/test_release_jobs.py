"""release_jobs: give a claimed job back without burning an attempt, optionally with a checkpoint.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

from datetime import timedelta

from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, claim, history, job, make_job, value


def test_a_released_job_is_pending_again_without_losing_an_attempt(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email", worker="w")
    released = conn.execute(
        "select release_jobs as id from release_jobs(%s, 'w')",
        (Jsonb([{"id": str(job_id), "retry_after_seconds": 120, "reason": "rate limited"}]),),
    )
    assert [row["id"] for row in released] == [job_id]
    row = job(conn, job_id)
    assert (row["status"], row["attempts"], row["locked_by"]) == ("pending", 0, None)
    assert row["run_at"] - value(conn, "select now()") > timedelta(seconds=110)
    assert (
        value(
            conn, "select note from job_status_history where job_id = %s "
            "order by id desc nulls first, at desc limit 1", (job_id,)
        )
        == "rate limited"
    )
    assert history(conn, job_id)[-1] == ("running", "pending")


def test_releasing_over_and_over_never_exhausts_the_job(conn: Conn) -> None:
    job_id = make_job(conn, "running", "audio", worker="w")  # max_attempts 3
    for _ in range(5):
        conn.execute("select release_jobs(%s, 'w')", (Jsonb([{"id": str(job_id)}]),))
        assert [row["attempts"] for row in claim(conn, "w", types=["audio"])] == [1]


def test_a_checkpoint_is_saved_in_result_and_handed_back_on_the_next_claim(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w")
    conn.execute(
        "select release_jobs(%s, 'w')",
        (Jsonb([{"id": str(job_id), "checkpoint": {"offset": 500}, "reason": "continue later"}]),),
    )
    [row] = claim(conn, "w2")
    assert (row["id"], row["result"]) == (job_id, {"offset": 500})
    conn.execute("select release_jobs(%s, 'w2')", (Jsonb([{"id": str(job_id)}]),))
    assert job(conn, job_id)["result"] == {"offset": 500}


def test_only_running_jobs_are_released(conn: Conn) -> None:
    pending, done = make_job(conn, "pending"), make_job(conn, "completed")
    before = (job(conn, pending), job(conn, done))
    assert (
        value(
            conn,
            "select count(*) from release_jobs(%s, 'w1')",
            (Jsonb([{"id": str(pending)}, {"id": str(done)}]),),
        )
        == 0
    )
    assert (job(conn, pending), job(conn, done)) == before
