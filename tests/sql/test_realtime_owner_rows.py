"""A signed-in user's own jobs, live: the supabase_realtime publication, the owner-only rows
Realtime relies on, and my_jobs (migrations 20260106000500 and 20260106000510).

Real: PostgreSQL with the Supabase roles the migrations create; a publication named
supabase_realtime made the way Supabase makes it (empty, then tables added) in a fresh
database; JWTs simulated as PostgREST and Realtime do it (SET ROLE + request.jwt.claims).
Not tested: Supabase Realtime itself (it cannot run here). What it does with a change is
tested through what it depends on: the table being in the publication, the subscriber's
role being allowed to select the filter column (realtime.subscription_check_filters), the
columns it may select (the only ones Realtime sends), and the per-subscriber RLS check,
run as the exact query realtime.build_prepared_statement_sql builds.
"""

from __future__ import annotations

import uuid

import pytest

from shared.config import REPO_ROOT
from shared.queue.migrate import migrate
from tests.conftest import MIGRATIONS
from tests.sql.factories import Conn, connect, fingerprint, make_job, sqlstate_of, value
from tests.sql.test_rls import ALICE, BOB, as_role

MIGRATION = REPO_ROOT / "supabase" / "migrations" / "20260106000500_realtime_owner_rows.sql"
PUBLISHED = "select tablename from pg_publication_tables where pubname = 'supabase_realtime' order by 1"
OWNER_TABLES = ["job_dead_letter", "job_queue"]


def _realtime_may_see(conn: Conn, table: str, row_id: uuid.UUID) -> bool:
    """Realtime's RLS check for one change and one subscriber: does the row exist for them?"""
    return bool(value(conn, f"select exists(select 1 from public.{table} where id = %s)", (row_id,)))


def test_migrating_a_database_with_a_supabase_realtime_publication_publishes_the_owner_tables(
        empty_db_url: str) -> None:
    with connect(empty_db_url) as conn:
        conn.execute("create publication supabase_realtime")
    migrate(empty_db_url, MIGRATIONS)
    with connect(empty_db_url) as conn:
        assert [r["tablename"] for r in conn.execute(PUBLISHED)] == OWNER_TABLES
        # Nothing else of the queue goes to Realtime, and the replica identity stays the key.
        identity = "select relreplident from pg_class where oid = 'public.job_queue'::regclass"
        assert value(conn, identity) == "d"


def test_running_the_file_again_changes_nothing(empty_db_url: str) -> None:
    with connect(empty_db_url) as conn:
        conn.execute("create publication supabase_realtime")
    migrate(empty_db_url, MIGRATIONS)
    with connect(empty_db_url) as conn:
        conn.execute(MIGRATION.read_text())
        conn.execute(MIGRATION.read_text())
        assert [r["tablename"] for r in conn.execute(PUBLISHED)] == OWNER_TABLES


def test_a_table_already_published_is_left_as_it_is(empty_db_url: str) -> None:
    with connect(empty_db_url) as conn:
        conn.execute("create publication supabase_realtime")
    migrate(empty_db_url, MIGRATIONS)
    with connect(empty_db_url) as conn:
        conn.execute("alter publication supabase_realtime drop table public.job_dead_letter")
        conn.execute(MIGRATION.read_text())
        assert [r["tablename"] for r in conn.execute(PUBLISHED)] == OWNER_TABLES


def test_a_publication_of_all_tables_is_not_an_error(empty_db_url: str) -> None:
    with connect(empty_db_url) as conn:
        conn.execute("create publication supabase_realtime for all tables")
    migrate(empty_db_url, MIGRATIONS)
    with connect(empty_db_url) as conn:
        assert set(OWNER_TABLES) <= {r["tablename"] for r in conn.execute(PUBLISHED)}


def test_without_the_publication_nothing_is_published_and_nothing_fails(conn: Conn) -> None:
    """The template database was migrated with no supabase_realtime publication."""
    assert value(conn, "select count(*) from pg_publication") == 0
    notices: list[str] = []
    conn.add_notice_handler(lambda diag: notices.append(diag.message_primary or ""))
    conn.execute(MIGRATION.read_text())
    assert value(conn, "select count(*) from pg_publication") == 0
    assert any("no supabase_realtime publication" in n for n in notices)


