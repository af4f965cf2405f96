"""The worker function on the supabase-py path: only SUPABASE_URL and the service key set.

Real: functions-framework's app (its test client), supabase-py, PostgreSQL, the worker
loop and the noop processor. Stand-in: PostgREST (which cannot be installed here) is
tests/support/postgrest.py, a PostgREST-compatible RPC endpoint over the same database.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import psycopg
import pytest
from flask.testing import FlaskClient
from supabase import create_client

from shared.api import actions as http_api
from tests.functions.conftest import ENV_NAMES, SOURCE
from tests.sql.factories import job
from tests.support.postgrest import PostgrestEndpoint, postgrest

__all__ = ["postgrest"]
Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def supabase_client(postgrest: PostgrestEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    """The function configured as on Supabase: no DATABASE_URL, no worker secret."""
    import functions_framework

    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_URL", postgrest.url)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", postgrest.service_role_key)
    http_api.reset()
    app = functions_framework.create_app(target="queue_worker", source=SOURCE)  # type: ignore[no-untyped-call]
    test_client: FlaskClient = app.test_client()
    yield test_client
    http_api.reset()


def test_an_app_enqueues_with_supabase_rpc_and_the_function_processes_it_through_supabase(
        supabase_client: FlaskClient, postgrest: PostgrestEndpoint, conn: Conn) -> None:
    app = create_client(postgrest.url, postgrest.service_role_key)
    job_id = UUID(str(app.rpc("enqueue_job", {"p_type": "noop", "p_payload": {"i": 1}}).execute().data))
    auth = {"Authorization": f"Bearer {postgrest.service_role_key}"}
    response = supabase_client.post("/", headers=auth)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json is not None
    assert [(j["id"], j["outcome"]) for j in response.json["jobs"]] == [(str(job_id), "completed")]
    assert job(conn, job_id)["status"] == "completed"


def test_health_stats_and_enqueue_work_on_the_supabase_path(supabase_client: FlaskClient,
                                                           postgrest: PostgrestEndpoint) -> None:
    auth = {"Authorization": f"Bearer {postgrest.service_role_key}"}
    assert supabase_client.get("/?action=health").status_code == 401
    health = supabase_client.get("/?action=health", headers=auth).json
    assert health is not None
    assert health["checks"]["database"]["ok"] is True
    assert health["checks"]["migrations"]["missing"] == []
    created = supabase_client.post("/?action=enqueue", json={"type": "noop"}, headers=auth)
    assert created.status_code == 201
    stats = supabase_client.get("/?action=stats", headers=auth).json
    assert stats is not None
    assert stats["by_status"] == {"pending": 1}
