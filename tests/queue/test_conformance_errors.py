"""QueueBackend conformance, part 3: bad inputs raise the same QueueError on every backend
(chosen by SQLSTATE, with the database's message and hint), and a database or endpoint
that cannot be reached is DatabaseUnavailable.

Real: PostgreSQL with the migrations applied, supabase-py, HTTP on 127.0.0.1; the
unreachable cases use a closed local port. Faked: PostgREST, by tests/support/postgrest.py.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from shared.queue import QueueBackend
from shared.queue.errors import (
    DatabaseUnavailable,
    InvalidBatchSize,
    InvalidDependency,
    InvalidInput,
    InvalidPayload,
    QueueError,
    UnknownJobType,
)
from shared.queue.models import NewJob
from shared.queue.postgres import PostgresBackend
from shared.queue.supabase import SupabaseBackend
from tests.queue.test_conformance import claim_one, enqueue
from tests.support.postgrest import PostgrestEndpoint, serve_postgrest

Conn = psycopg.Connection[dict[str, Any]]


def test_enqueueing_an_unknown_type_names_the_known_types(backend: QueueBackend, conn: Conn) -> None:
    with pytest.raises(UnknownJobType) as raised:
        backend.jobs_enqueue([NewJob(type="noop"), NewJob(type="nope")])
    assert "nope" in raised.value.message
    assert raised.value.sqlstate == "22QT1"
    assert raised.value.hint, "the hint says what to do"
    assert "email" in f"{raised.value.message} {raised.value.hint}", "the error lists the known types"
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 0}


def test_claiming_an_unknown_type_is_refused(backend: QueueBackend) -> None:
    with pytest.raises(UnknownJobType):
        backend.jobs_claim("w1", ["noop", "nope"], 10)


@pytest.mark.parametrize("size", [0, -1, 1001])
def test_a_batch_size_outside_1_to_1000_is_refused(backend: QueueBackend, size: int) -> None:
    with pytest.raises(InvalidBatchSize) as raised:
        backend.jobs_claim("w1", None, size)
    assert raised.value.hint is not None
    assert "1000" in raised.value.hint


@pytest.mark.parametrize(("worker", "lock_seconds"),
                         [("", None), ("x" * 201, None), ("w1", 0), ("w1", 86401)])
def test_a_bad_worker_id_or_lock_length_is_invalid_input(backend: QueueBackend, worker: str,
                                                          lock_seconds: int | None) -> None:
    with pytest.raises(InvalidInput):
        backend.jobs_claim(worker, None, 1, lock_seconds=lock_seconds)


def test_depending_on_a_missing_job_is_an_invalid_dependency(backend: QueueBackend) -> None:
    with pytest.raises(InvalidDependency):
        backend.jobs_enqueue([NewJob(type="noop", depends_on=[uuid4()])])


def test_a_payload_over_the_size_limit_is_refused(backend: QueueBackend, conn: Conn) -> None:
    conn.execute("update queue.settings set value = '100' where key = 'payload_max_bytes'")
    with pytest.raises(InvalidPayload):
        backend.jobs_enqueue([NewJob(type="noop", payload={"text": "x" * 200})])


@pytest.mark.parametrize("progress", [-1, 101])
def test_progress_outside_0_to_100_is_invalid_input(backend: QueueBackend, progress: int) -> None:
    enqueue(backend)
    job = claim_one(backend)
    with pytest.raises(InvalidInput) as raised:
        backend.job_progress(job.id, progress, None, "w1")
    assert raised.value.sqlstate == "22QG1"


def test_calling_a_function_that_does_not_exist_is_a_queue_error(backend: QueueBackend) -> None:
    with pytest.raises(QueueError):
        backend.rpc("no_such_function", {"p_x": 1})


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_database_is_unavailable_on_the_direct_path(db_url: str) -> None:
    url = make_conninfo(db_url, host="127.0.0.1", port=closed_port(), connect_timeout=1)
    with pytest.raises(DatabaseUnavailable) as raised:
        PostgresBackend(url, open_timeout=1)
    assert raised.value.hint is not None
    assert "DATABASE_URL" in raised.value.hint


def test_an_unreachable_supabase_api_is_unavailable(postgrest: PostgrestEndpoint) -> None:
    backend = SupabaseBackend(f"http://127.0.0.1:{closed_port()}", postgrest.service_role_key, timeout=2)
    calls: list[Callable[[], object]] = [backend.ping, backend.job_types, lambda: enqueue(backend)]
    for call in calls:
        with pytest.raises(DatabaseUnavailable) as raised:
            call()
        assert raised.value.hint is not None
        assert "SUPABASE_URL" in raised.value.hint
    backend.close()


def test_an_api_that_cannot_reach_its_database_is_unavailable(db_url: str) -> None:
    url = make_conninfo(db_url, host="127.0.0.1", port=closed_port(), connect_timeout=1)
    with serve_postgrest(url, pool_timeout=0.3) as endpoint:
        backend = SupabaseBackend(endpoint.url, endpoint.service_role_key, timeout=5)
        with pytest.raises(DatabaseUnavailable) as raised:
            backend.jobs_claim("w1", None, 1)
        assert raised.value.sqlstate == "PGRST000"
        backend.close()


def test_a_connection_cut_by_the_server_is_replaced(backend: QueueBackend, conn: Conn) -> None:
    """The direct path checks an idle connection before use, so the cut costs no call;
    the PostgREST stand-in's pool (like PostgREST's) answers one call with 503 first."""
    backend.ping()
    conn.execute("select pg_terminate_backend(pid, 5000) from pg_stat_activity "
                 "where datname = current_database() and pid <> pg_backend_pid()")
    if not isinstance(backend, PostgresBackend):
        with pytest.raises(DatabaseUnavailable):
            backend.ping()
    assert backend.ping() > 0
