"""purge_finished_jobs: retention deletes old finished jobs and their history, nothing else.

Real: PostgreSQL. Faked: nothing; finished_at is aged instead of waiting a week.
"""

from __future__ import annotations

from uuid import UUID

from tests.sql.factories import Conn, job, make_job, value


def _age(conn: Conn, job_id: UUID, days: int) -> None:
    conn.execute(
        "update job_queue set finished_at = now() - make_interval(days => %s) where id = %s", (days, job_id)
    )


def test_old_finished_jobs_and_their_history_are_purged_and_the_rest_stay(conn: Conn) -> None:
    old_done, old_cancelled = make_job(conn, "completed"), make_job(conn, "cancelled")
    recent = make_job(conn, "completed")
    pending, running = make_job(conn, "pending"), make_job(conn, "running")
    for job_id in (old_done, old_cancelled):
        _age(conn, job_id, 8)
    _age(conn, recent, 6)
    conn.execute(
        "update job_queue set created_at = now() - interval '30 days', "
        "run_at = now() - interval '30 days' where id in (%s, %s)",
        (pending, running),
    )
    keep = [job(conn, i) for i in (recent, pending, running)]
    assert value(conn, "select purge_finished_jobs()") == 2
    assert [job(conn, i) for i in (recent, pending, running)] == keep
    assert value(conn, "select count(*) from job_queue where id in (%s, %s)", (old_done, old_cancelled)) == 0
    assert (
        value(
            conn,
            "select count(*) from job_status_history where job_id in (%s, %s)",
            (old_done, old_cancelled),
        )
        == 0
    )
    assert value(conn, "select count(*) from job_status_history where job_id = %s", (recent,)) == 3


def test_an_explicit_age_overrides_the_retention_setting(conn: Conn) -> None:
    job_id = make_job(conn, "completed")
    _age(conn, job_id, 2)
    assert value(conn, "select purge_finished_jobs('3 days')") == 0
    assert value(conn, "select purge_finished_jobs('1 day')") == 1


def test_the_retention_setting_is_honoured(conn: Conn) -> None:
    job_id = make_job(conn, "completed")
    _age(conn, job_id, 2)
    conn.execute("update queue.settings set value = '1' where key = 'retention_days'")
    assert value(conn, "select purge_finished_jobs()") == 1


def test_dead_letters_are_kept(conn: Conn) -> None:
    make_job(conn, "dead")
    conn.execute("update job_dead_letter set failed_at = now() - interval '1 year'")
    value(conn, "select purge_finished_jobs('0 seconds')")
    assert value(conn, "select count(*) from job_dead_letter") == 1