@pytest.mark.parametrize("table", OWNER_TABLES)
def test_realtime_accepts_a_subscription_filtered_by_owner_and_sends_no_payload_or_errors(
        conn: Conn, table: str) -> None:
    columns = {r["attname"]: r["ok"] for r in conn.execute(
        "select attname, has_column_privilege('authenticated', attrelid, attnum, 'select') as ok"
        "  from pg_attribute where attrelid = %s::regclass and attnum > 0 and not attisdropped",
        (f"public.{table}",))}
    assert columns["owner_id"]
    assert columns["id"]
    private = {"payload", "errors", "last_error", "idempotency_key", "rate_limit_key", "locked_by"}
    assert {name for name, ok in columns.items() if ok} & private == set()
    anon = "select has_column_privilege('anon', %s, %s, 'select')"
    assert not any(value(conn, anon, (f"public.{table}", column)) for column in columns)


def test_each_user_passes_realtimes_rls_check_for_their_own_changes_only(conn: Conn) -> None:
    alices = make_job(conn, "running", owner_id=ALICE)
    bobs = make_job(conn, "running", owner_id=BOB)
    nobodys = make_job(conn, "running")
    alices_dead = make_job(conn, "dead", owner_id=ALICE)
    letter = value(conn, "select id from job_dead_letter where job_id = %s", (alices_dead,))
    jobs = (alices, bobs, nobodys)
    with as_role(conn, "authenticated", ALICE):
        assert [_realtime_may_see(conn, "job_queue", j) for j in jobs] == [True, False, False]
        assert _realtime_may_see(conn, "job_dead_letter", letter)
    with as_role(conn, "authenticated", BOB):
        assert [_realtime_may_see(conn, "job_queue", j) for j in jobs] == [False, True, False]
        assert not _realtime_may_see(conn, "job_dead_letter", letter)
    with as_role(conn, "anon"):
        assert sqlstate_of(lambda: _realtime_may_see(conn, "job_queue", alices)).sqlstate == "42501"


def test_a_user_reads_their_own_jobs_progress_and_result_and_their_dead_letters_not_anyone_elses(
        conn: Conn) -> None:
    running = make_job(conn, "running", owner_id=ALICE)
    conn.execute("select update_job_progress(%s, 40, 'rendering', 'w1')", (running,))
    done = make_job(conn, "completed", owner_id=ALICE)
    dead = make_job(conn, "dead", owner_id=ALICE)
    make_job(conn, "completed", owner_id=BOB)
    make_job(conn, "dead", owner_id=BOB)
    make_job(conn, "dead")
    with as_role(conn, "authenticated", ALICE):
        rows = conn.execute("select id, owner_id, status, progress, progress_message, result from job_queue"
                            " order by created_at").fetchall()
        assert [(r["id"], r["owner_id"], r["status"], r["progress"], r["progress_message"], r["result"])
                for r in rows] == [(running, ALICE, "running", 40, "rendering", None),
                                   (done, ALICE, "completed", 100, None, {"ok": True})]
        letters = conn.execute("select job_id, owner_id, type from job_dead_letter").fetchall()
        assert letters == [{"job_id": dead, "owner_id": ALICE, "type": "noop"}]
        assert sqlstate_of(lambda: conn.execute("select last_error from job_dead_letter")).sqlstate == "42501"
    with as_role(conn, "authenticated"):
        assert value(conn, "select count(*) from job_dead_letter") == 0


def _my_jobs(conn: Conn, limit: int | None = None) -> list[dict[str, object]]:
    if limit is None:
        return conn.execute("select * from my_jobs()").fetchall()
    return conn.execute("select * from my_jobs(%s)", (limit,)).fetchall()


