"""Row-level security and table grants per role: anon, authenticated (owner and stranger), service_role.

Real: PostgreSQL with the Supabase roles the migrations create on plain Postgres; the JWT is
simulated exactly as PostgREST does it (SET ROLE + request.jwt.claims). Faked: nothing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial

import pytest

from tests.sql.factories import Conn, fingerprint, make_job, sqlstate_of, value

# Each queue table and a column an UPDATE could touch.
COLUMNS = {
    "job_queue": "created_at",
    "job_dead_letter": "failed_at",
    "job_status_events": "note",
    "job_types": "updated_at",
    "job_rate_limits": "created_at",
    "job_schedules": "updated_at",
    "worker_runs": "meta",
}
TABLES = tuple(COLUMNS)
ALICE = uuid.UUID("11111111-1111-4111-8111-111111111111")
BOB = uuid.UUID("22222222-2222-4222-8222-222222222222")


@contextmanager
def as_role(conn: Conn, role: str, sub: uuid.UUID | None = None) -> Iterator[Conn]:
    """Run as `role` with a JWT for `sub`, the way PostgREST does; back to the owner afterwards."""
    claims = json.dumps({"sub": str(sub), "role": role} if sub else {"role": role})
    conn.execute("select set_config('request.jwt.claims', %s, false)", (claims,))
    conn.execute(f"set role {role}")
    try:
        yield conn
    finally:
        conn.execute("reset role")
        conn.execute("select set_config('request.jwt.claims', '', false)")


def _denied(conn: Conn, query: str) -> None:
    error = sqlstate_of(lambda: conn.execute(query))
    assert error.sqlstate == "42501", f"{query}: {error}"


@pytest.mark.parametrize("role", ["anon", "authenticated"])
@pytest.mark.parametrize("table", TABLES)
def test_clients_cannot_change_any_queue_table(conn: Conn, role: str, table: str) -> None:
    make_job(conn, "running", owner_id=ALICE)
    before = fingerprint(conn)
    with as_role(conn, role, ALICE):
        _denied(conn, f"delete from public.{table}")
        _denied(conn, f"update public.{table} set {COLUMNS[table]} = {COLUMNS[table]}")
        _denied(conn, f"insert into public.{table} default values")
        if table != "job_queue":
            _denied(conn, f"select * from public.{table}")
        _denied(conn, "select * from queue.settings")
    assert fingerprint(conn) == before


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_clients_can_neither_read_nor_write_the_history_view(conn: Conn, role: str) -> None:
    """job_status_history is a view (over job_status_events and job_queue): not readable by
    clients, and not writable by anyone (55000, a view with UNION ALL is not updatable)."""
    make_job(conn, "running", owner_id=ALICE)
    before = fingerprint(conn)
    with as_role(conn, role, ALICE):
        _denied(conn, "select * from public.job_status_history")
        for query in ("delete from public.job_status_history",
                      "insert into public.job_status_history default values",
                      "update public.job_status_history set note = note"):
            error = sqlstate_of(partial(conn.execute, query))
            assert error.sqlstate in ("42501", "55000"), query
    assert fingerprint(conn) == before


def test_anon_cannot_read_jobs_at_all(conn: Conn) -> None:
    make_job(conn, "pending", owner_id=ALICE)
    with as_role(conn, "anon"):
        _denied(conn, "select id, status from job_queue")


def test_a_user_reads_status_progress_and_result_of_their_own_jobs_only(conn: Conn) -> None:
    mine = make_job(conn, "completed", owner_id=ALICE)
    make_job(conn, "pending", owner_id=BOB)
    make_job(conn, "pending")
    with as_role(conn, "authenticated", ALICE):
        rows = conn.execute("select id, status, progress, progress_message, result from job_queue").fetchall()
        assert [(r["id"], r["status"], r["progress"], r["result"]) for r in rows] == [
            (mine, "completed", 100, {"ok": True})
        ]
        _denied(conn, "select payload from job_queue")
        _denied(conn, "select * from job_queue")
        # owner_id is readable (Realtime filters on it) and, under RLS, only ever their own id.
        assert [r["owner_id"] for r in conn.execute("select owner_id from job_queue")] == [ALICE]


def test_a_user_without_a_jwt_sees_no_jobs(conn: Conn) -> None:
    make_job(conn, "pending", owner_id=ALICE)
    with as_role(conn, "authenticated"):
        assert conn.execute("select id from job_queue").fetchall() == []


def test_the_service_role_reads_and_changes_everything(conn: Conn) -> None:
    job_id = make_job(conn, "pending", owner_id=ALICE)
    make_job(conn, "dead")
    with as_role(conn, "service_role"):
        for table in TABLES:
            conn.execute(f"select * from public.{table}").fetchall()
        assert value(conn, "select payload from job_queue where id = %s", (job_id,)) == {}
        assert value(conn, "select count(*) from job_dead_letter") == 1
        conn.execute("update job_queue set payload = '{\"x\": 1}' where id = %s", (job_id,))
        conn.execute("insert into job_rate_limits (key, max_per_window, window_seconds) values ('k', 1, 1)")
        conn.execute("insert into job_status_events (job_id, to_status) values (%s, 'pending')", (job_id,))
        conn.execute("delete from job_dead_letter")
    assert value(conn, "select payload from job_queue where id = %s", (job_id,)) == {"x": 1}
    assert value(conn, "select count(*) from job_dead_letter") == 0
