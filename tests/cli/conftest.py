"""Fixtures for the `queue-worker` command tests.

Real: PostgreSQL (a fresh migrated database per test), the CLI's own code paths.
Nothing faked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from tests.conftest import database_url

# Settings the CLI reads; cleared so the machine's environment cannot leak in.
ENV_NAMES = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "QUEUE_WORKER_SECRET",
             "QUEUE_WORKER_ALLOW_UNAUTHENTICATED", "LOCAL_DIR", "MIGRATIONS_DIR")


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL pointing at this test's database; returns it."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A database on the test server that no migration has touched."""
    name = f"qw_cli_empty_{os.getpid()}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    yield database_url(pg_server_url, name)
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
