"""The pg_cron branch of the migrations: on a server with pg_cron preloaded, migrating the
database named by cron.database_name installs the extension and schedules the queue's
maintenance; every scheduled command runs; migrating again changes nothing.

Real: PostgreSQL with pg_cron (CI: the machine's PostgreSQL 15 with postgresql-15-cron,
cron.database_name = queue_worker_cron). Faked: nothing. Skipped where pg_cron is not
preloaded (the embedded server), unless REQUIRE_PG_CRON=1, which turns the skip into a failure.
The cron database is left in place after the test (dropping it under pg_cron's launcher
only makes the launcher retry); the next run drops and recreates it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from shared.config import REPO_ROOT
from shared.migrate import migrate

MIGRATIONS = REPO_ROOT / "supabase" / "migrations"
PG_CRON_FILE = next(MIGRATIONS.glob("*_pg_cron.sql"))
EXPECTED_JOBS = {
    "queue-cleanup-stuck-jobs": ("* * * * *", "select public.cleanup_stuck_jobs()"),
    "queue-enqueue-due-schedules": ("* * * * *", "select public.enqueue_due_schedules()"),
    "queue-purge-finished-jobs": ("17 3 * * *", "select public.purge_finished_jobs()"),
    "queue-purge-cron-history": (
        "27 3 * * *",
        "delete from cron.job_run_details where end_time < now() - interval '7 days'",
    ),
}


def _unavailable(reason: str) -> None:
    """Skip, or fail when CI requires the pg_cron branch to run."""
    if os.environ.get("REQUIRE_PG_CRON") == "1":
        pytest.fail(f"REQUIRE_PG_CRON=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def cron_db_url(pg_server_url: str) -> Iterator[str]:
    """A freshly created, migrated cron.database_name database (one test run at a time per server)."""
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        preload = admin.execute("select current_setting('shared_preload_libraries')").fetchone()
        if preload is None or "pg_cron" not in preload[0]:
            _unavailable("pg_cron is not in shared_preload_libraries on this server")
        row = admin.execute(
            "select current_setting('cron.database_name', true), current_database()"
        ).fetchone()
        assert row is not None
        name, admin_db = row
        if not name or name in ("postgres", admin_db):
            _unavailable(
                f"cron.database_name is {name!r}, the admin database; set it to a database tests may drop"
            )
        # Another test run on this server would drop the same database under us.
        admin.execute("select pg_advisory_lock(hashtext('queue-worker pg_cron test'))")
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        url = make_conninfo(pg_server_url, dbname=name)
        migrate(url, MIGRATIONS)
        yield url
        admin.execute("select pg_advisory_unlock(hashtext('queue-worker pg_cron test'))")


@pytest.fixture
def cron_conn(cron_db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    with psycopg.connect(cron_db_url, autocommit=True, row_factory=dict_row) as conn:
        yield conn


def _jobs(conn: psycopg.Connection[dict[str, Any]]) -> dict[str, tuple[str, str, str]]:
    rows = conn.execute("select jobname, schedule, command, database from cron.job").fetchall()
    return {r["jobname"]: (r["schedule"], r["command"], r["database"]) for r in rows}


@pytest.mark.pg_cron
def test_migrating_the_cron_database_schedules_the_queue_maintenance(
    cron_conn: psycopg.Connection[dict[str, Any]], cron_db_url: str
) -> None:
    jobs = _jobs(cron_conn)
    name = conninfo_to_dict(cron_db_url)["dbname"]
    assert {k: v for k, v in jobs.items() if k in EXPECTED_JOBS} == {
        k: (*v, name) for k, v in EXPECTED_JOBS.items()
    }
    assert set(jobs) - set(EXPECTED_JOBS) <= {"queue-trigger-worker"}


@pytest.mark.pg_cron
def test_every_scheduled_command_runs(cron_conn: psycopg.Connection[dict[str, Any]]) -> None:
    cron_conn.execute("select enqueue_job('noop')")
    for _schedule, command in EXPECTED_JOBS.values():
        cron_conn.execute(command)
    assert cron_conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 1}


@pytest.mark.pg_cron
def test_migrating_again_changes_nothing(
    cron_conn: psycopg.Connection[dict[str, Any]], cron_db_url: str
) -> None:
    before = _jobs(cron_conn)
    assert migrate(cron_db_url, MIGRATIONS) == []
    cron_conn.execute(PG_CRON_FILE.read_text())  # the file itself is safe to replay too
    assert _jobs(cron_conn) == before
