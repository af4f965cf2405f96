"""Which database a `queue-worker` command talks to.

DATABASE_URL when set; else the Supabase API when SUPABASE_URL and the service key are
set (commands that need SQL, like `migrate`, refuse that path); else the embedded
PostgreSQL in LOCAL_DIR/pgdata, database `queue_worker`, started on demand and migrated,
so every command works on a fresh checkout with no configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from shared.config import Settings
from shared.local.postgres import ensure_database, server_url, start_embedded
from shared.queue import QueueBackend, backend_from_settings
from shared.queue.errors import QueueError
from shared.queue.migrate import Migration, migrate
from shared.queue.postgres import PostgresBackend

EMBEDDED_DATABASE = "queue_worker"
# Handles of embedded servers this process started or attached to: the server stops
# when the last process holding one exits, so they live as long as the process.
_embedded: list[Any] = []


def embedded_url(settings: Settings, database: str = EMBEDDED_DATABASE) -> str:
    """URL of `database` on the embedded server in LOCAL_DIR/pgdata (started if needed)."""
    if not _embedded:
        _embedded.append(start_embedded(settings.local_dir / "pgdata"))
    ensure_database(server_url(_embedded[0]), database)
    return server_url(_embedded[0], database)


def sql_database_url(settings: Settings) -> str:
    """A postgresql:// URL: DATABASE_URL, else the embedded server (never the Supabase API)."""
    return settings.database_url or embedded_url(settings)


def describe(url: str) -> str:
    """`dbname on host:port` without user or password, for messages."""
    parts = conninfo_to_dict(url)
    where = parts.get("host") or "localhost"
    if str(where).startswith("/"):
        where = "embedded server"
    port = f":{parts['port']}" if parts.get("port") and where != "embedded server" else ""
    return f"{parts.get('dbname', '?')} on {where}{port}"


def migrate_database(url: str, settings: Settings, progress: Callable[[Migration], None] | None = None,
                     finished: Callable[[Migration, float], None] | None = None) -> list[Migration]:
    """Apply the migrations not yet applied; returns them (callbacks as `shared.queue.migrate`)."""
    try:
        return migrate(url, settings.migrations_dir, progress, finished)
    except OSError as exc:
        raise QueueError(f"cannot read the migrations: {exc}", hint="check MIGRATIONS_DIR") from exc


def open_backend(settings: Settings) -> QueueBackend:
    """The backend for a command: configured database, else the embedded one (migrated)."""
    if settings.database_url or settings.supabase_url:
        return backend_from_settings(settings)
    url = embedded_url(settings)
    migrate_database(url, settings)
    return PostgresBackend(url, max_size=settings.db_pool_max)
