"""Fixtures of the SQL tests beyond tests/conftest.py's."""

from __future__ import annotations

import os
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql


@pytest.fixture
def empty_db_url(pg_server_url: str) -> Iterator[str]:
    """A database with nothing in it, dropped afterwards."""
    name = f"qw_plain_{os.getpid()}"
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
        yield psycopg.conninfo.make_conninfo(pg_server_url, dbname=name)
        admin.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
