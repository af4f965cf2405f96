"""Worker fixtures: PostgresBackend over this test's real, freshly migrated database,
test-only job types (rows inserted into job_types) and their processor modules
(tests/worker/procs.py). Nothing is faked."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest

from shared.config import Settings
from shared.logs import LOGGER_NAME
from shared.queue.models import NewJob
from shared.queue.postgres import PostgresBackend

Conn = psycopg.Connection[dict[str, Any]]
AddType = Callable[..., None]


@pytest.fixture
def backend(db_url: str) -> Iterator[PostgresBackend]:
    chosen = PostgresBackend(db_url, max_size=4)
    yield chosen
    chosen.close()


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings(database_url=db_url, _env_file=None)


@pytest.fixture(autouse=True)
def _log_info() -> None:
    """Per-job lines are INFO; a benchmark in the same process may have raised the level."""
    logging.getLogger(LOGGER_NAME).setLevel(logging.INFO)


@pytest.fixture
def add_type(conn: Conn) -> AddType:
    """Insert a job_types row: add_type("slow", timeout_seconds=2, max_attempts=3, ...)."""
    def add(name: str, **columns: Any) -> None:
        values = {"timeout_seconds": 30, "max_attempts": 3, "backoff_base_seconds": 1,
                  "backoff_cap_seconds": 1, **columns}
        names = ", ".join(values)
        marks = ", ".join(["%s"] * len(values))
        conn.execute(f"insert into job_types (name, {names}) values (%s, {marks})",  # test-only DDL input
                     (name, *values.values()))
    return add


def enqueue(backend: PostgresBackend, job_type: str, *payloads: dict[str, Any], **fields: Any) -> list[UUID]:
    """Enqueue one job per payload."""
    return backend.jobs_enqueue([NewJob(type=job_type, payload=p, **fields) for p in payloads])


def job_row(conn: Conn, job_id: UUID) -> dict[str, Any] | None:
    return conn.execute("select * from job_queue where id = %s", (job_id,)).fetchone()


def history(conn: Conn, job_id: UUID) -> list[tuple[str, str]]:
    rows = conn.execute("select from_status, to_status from job_status_history where job_id = %s "
                        "order by id nulls last, at", (job_id,)).fetchall()
    return [(row["from_status"], row["to_status"]) for row in rows]
