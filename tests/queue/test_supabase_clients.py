"""Apps enqueueing through supabase-py, as a Supabase project's clients would, and the
queue processing what they enqueued; who may enqueue what is decided by the JWT's role.

Real: PostgreSQL with the migrations applied, supabase-py's `create_client(...).rpc`,
httpx, HTTP on 127.0.0.1. Faked: PostgREST (and Supabase's API gateway key check), by
the stand-in in tests/support/postgrest.py; the JWTs are signed with a test secret.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import httpx
import psycopg
import pytest
from postgrest import APIError
from supabase import Client, ClientOptions, create_client

from shared.queue.errors import NotAllowed
from shared.queue.models import Completion
from shared.queue.supabase import SupabaseBackend
from tests.queue.test_conformance import enqueue
from tests.support import jwt
from tests.support.postgrest import PUBLISHABLE_KEY, SECRET_KEY, PostgrestEndpoint

Conn = psycopg.Connection[dict[str, Any]]
EMAIL = {"p_type": "email", "p_payload": {}}


def signed_in_client(endpoint: PostgrestEndpoint, user_id: UUID) -> Client:
    """What a browser or mobile app holds after sign-in: the anon key plus the user's token."""
    token = endpoint.user_token(user_id)
    return create_client(endpoint.url, endpoint.anon_key,
                         ClientOptions(headers={"Authorization": f"Bearer {token}"}))


def raw_enqueue(endpoint: PostgrestEndpoint, token: str, job_type: str) -> httpx.Response:
    """The same call without supabase-py, to see the HTTP status PostgREST answers with."""
    return httpx.post(f"{endpoint.url}/rest/v1/rpc/enqueue_job", json={"p_type": job_type, "p_payload": {}},
                      headers={"apikey": endpoint.anon_key, "Authorization": f"Bearer {token}"}, timeout=10)


def test_a_server_app_enqueues_with_the_service_key_and_the_worker_completes_the_job(
        postgrest: PostgrestEndpoint, conn: Conn) -> None:
    app = create_client(postgrest.url, postgrest.service_role_key)
    enqueued = app.rpc("enqueue_job", {"p_type": "noop", "p_payload": {"hello": "world"}}).execute()
    job_id = UUID(str(enqueued.data))
    backend = SupabaseBackend(postgrest.url, postgrest.service_role_key)
    [job] = backend.jobs_claim("worker-1", ["noop"], 10)
    assert (job.id, job.payload) == (job_id, {"hello": "world"})
    assert backend.jobs_complete("worker-1", [Completion(id=job.id, result={"ok": True})]) == {job_id}
    stored = conn.execute("select status, result from job_queue where id = %s", (job_id,)).fetchone()
    assert stored == {"status": "completed", "result": {"ok": True}}
    backend.close()


def test_a_signed_in_user_cannot_enqueue_a_type_that_is_not_client_enqueueable(
        postgrest: PostgrestEndpoint, conn: Conn) -> None:
    with pytest.raises(APIError) as raised:
        signed_in_client(postgrest, uuid4()).rpc("enqueue_job", EMAIL).execute()
    assert raised.value.code == "42501"
    assert raised.value.message == "job type 'email' cannot be enqueued by clients"
    response = raw_enqueue(postgrest, postgrest.user_token(uuid4()), "email")
    assert response.status_code == 403
    assert response.json()["hint"].startswith("enqueue it from the server")
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 0}


def test_a_signed_in_user_enqueues_a_flagged_type_as_its_owner(postgrest: PostgrestEndpoint,
                                                                conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    user = uuid4()
    result = signed_in_client(postgrest, user).rpc("enqueue_job", EMAIL).execute()
    stored = conn.execute("select type, owner_id from job_queue where id = %s", (result.data,)).fetchone()
    assert stored == {"type": "email", "owner_id": user}


def test_a_signed_in_user_cannot_enqueue_for_someone_else(postgrest: PostgrestEndpoint, conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    with pytest.raises(APIError) as raised:
        signed_in_client(postgrest, uuid4()).rpc(
            "enqueue_job", {"p_type": "email", "p_payload": {}, "p_owner_id": str(uuid4())}).execute()
    assert raised.value.code == "42501"


def test_the_anon_key_alone_cannot_enqueue_even_a_flagged_type(postgrest: PostgrestEndpoint,
                                                                conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    response = raw_enqueue(postgrest, postgrest.anon_key, "email")
    assert response.status_code == 401
    assert response.json()["code"] == "42501"


def test_a_signed_in_user_cannot_claim_jobs(postgrest: PostgrestEndpoint) -> None:
    with pytest.raises(APIError) as raised:
        signed_in_client(postgrest, uuid4()).rpc("get_next_job", {"p_worker_id": "me"}).execute()
    assert raised.value.code == "42501"
    assert raised.value.message == "permission denied for function get_next_job"


def test_a_backend_given_the_anon_key_is_not_allowed_to_work_the_queue(postgrest: PostgrestEndpoint) -> None:
    backend = SupabaseBackend(postgrest.url, postgrest.anon_key)
    with pytest.raises(NotAllowed):
        backend.jobs_claim("w1", None, 1)
    backend.close()


def test_a_backend_given_a_key_from_another_project_is_not_allowed(postgrest: PostgrestEndpoint) -> None:
    backend = SupabaseBackend(postgrest.url, jwt.role_key("service_role", secret="another-project-secret"))
    with pytest.raises(NotAllowed) as raised:
        backend.ping()
    assert raised.value.hint is not None
    backend.close()


def test_the_backend_works_with_a_new_style_secret_key(postgrest: PostgrestEndpoint) -> None:
    backend = SupabaseBackend(postgrest.url, SECRET_KEY)
    [job_id] = enqueue(backend)
    assert [job.id for job in backend.jobs_claim("w1", None, 5)] == [job_id]
    backend.close()


def test_a_publishable_key_alone_cannot_enqueue(postgrest: PostgrestEndpoint) -> None:
    with pytest.raises(APIError) as raised:
        create_client(postgrest.url, PUBLISHABLE_KEY).rpc("enqueue_job", EMAIL).execute()
    assert raised.value.code == "42501"
    assert raised.value.message == "permission denied for function enqueue_job"
