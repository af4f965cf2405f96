"""Apply supabase/migrations/*.sql in filename order, each once.

Each file records its own version in queue.schema_migrations (its last statement),
so a database migrated by psql or `supabase db push` is recognised here too.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg

MIGRATION_NAME = re.compile(r"^(\d{14})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: str
    path: Path

    @property
    def name(self) -> str:
        return self.path.stem


def migrations_in(directory: Path) -> list[Migration]:
    """The migration files of `directory`, sorted; a misnamed .sql file is an error."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_NAME.match(path.name)
        if match is None:
            raise ValueError(f"{path.name}: migration files are named <14-digit timestamp>_<name>.sql")
        found.append(Migration(match.group(1), path))
    return found


def applied_versions(conn: psycopg.Connection) -> set[str]:
    """Versions recorded in queue.schema_migrations (empty before the first migration)."""
    exists = conn.execute("select to_regclass('queue.schema_migrations') is not null").fetchone()
    if not exists or not exists[0]:
        return set()
    return {row[0] for row in conn.execute("select version from queue.schema_migrations")}


def migrate(database_url: str, directory: Path, progress: Callable[[Migration], None] | None = None,
            finished: Callable[[Migration, float], None] | None = None) -> list[Migration]:
    """Apply every migration not yet applied, each in its own transaction; `progress` hears
    of each before it is applied, `finished` after, with the seconds it took.

    Returns what it applied. Safe to run again: a second run applies nothing.
    """
    applied: list[Migration] = []
    with psycopg.connect(database_url, autocommit=True) as conn:
        # One migrator at a time per database; concurrent `migrate` calls wait here.
        conn.execute("select pg_advisory_lock(hashtext('queue-worker migrate'))")
        done = applied_versions(conn)
        for migration in migrations_in(directory):
            if migration.version in done:
                continue
            if progress is not None:
                progress(migration)
            started = time.monotonic()
            with conn.transaction():
                conn.execute(migration.path.read_text())
                conn.execute("insert into queue.schema_migrations (version) values (%s) "
                             "on conflict do nothing", (migration.version,))
            applied.append(migration)
            if finished is not None:
                finished(migration, time.monotonic() - started)
        conn.execute("select pg_advisory_unlock(hashtext('queue-worker migrate'))")
    return applied
