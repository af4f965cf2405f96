"""No leak under Supabase's default privileges: on a database where, as on Supabase, everything
created in public is granted to anon and authenticated by default, the migrations leave those
two roles exactly the privileges in README's "Security" list, so a future migration that
forgets a revoke fails here.

Real: PostgreSQL; a fresh database given the default privileges Supabase's initial schema
sets (supabase/postgres migrations/db/init-scripts/00000000000000-initial-schema.sql) before
shared.queue.migrate applies every migration. Faked: nothing.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from shared.config import REPO_ROOT
from shared.queue.migrate import migrate
from tests.sql.factories import Conn, connect

# Supabase's statements, verbatim but for `postgres` (a role the embedded server lacks): they
# apply to objects the role running them creates, here the role that then migrates.
SUPABASE_DEFAULTS = """
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;
"""

# Effective privileges (PUBLIC's and role memberships included) of anon and authenticated on
# every schema, relation, column set and function in public and queue that is not an extension's.
PRIVILEGES = """
with roles(r) as (values ('anon'), ('authenticated')),
schemas as (select oid, nspname from pg_namespace where nspname in ('public', 'queue')),
mine as (select objid from pg_depend where deptype = 'e'),
checks as (
  select r, p || ' on schema ' || s.nspname as what, has_schema_privilege(r, s.oid, p) as ok
    from roles, schemas s, unnest(array['usage', 'create']) p
  union all
  select r, p || ' on sequence ' || c.oid::regclass, has_sequence_privilege(r, c.oid, p)
    from roles, pg_class c join schemas s on s.oid = c.relnamespace,
         unnest(array['usage', 'select', 'update']) p
   where c.relkind = 'S' and c.oid not in (select objid from mine)
  union all
  select r, p || ' on table ' || c.oid::regclass,
         case when p in ('select', 'insert', 'update', 'references')
              then has_any_column_privilege(r, c.oid, p) else has_table_privilege(r, c.oid, p) end
    from roles, pg_class c join schemas s on s.oid = c.relnamespace,
         unnest(array['select', 'insert', 'update', 'delete', 'truncate', 'references', 'trigger']) p
   where c.relkind in ('r', 'p', 'v', 'm', 'f') and c.oid not in (select objid from mine)
  union all
  select r, 'execute on function ' || f.oid::regprocedure, has_function_privilege(r, f.oid, 'execute')
    from roles, pg_proc f join schemas s on s.oid = f.pronamespace
   where f.oid not in (select objid from mine)
)
select r || ': ' || what as grant from checks where ok order by 1
"""

README = REPO_ROOT / "README.md"


def documented_allow_list() -> set[str]:
    """The indented `role: privilege on object` lines right after README's client-privileges marker."""
    lines = README.read_text().split("<!-- client-privileges -->\n", 1)[1].splitlines()
    return {line.strip() for line in itertools.takewhile(lambda line: line.startswith("    "), lines)}


@pytest.fixture
def supabase_like_db(pg_server_url: str) -> Iterator[str]:
    """A fresh database with Supabase's default privileges set before any migration, migrated."""
    name = f"qw_sbdefaults_{os.getpid()}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        url = make_conninfo(pg_server_url, dbname=name)
        with psycopg.connect(url, autocommit=True) as conn:
            for role in ("anon", "authenticated", "service_role"):
                if not conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone():
                    conn.execute(sql.SQL("create role {} nologin noinherit").format(sql.Identifier(role)))
            conn.execute(SUPABASE_DEFAULTS)
        migrate(url, REPO_ROOT / "supabase" / "migrations")
        yield url
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _granted(conn: Conn) -> set[str]:
    conn.execute("set search_path = ''")  # so every object's name prints schema-qualified
    return {row["grant"] for row in conn.execute(PRIVILEGES)}


def test_the_default_privileges_really_grant_new_public_objects_to_the_clients(supabase_like_db: str) -> None:
    with connect(supabase_like_db) as conn:
        conn.execute("create table public.forgot_to_revoke (id int)")
        granted = _granted(conn)
    assert "anon: select on table public.forgot_to_revoke" in granted
    assert "authenticated: delete on table public.forgot_to_revoke" in granted


def test_clients_hold_exactly_the_documented_privileges_in_public_and_queue(supabase_like_db: str) -> None:
    allowed = documented_allow_list()
    assert allowed, "README's client-privileges list is empty or its marker moved"
    with connect(supabase_like_db) as conn:
        granted = _granted(conn)
    assert sorted(granted - allowed) == [], "clients hold privileges README does not list (a missing revoke?)"
    assert sorted(allowed - granted) == [], "README lists privileges the clients do not hold"
