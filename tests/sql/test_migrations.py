"""The migration files: Supabase CLI names, each records its own version, and they can be
applied by anything that runs SQL files in order (psql, `supabase db push`) and run again.

Real: PostgreSQL; the files are executed as plain SQL, not through shared.queue.migrate. Faked: nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shared.config import REPO_ROOT
from tests.sql.factories import Conn, connect, value
from tests.sql.schema_description import describe_schema
from tests.sql.test_grants import CLIENT_CALLABLE, FUNCTIONS

MIGRATIONS = sorted((REPO_ROOT / "supabase" / "migrations").glob("*.sql"))
NAME = re.compile(r"^(\d{14})_[a-z0-9_]+\.sql$")


def _version(path: Path) -> str:
    match = NAME.match(path.name)
    assert match, f"{path.name} is not named <14-digit timestamp>_<name>.sql"
    return match.group(1)


@pytest.mark.parametrize("path", MIGRATIONS, ids=[p.name for p in MIGRATIONS])
def test_each_file_ends_by_recording_its_own_version(path: Path) -> None:
    last = path.read_text().rstrip().splitlines()[-1]
    expected = (
        f"insert into queue.schema_migrations (version) values ('{_version(path)}') on conflict do nothing;"
    )
    assert last == expected


def _run_files(conn: Conn) -> None:
    for path in MIGRATIONS:
        conn.execute(path.read_text())


def test_files_run_as_plain_sql_record_every_version_and_run_again_unchanged(empty_db_url: str) -> None:
    with connect(empty_db_url) as conn:
        _run_files(conn)
        assert value(conn, "select queue_schema_versions()") == [_version(p) for p in MIGRATIONS]
        schema = describe_schema(conn)
        _run_files(conn)
        assert describe_schema(conn) == schema
        assert value(conn, "select count(*) from job_schedules") == 2
        assert (
            value(
                conn, "select count(*) from job_types where name in ('email', 'audio', 'payout', 'analytics')"
            )
            == 4
        )


SUPABASE_DEFAULTS = [
    f"alter default privileges in schema public grant all on {kind} to anon, authenticated, service_role"
    for kind in ("tables", "sequences", "functions")
]


def test_with_supabases_default_privileges_clients_still_get_nothing(empty_db_url: str) -> None:
    with connect(empty_db_url) as conn:
        conn.execute(MIGRATIONS[0].read_text())  # the roles, before any public object exists
        for statement in SUPABASE_DEFAULTS:
            conn.execute(statement)
        for path in MIGRATIONS[1:]:
            conn.execute(path.read_text())
        functions = conn.execute(FUNCTIONS).fetchall()
        assert {r["name"] for r in functions if r["authenticated"] or r["anon"]} == CLIENT_CALLABLE
        assert [r["name"] for r in functions if r["anon"]] == []
        leaks = conn.execute("""
            select c.relname, r from pg_class c, unnest(array['anon', 'authenticated']) r
             where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'S')
               and (has_table_privilege(r, c.oid, 'insert, update, delete, truncate')
                    or (c.relkind = 'S' and has_sequence_privilege(r, c.oid, 'usage, select, update'))
                    or (has_table_privilege(r, c.oid, 'select') and c.relname <> 'job_queue'))""").fetchall()
        assert leaks == []