def test_my_jobs_lists_the_callers_jobs_newest_first_including_the_failed_ones(conn: Conn) -> None:
    pending = make_job(conn, "pending", owner_id=ALICE)
    running = make_job(conn, "running", owner_id=ALICE)
    conn.execute("select update_job_progress(%s, 70, 'almost', 'w1')", (running,))
    done = make_job(conn, "completed", owner_id=ALICE)
    dead = make_job(conn, "dead", owner_id=ALICE)
    make_job(conn, "running", owner_id=BOB)
    make_job(conn, "dead", owner_id=BOB)
    make_job(conn, "completed")
    # Distinct creation times, newest first (the factories can make several in one now()).
    for age, job_id in enumerate((pending, running, done, dead)):
        for table, column in (("job_queue", "created_at"), ("job_dead_letter", "job_created_at")):
            key = "id" if table == "job_queue" else "job_id"
            conn.execute(f"update {table} set {column} = now() - make_interval(mins => %s) where {key} = %s",
                         (age + 1, job_id))
    with as_role(conn, "authenticated", ALICE):
        rows = _my_jobs(conn)
    assert [(r["id"], r["status"], r["progress"], r["result"]) for r in rows] == [
        (pending, "pending", 0, None), (running, "running", 70, None),
        (done, "completed", 100, {"ok": True}), (dead, "failed", None, None)]
    assert rows[1]["progress_message"] == "almost"
    assert rows[3]["finished_at"] is not None
    assert rows[3]["replayed_job_id"] is None
    assert set(rows[0]) == {"id", "type", "status", "progress", "progress_message", "result", "created_at",
                            "started_at", "finished_at", "updated_at", "replayed_job_id"}


def test_my_jobs_names_the_replay_of_a_failed_job(conn: Conn) -> None:
    dead = make_job(conn, "dead", owner_id=ALICE)
    replay = value(conn, "select retry_dead_letter_job(id) from job_dead_letter where job_id = %s", (dead,))
    with as_role(conn, "authenticated", ALICE):
        rows = {r["id"]: r for r in _my_jobs(conn)}
    assert rows[dead]["replayed_job_id"] == replay
    assert rows[replay]["status"] == "pending"


def test_my_jobs_keeps_to_the_limit(conn: Conn) -> None:
    for _ in range(3):
        make_job(conn, "pending", owner_id=ALICE)
        make_job(conn, "dead", owner_id=ALICE)
    with as_role(conn, "authenticated", ALICE):
        assert len(_my_jobs(conn, 4)) == 4
        assert len(_my_jobs(conn, 1000)) == 6


def test_my_jobs_is_empty_for_a_user_without_jobs_and_without_a_user(conn: Conn) -> None:
    make_job(conn, "pending", owner_id=ALICE)
    make_job(conn, "dead")
    with as_role(conn, "authenticated", BOB):
        assert _my_jobs(conn) == []
    with as_role(conn, "authenticated"):
        assert _my_jobs(conn) == []
    with as_role(conn, "service_role"):
        assert _my_jobs(conn) == []


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_my_jobs_refuses_a_limit_out_of_range_and_says_what_is_allowed(conn: Conn, limit: int) -> None:
    make_job(conn, "pending", owner_id=ALICE)
    before = fingerprint(conn)
    with as_role(conn, "authenticated", ALICE):
        error = sqlstate_of(lambda: _my_jobs(conn, limit))
    assert error.sqlstate == "22QB1"
    assert error.diag.message_primary == f"limit must be 1-1000, got {limit}"
    assert "between 1 and 1000" in (error.diag.message_hint or "")
    assert fingerprint(conn) == before


def test_my_jobs_refuses_a_null_limit(conn: Conn) -> None:
    with as_role(conn, "authenticated", ALICE):
        error = sqlstate_of(lambda: conn.execute("select * from my_jobs(null)"))
    assert (error.sqlstate, error.diag.message_primary) == ("22QB1", "limit must be 1-1000, got null")


def test_anon_may_not_call_my_jobs(conn: Conn) -> None:
    with as_role(conn, "anon"):
        assert sqlstate_of(lambda: _my_jobs(conn)).sqlstate == "42501"
