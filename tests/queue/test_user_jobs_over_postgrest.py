"""A signed-in user reads their own jobs' status, progress and result through supabase-py, as
an app would; another user sees none of them; README's supabase-py block runs as printed.

Real: PostgreSQL with the migrations applied, supabase-py (`create_client(...).rpc` and
`.table(...).select`), httpx, HTTP on 127.0.0.1, jobs moved through their states by the real
SQL API. Faked: PostgREST (and Supabase's API gateway), by tests/support/postgrest.py, with
JWTs signed by a test secret; sign-in itself (no Supabase Auth here: the client is given the
token sign-in would have stored). Supabase Realtime is not run here; what it relies on (the
publication, the column privileges, RLS) is tested in tests/sql/test_realtime_owner_rows.py.
"""

from __future__ import annotations

import contextlib
import io
import re
from typing import Any, cast
from uuid import UUID, uuid4

import psycopg
import pytest
from postgrest import APIError
from supabase import Client, create_client

from shared.config import REPO_ROOT
from tests.queue.test_supabase_clients import signed_in_client
from tests.sql.factories import make_job
from tests.support.postgrest import PostgrestEndpoint

Conn = psycopg.Connection[dict[str, Any]]


def _readme_block() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    match = re.search(r"<!-- example: user-jobs-python -->\n```python\n(.+?)```", readme, re.S)
    assert match, "README's user-jobs-python example moved"
    return match.group(1)


def _rows(data: object) -> list[dict[str, Any]]:
    """PostgREST's JSON array of rows, typed for the asserts."""
    assert isinstance(data, list)
    return cast(list[dict[str, Any]], data)


def _alices_jobs(conn: Conn, alice: UUID) -> dict[str, UUID]:
    running = make_job(conn, "running", owner_id=alice)
    conn.execute("select update_job_progress(%s, 40, 'chunk 2 of 5', 'w1')", (running,))
    return {"running": running, "completed": make_job(conn, "completed", owner_id=alice),
            "failed": make_job(conn, "dead", owner_id=alice)}


def test_a_signed_in_user_reads_status_progress_and_result_of_their_own_jobs(
        postgrest: PostgrestEndpoint, conn: Conn) -> None:
    alice = uuid4()
    mine = _alices_jobs(conn, alice)
    make_job(conn, "running", owner_id=uuid4())
    make_job(conn, "completed")
    client = signed_in_client(postgrest, alice)
    listed = {row["id"]: row for row in _rows(client.rpc("my_jobs", {"p_limit": 20}).execute().data)}
    assert {status: listed[str(job_id)]["status"] for status, job_id in mine.items()} == {
        "running": "running", "completed": "completed", "failed": "failed"}
    assert listed[str(mine["running"])]["progress"] == 40
    assert listed[str(mine["running"])]["progress_message"] == "chunk 2 of 5"
    assert listed[str(mine["completed"])]["result"] == {"ok": True}
    rows = _rows(client.table("job_queue").select("id, status, progress, result").order("created_at")
                 .execute().data)
    assert [(UUID(r["id"]), r["status"], r["progress"], r["result"]) for r in rows] == [
        (mine["running"], "running", 40, None), (mine["completed"], "completed", 100, {"ok": True})]


def test_another_user_sees_none_of_them(postgrest: PostgrestEndpoint, conn: Conn) -> None:
    mine = _alices_jobs(conn, uuid4())
    bob = signed_in_client(postgrest, uuid4())
    assert bob.rpc("my_jobs", {}).execute().data == []
    assert bob.table("job_queue").select("id, status").execute().data == []
    assert bob.table("job_queue").select("id").eq("id", str(mine["running"])).execute().data == []
    assert bob.table("job_dead_letter").select("job_id").execute().data == []


def test_the_payload_and_errors_stay_with_the_server(postgrest: PostgrestEndpoint, conn: Conn) -> None:
    alice = uuid4()
    _alices_jobs(conn, alice)
    client = signed_in_client(postgrest, alice)
    for table, column in (("job_queue", "payload"), ("job_queue", "last_error"),
                          ("job_dead_letter", "last_error")):
        with pytest.raises(APIError) as raised:
            client.table(table).select(f"id, {column}").execute()
        assert raised.value.code == "42501", (table, column)


def test_the_anon_key_alone_reads_no_jobs(postgrest: PostgrestEndpoint, conn: Conn) -> None:
    _alices_jobs(conn, uuid4())
    anon: Client = create_client(postgrest.url, postgrest.anon_key)
    with pytest.raises(APIError) as raised:
        anon.rpc("my_jobs", {}).execute()
    assert raised.value.code == "42501"


def test_a_bad_limit_is_a_400_saying_what_is_allowed(postgrest: PostgrestEndpoint) -> None:
    with pytest.raises(APIError) as raised:
        signed_in_client(postgrest, uuid4()).rpc("my_jobs", {"p_limit": 5000}).execute()
    assert (raised.value.code, raised.value.message) == ("22QB1", "limit must be 1-1000, got 5000")
    assert "between 1 and 1000" in (raised.value.hint or "")


def test_the_readmes_supabase_py_block_runs_as_printed(postgrest: PostgrestEndpoint, conn: Conn) -> None:
    alice = uuid4()
    mine = _alices_jobs(conn, alice)
    namespace: dict[str, Any] = {"supabase": signed_in_client(postgrest, alice),
                                 "job_id": str(mine["running"])}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_readme_block(), "README.md", "exec"), namespace)  # noqa: S102 - our own README
    lines = printed.getvalue().splitlines()
    assert len(lines) == 3
    assert any(line.startswith(f"{mine['running']} noop running 40 None") for line in lines)
    assert any(line.startswith(f"{mine['completed']} noop completed 100 {{'ok': True}}") for line in lines)
    assert namespace["job"] == [{"id": str(mine["running"]), "status": "running", "progress": 40,
                                 "progress_message": "chunk 2 of 5", "result": None}]
