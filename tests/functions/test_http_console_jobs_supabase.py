"""The console's job actions on the supabase-py path (SUPABASE_URL and the service key only):
the same answers as over psycopg, through `SupabaseBackend.rpc`.

Real: functions-framework's app, supabase-py, PostgreSQL and the console SQL functions.
Stand-in: PostgREST is tests/support/postgrest.py (a PostgREST-compatible RPC endpoint over
the same database), as in test_http_supabase_path.py.
"""

from __future__ import annotations

from typing import Any
from uuid import uuid4

from flask.testing import FlaskClient

from tests.functions.test_http_supabase_path import supabase_client
from tests.sql.factories import Conn, enqueue, job, make_job, value
from tests.support.postgrest import PostgrestEndpoint

__all__ = ["supabase_client"]


def body(response: Any) -> dict[str, Any]:
    answer: dict[str, Any] = response.json
    return answer


def test_list_show_cancel_and_retry_answer_as_on_the_psycopg_path(
        supabase_client: FlaskClient, postgrest: PostgrestEndpoint, conn: Conn) -> None:
    auth = {"Authorization": f"Bearer {postgrest.service_role_key}"}
    waiting = enqueue(conn, "email", payload={"to": "a@example.com", "template": "welcome"},
                      run_at=value(conn, "select now() + interval '1 day'"))
    done = make_job(conn, "completed")
    page = body(supabase_client.get("/?action=jobs&type=email&status=scheduled&limit=5", headers=auth))
    assert [j["id"] for j in page["jobs"]] == [str(waiting)]
    assert page["next_after"] is None
    shown = supabase_client.get(f"/?action=job&id={done}", headers=auth)
    assert shown.status_code == 200
    assert body(shown)["job"]["status"] == "completed"
    bad = supabase_client.get("/?action=jobs&status=dead", headers=auth)
    assert bad.status_code == 400
    assert "filter status" in body(bad)["message"]
    assert supabase_client.post(f"/?action=job_cancel&id={done}", headers=auth).status_code == 409
    assert supabase_client.post(f"/?action=job_cancel&id={uuid4()}", headers=auth).status_code == 404
    retried = supabase_client.post(f"/?action=job_retry&id={waiting}", headers=auth)
    assert retried.status_code == 200, retried.json
    assert job(conn, waiting)["run_at"] <= value(conn, "select clock_timestamp()")
