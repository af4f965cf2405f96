"""Client rules as a browser meets them through PostgREST: a custom JWT role that inherits
authenticated is a client, and the per-user pending cap answers HTTP 429.

Real: PostgreSQL with the migrations applied, supabase-py, HTTP on 127.0.0.1, a custom
database role made for the test (`grant authenticated to premium`) and dropped after it.
Faked: PostgREST, by tests/support/postgrest.py (JWT role -> SET LOCAL ROLE, as PostgREST).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from psycopg import sql

from shared.queue.errors import TooManyPendingJobs, error_for_sqlstate
from tests.support import jwt
from tests.support.postgrest import PostgrestEndpoint

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def premium(conn: Conn) -> Iterator[str]:
    """A custom JWT role inheriting authenticated, unique to this test (roles are cluster-wide)."""
    name = f"qw_premium_{uuid.uuid4().hex[:10]}"
    conn.execute(sql.SQL("create role {} nologin inherit in role authenticated").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


def _enqueue(endpoint: PostgrestEndpoint, token: str, job_type: str) -> httpx.Response:
    return httpx.post(f"{endpoint.url}/rest/v1/rpc/enqueue_job", json={"p_type": job_type, "p_payload": {}},
                      headers={"apikey": endpoint.anon_key, "Authorization": f"Bearer {token}"}, timeout=10)


def test_a_custom_role_inheriting_authenticated_cannot_enqueue_a_server_only_type(
        postgrest: PostgrestEndpoint, conn: Conn, premium: str) -> None:
    response = _enqueue(postgrest, jwt.user_token(uuid.uuid4(), role=premium), "payout")
    assert response.status_code == 403
    assert response.json()["code"] == "42501"
    assert response.json()["message"] == "job type 'payout' cannot be enqueued by clients"
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 0}


def test_a_user_at_the_pending_cap_gets_429_with_a_hint_and_no_job(
        postgrest: PostgrestEndpoint, conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true, client_pending_limit = 1"
                 " where name = 'email'")
    token = postgrest.user_token(uuid.uuid4())
    assert _enqueue(postgrest, token, "email").status_code == 200
    response = _enqueue(postgrest, token, "email")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "PT429"
    assert "client_pending_limit" in body["hint"]
    assert isinstance(error_for_sqlstate(body["code"], body["message"], body["hint"]), TooManyPendingJobs)
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 1}
