"""The pg_cron branch of the migrations: on a server with pg_cron preloaded, migrating the
database named by cron.database_name installs the extension in pg_catalog and schedules the
queue's maintenance; every scheduled command runs; the history purge touches only the
queue's jobs; migrating again changes nothing; a pg_cron left in public by the old migration
moves to pg_catalog when only our jobs use it; a role that may not create pg_cron still
migrates and is told how to enable it.

Real: PostgreSQL with pg_cron (CI: the machine's PostgreSQL 15 with postgresql-15-cron,
cron.database_name = queue_worker_cron). Faked: nothing. Skipped where pg_cron is not
preloaded (the embedded server), unless REQUIRE_PG_CRON=1, which turns the skip into a failure.
The cron database is left in place after the test (dropping it under pg_cron's launcher
only makes the launcher retry); the next run drops and recreates it. The non-superuser test
drops it with its owner, the role it creates. "pg_cron left in public" is made by dropping
and creating pg_cron without a schema, as the old 20260101001000_pg_cron.sql did.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.rows import dict_row

from shared.config import REPO_ROOT
from shared.queue.migrate import migrate
from tests.support.readme import example

MIGRATIONS = REPO_ROOT / "supabase" / "migrations"
PG_CRON_FILE = next(MIGRATIONS.glob("*_pg_cron.sql"))
EXPECTED_JOBS = {
    "queue-cleanup-stuck-jobs": ("* * * * *", "select public.cleanup_stuck_jobs()"),
    "queue-enqueue-due-schedules": ("* * * * *", "select public.enqueue_due_schedules()"),
    "queue-purge-finished-jobs": ("17 3 * * *", "select public.purge_finished_jobs()"),
    "queue-purge-cron-history": (
        "27 3 * * *",
        "delete from cron.job_run_details where end_time < now() - interval '7 days'"
        " and jobid in (select jobid from cron.job where jobname like 'queue-%')",
    ),
}
SETUP_FILE = next(MIGRATIONS.glob("*_pg_cron_setup.sql"))
MIGRATOR = "qw_cron_migrator"


def _unavailable(reason: str) -> None:
    """Skip, or fail when CI requires the pg_cron branch to run."""
    if os.environ.get("REQUIRE_PG_CRON") == "1":
        pytest.fail(f"REQUIRE_PG_CRON=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture
def cron_db_url(pg_server_url: str) -> Iterator[str]:
    """A freshly created, migrated cron.database_name database (one test run at a time per server)."""
    with _fresh_cron_db(pg_server_url) as (_admin, name):
        url = make_conninfo(pg_server_url, dbname=name)
        migrate(url, MIGRATIONS)
        yield url


@contextmanager
def _fresh_cron_db(
    pg_server_url: str, owner: str | None = None
) -> Iterator[tuple[psycopg.Connection[Any], str]]:
    """Drop and create the cron.database_name database (owned by `owner`), holding the test lock."""
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
        create = sql.SQL("create database {}").format(sql.Identifier(name))
        if owner is not None:
            create = sql.SQL("{} owner {}").format(create, sql.Identifier(owner))
        admin.execute(create)
        yield admin, name
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
    # The files themselves are safe to replay too, in order (replaying the old one alone
    # would bring back its purge of every app's history; the setup file replaces it).
    for path in (PG_CRON_FILE, SETUP_FILE):
        cron_conn.execute(path.read_text())
    assert _jobs(cron_conn) == before


def _notices(conn: psycopg.Connection[Any]) -> list[str]:
    seen: list[str] = []
    conn.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
    return seen


def _cron_schema(conn: psycopg.Connection[dict[str, Any]]) -> str:
    row = conn.execute(
        "select extnamespace::regnamespace::text as s from pg_extension where extname = 'pg_cron'"
    ).fetchone()
    assert row is not None
    return str(row["s"])


def _put_pg_cron_in_public(conn: psycopg.Connection[dict[str, Any]]) -> None:
    """What the old 20260101001000_pg_cron.sql left behind: pg_cron in public, the old purge job."""
    conn.execute("drop extension pg_cron")
    conn.execute("create extension pg_cron")  # no schema: the first on the search path, public
    conn.execute("""select cron.schedule('queue-purge-cron-history', '27 3 * * *',
                    $$delete from cron.job_run_details where end_time < now() - interval '7 days'$$)""")
    assert _cron_schema(conn) == "public"


@pytest.mark.pg_cron
def test_pg_cron_is_installed_in_pg_catalog_as_supabase_documents(
    cron_conn: psycopg.Connection[dict[str, Any]],
) -> None:
    assert _cron_schema(cron_conn) == "pg_catalog"


@pytest.mark.pg_cron
def test_the_history_purge_deletes_old_runs_of_the_queues_jobs_only(
    cron_conn: psycopg.Connection[dict[str, Any]],
) -> None:
    cron_conn.execute("select cron.schedule('other-app-report', '0 1 * * *', 'select 1')")
    cron_conn.execute("""
        insert into cron.job_run_details (jobid, runid, command, status, start_time, end_time)
        select j.jobid, nextval('cron.runid_seq'), j.command, 'succeeded', t - interval '1 minute', t
          from cron.job j, (values (now() - interval '8 days'), (now() - interval '1 day')) as v(t)""")
    cron_conn.execute(EXPECTED_JOBS["queue-purge-cron-history"][1])
    left = cron_conn.execute("""
        select j.jobname, d.end_time > now() - interval '7 days' as recent, count(*) as n
          from cron.job_run_details d join cron.job j using (jobid)
         group by 1, 2 order by 1, 2""").fetchall()
    ours = [(r["recent"], r["n"]) for r in left if r["jobname"].startswith("queue-")]
    assert len(ours) == len(EXPECTED_JOBS)
    assert set(ours) == {(True, 1)}
    other = [(r["recent"], r["n"]) for r in left if r["jobname"] == "other-app-report"]
    assert other == [(False, 1), (True, 1)]


@pytest.mark.pg_cron
def test_a_pg_cron_left_in_public_with_only_the_queues_jobs_moves_to_pg_catalog(
    cron_conn: psycopg.Connection[dict[str, Any]],
) -> None:
    _put_pg_cron_in_public(cron_conn)
    cron_conn.execute(SETUP_FILE.read_text())
    assert _cron_schema(cron_conn) == "pg_catalog"
    assert {k: v[:2] for k, v in _jobs(cron_conn).items() if k in EXPECTED_JOBS} == EXPECTED_JOBS


@pytest.mark.pg_cron
def test_a_pg_cron_in_public_with_other_apps_jobs_stays_and_a_notice_says_how_to_move_it(
    cron_conn: psycopg.Connection[dict[str, Any]],
) -> None:
    _put_pg_cron_in_public(cron_conn)
    cron_conn.execute("select cron.schedule('other-app-report', '0 1 * * *', 'select 1')")
    notices = _notices(cron_conn)
    cron_conn.execute(SETUP_FILE.read_text())
    assert _cron_schema(cron_conn) == "public"
    assert "other-app-report" in _jobs(cron_conn)
    assert _jobs(cron_conn)["queue-purge-cron-history"][1] == EXPECTED_JOBS["queue-purge-cron-history"][1]
    assert any("create extension pg_cron with schema pg_catalog" in n for n in notices)


@pytest.fixture
def migrator(pg_server_url: str) -> Iterator[str]:
    """A login role that is not a superuser, so it may not create pg_cron; dropped afterwards
    with the cron database it owns (the next pg_cron test creates that again)."""
    role = sql.Identifier(MIGRATOR)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        if not admin.execute("select 1 from pg_roles where rolname = %s", (MIGRATOR,)).fetchone():
            admin.execute(sql.SQL("create role {} login nosuperuser").format(role))
        yield MIGRATOR
        for (name,) in admin.execute(
            "select datname from pg_database where datdba = %s::regrole", (MIGRATOR,)
        ).fetchall():
            admin.execute(sql.SQL("drop database {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("drop role {}").format(role))


@pytest.mark.pg_cron
def test_a_role_that_may_not_create_pg_cron_migrates_and_is_told_how_to_enable_it(
    pg_server_url: str, migrator: str
) -> None:
    with _fresh_cron_db(pg_server_url, owner=migrator) as (_admin, name):
        url = make_conninfo(pg_server_url, dbname=name, user=migrator)
        with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
            notices = _notices(conn)
            for path in sorted(MIGRATIONS.glob("*.sql")):
                conn.execute(path.read_text())
            cron = conn.execute("select count(*) as n from pg_extension where extname = 'pg_cron'").fetchone()
            assert cron == {"n": 0}
            versions = {r["version"] for r in conn.execute("select version from queue.schema_migrations")}
        assert versions == {p.name[:14] for p in MIGRATIONS.glob("*.sql")}
        how = [n for n in notices if "could not be created by role" in n]
        assert len(how) == 1
        assert "create extension pg_cron with schema pg_catalog" in how[0]


def test_schedule_worker_tick_reschedules_the_tick_on_real_pg_cron(cron_db_url: str) -> None:
    """Real pg_cron: a cron expression reschedules the one queue-trigger-worker job; 'N seconds'
    is taken by pg_cron 1.5+ and refused with 22QK2 naming the version on older ones (Debian 12
    ships 1.4). pg_net is faked by a `net` schema: only its presence is checked here."""
    with psycopg.connect(cron_db_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("create schema if not exists net")

        def tick() -> list[tuple[Any, ...]]:
            rows = conn.execute("select jobid, schedule, command from cron.job "
                                "where jobname = 'queue-trigger-worker'").fetchall()
            return [(r["jobid"], r["schedule"], r["command"]) for r in rows]

        made = conn.execute("select schedule_worker_tick('*/2 * * * *') as id").fetchone()
        assert made is not None
        assert tick() == [(made["id"], "*/2 * * * *", "select public.trigger_queue_worker()")]
        version = conn.execute("select extversion from pg_extension where extname = 'pg_cron'").fetchone()
        assert version is not None
        major_minor = tuple(int(p) for p in version["extversion"].split("-")[0].split(".")[:2])
        if major_minor >= (1, 5):
            conn.execute("select schedule_worker_tick('10 seconds')")
            assert [schedule for _, schedule, _ in tick()] == ["10 seconds"]
        else:
            with pytest.raises(psycopg.Error) as refused:
                conn.execute("select schedule_worker_tick('10 seconds')")
            assert refused.value.sqlstate == "22QK2"
            assert f"pg_cron {version['extversion']} cannot schedule in seconds" in str(refused.value)
            assert [schedule for _, schedule, _ in tick()] == ["*/2 * * * *"]  # nothing changed


def _health_check(conn: psycopg.Connection[dict[str, Any]], name: str) -> dict[str, Any]:
    row = conn.execute("select c as check from jsonb_array_elements(health_warnings() -> 'checks') c "
                       "where c ->> 'check' = %s", (name,)).fetchone()
    assert row is not None, f"health_warnings() has no {name} check"
    found: dict[str, Any] = row["check"]
    return found


@pytest.mark.pg_cron
def test_health_warns_of_failing_cron_runs_and_a_growing_run_history(
    cron_conn: psycopg.Connection[dict[str, Any]],
) -> None:
    """Real pg_cron's tables; the failed runs are written into cron.job_run_details as pg_cron
    writes them (pg_cron 1.4 here has no seconds schedule, so waiting for a real failing run
    would take a minute)."""
    assert _health_check(cron_conn, "cron_failures")["severity"] == "ok"
    cron_conn.execute("select cron.schedule('other-app-report', '0 1 * * *', 'select 1/0')")
    cron_conn.execute("""
        insert into cron.job_run_details (jobid, runid, command, status, return_message, start_time, end_time)
        select j.jobid, nextval('cron.runid_seq'), j.command, s.status, s.message, s.at, s.at
          from cron.job j,
               (values ('failed', 'ERROR:  division by zero', now() - interval '5 minutes'),
                       ('succeeded', '1 row', now() - interval '4 minutes'),
                       ('failed', 'ERROR:  division by zero', now() - interval '2 hours'))
                 as s(status, message, at)
         where j.jobname = 'other-app-report'""")
    failures = _health_check(cron_conn, "cron_failures")
    assert (failures["severity"], failures["value"], failures["threshold"]) == ("warning", 1, 0)
    assert failures["details"]["latest"][0]["jobname"] == "other-app-report"
    assert "division by zero" in failures["details"]["latest"][0]["return_message"]

    cron_conn.execute("update queue.settings set value = '2' where key = 'health_cron_run_details_max_rows'")
    cron_conn.execute("select pg_stat_force_next_flush()")
    rows = _health_check(cron_conn, "cron_run_details_rows")
    assert (rows["severity"], rows["value"]) == ("warning", 3)
    assert "cron.log_run" in rows["hint"]


def test_readmes_worker_tick_block_runs_on_real_pg_cron(cron_db_url: str) -> None:
    """The README's `worker-tick-sql` block as printed: pg_cron 1.5+ takes '10 seconds'; older
    ones refuse it with 22QK2 naming their version (what the README says: 1.5+ schedules in
    seconds). pg_net is faked by an empty `net` schema: only its presence is checked."""
    with psycopg.connect(cron_db_url, autocommit=True, row_factory=dict_row) as conn:
        conn.execute("create schema if not exists net")
        version = conn.execute("select extversion from pg_extension where extname = 'pg_cron'").fetchone()
        assert version is not None
        major_minor = tuple(int(p) for p in version["extversion"].split("-")[0].split(".")[:2])
        if major_minor >= (1, 5):
            conn.execute(example("worker-tick-sql"))
            row = conn.execute("select schedule from cron.job "
                               "where jobname = 'queue-trigger-worker'").fetchone()
            assert row == {"schedule": "10 seconds"}
        else:
            with pytest.raises(psycopg.Error) as refused:
                conn.execute(example("worker-tick-sql"))
            assert refused.value.sqlstate == "22QK2"
            assert "cannot schedule in seconds" in str(refused.value)
