"""The PostgREST stand-in answers like PostgREST: response shapes, the 1000-row cap,
errors with PostgREST's codes and statuses, the role and claims from the JWT, and
read-only transactions for non-volatile functions. If it drifted, the supabase-path
tests would prove nothing, so it is tested on its own.

Real: PostgreSQL (test functions created per test), httpx, HTTP on 127.0.0.1.
The stand-in itself is the thing under test; the expected answers are PostgREST's
documented ones (docs.postgrest.org: references/errors, API functions).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import httpx
import psycopg
import pytest
from postgrest.types import CountMethod
from supabase import create_client

from tests.support.postgrest import PostgrestEndpoint
from tests.support.postgrest_sql import http_status

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture
def api(postgrest: PostgrestEndpoint, conn: Conn) -> Iterator[httpx.Client]:
    """An HTTP client with the service key, over a database with a few shaped functions."""
    conn.execute("""
        create function public.t_series(p_n integer) returns setof integer language sql as
          $$ select pg_catalog.generate_series(1, p_n) $$;
        create function public.t_rows(p_n integer) returns table (i integer, label text) language sql as
          $$ select g, 'row ' || g from pg_catalog.generate_series(1, p_n) g $$;
        create function public.t_one_row() returns public.job_types language sql as
          $$ select * from public.job_types where name = 'noop' $$;
        create function public.t_scalar(p_a integer, p_b integer default 10) returns integer language sql as
          $$ select p_a + p_b $$;
        create function public.t_nothing() returns void language sql as $$ select $$;
        create function public.t_whoami() returns jsonb language sql stable as
          $$ select pg_catalog.jsonb_build_object('role', current_user, 'uid', auth.uid()) $$;
        create function public.t_write() returns integer language sql as
          $$ insert into public.job_types (name) values ('sneaky') returning 1 $$;
        create function public.t_sneaky_write() returns integer language plpgsql stable as
          $$ begin return public.t_write(); end $$;
        create function public.t_raise(p_code text) returns integer language plpgsql as
          $$ begin raise exception 'nope' using errcode = p_code, hint = 'a hint', detail = 'some detail';
             end $$;
        grant execute on all functions in schema public to service_role, authenticated;
        grant insert on public.job_types to service_role;
    """)
    headers = {"apikey": postgrest.service_role_key, "Authorization": f"Bearer {postgrest.service_role_key}"}
    with httpx.Client(base_url=f"{postgrest.url}/rest/v1", headers=headers, timeout=10) as client:
        yield client


def test_setof_scalar_is_an_array_of_values(api: httpx.Client) -> None:
    assert api.post("/rpc/t_series", json={"p_n": 3}).json() == [1, 2, 3]


def test_table_results_are_an_array_of_objects(api: httpx.Client) -> None:
    response = api.post("/rpc/t_rows", json={"p_n": 2})
    assert response.json() == [{"i": 1, "label": "row 1"}, {"i": 2, "label": "row 2"}]
    assert response.headers["Content-Range"] == "0-1/*"


def test_a_single_row_is_an_object_a_scalar_its_value_and_void_no_content(api: httpx.Client) -> None:
    assert api.post("/rpc/t_one_row", json={}).json()["name"] == "noop"
    assert api.post("/rpc/t_scalar", json={"p_a": 1}).json() == 11
    assert api.post("/rpc/t_scalar", json={"p_a": 1, "p_b": 2}).json() == 3
    nothing = api.post("/rpc/t_nothing")
    assert (nothing.status_code, nothing.content) == (204, b"")


def test_sets_are_capped_at_1000_rows_and_count_reports_the_total(api: httpx.Client) -> None:
    response = api.post("/rpc/t_series", json={"p_n": 1500}, headers={"Prefer": "count=exact"})
    assert len(response.json()) == 1000
    assert response.headers["Content-Range"] == "0-999/1500"


def test_the_role_and_claims_come_from_the_jwt(api: httpx.Client, postgrest: PostgrestEndpoint) -> None:
    assert api.post("/rpc/t_whoami").json() == {"role": "service_role", "uid": None}
    user = uuid4()
    as_user = {"Authorization": f"Bearer {postgrest.user_token(user)}"}
    assert api.post("/rpc/t_whoami", headers=as_user).json() == {"role": "authenticated", "uid": str(user)}


def test_a_non_volatile_function_runs_read_only(api: httpx.Client, conn: Conn) -> None:
    response = api.post("/rpc/t_sneaky_write")
    assert (response.status_code, response.json()["code"]) == (405, "25006")
    assert conn.execute("select count(*) as n from job_types where name = 'sneaky'").fetchone() == {"n": 0}


@pytest.mark.parametrize(("code", "status"), [("P0001", 400), ("22023", 400), ("PT402", 402), ("23505", 409),
                                              ("P0002", 500), ("53300", 503), ("42501", 403)])
def test_database_errors_carry_code_message_details_hint_and_postgrests_status(
        api: httpx.Client, code: str, status: int) -> None:
    response = api.post("/rpc/t_raise", json={"p_code": code})
    assert response.status_code == status
    assert response.json() == {"code": code, "message": "nope", "details": "some detail", "hint": "a hint"}


@pytest.mark.parametrize(("sqlstate", "role", "status"), [
    ("42501", "anon", 401), ("42501", "authenticated", 403), ("42883", "anon", 404), ("42P01", "x", 404),
    ("08006", "x", 503), ("25006", "x", 405), ("54000", "x", 413), ("XX000", "x", 500), ("22QT1", "x", 400),
    ("PT404", "x", 404), ("23503", "x", 409), ("0P000", "x", 403)])
def test_the_status_table_is_postgrests(sqlstate: str, role: str, status: int) -> None:
    assert http_status(sqlstate, role) == status


def test_an_unknown_function_or_argument_is_pgrst202_not_found(api: httpx.Client) -> None:
    for path, body in (("/rpc/t_missing", {}), ("/rpc/t_scalar", {"p_c": 1}), ("/rpc/t_scalar", {})):
        response = api.post(path, json=body)
        assert (response.status_code, response.json()["code"]) == (404, "PGRST202")


def test_a_body_that_is_not_a_json_object_is_pgrst102(api: httpx.Client) -> None:
    for body in (b"{not json", b"[1, 2]"):
        response = api.post("/rpc/t_scalar", content=body, headers={"Content-Type": "application/json"})
        assert (response.status_code, response.json()["code"]) == (400, "PGRST102")


def test_requests_without_a_valid_api_key_or_with_a_bad_token_are_refused(
        api: httpx.Client, postgrest: PostgrestEndpoint) -> None:
    no_key = httpx.post(f"{postgrest.url}/rest/v1/rpc/t_whoami", timeout=10)
    assert (no_key.status_code, no_key.json()["message"]) == (401, "No API key found in request")
    bad_key = api.post("/rpc/t_whoami", headers={"apikey": "not-a-key"})
    assert (bad_key.status_code, bad_key.json()["message"]) == (401, "Invalid API key")
    bad_token = api.post("/rpc/t_whoami", headers={"Authorization": f"Bearer {postgrest.service_role_key}x"})
    assert (bad_token.status_code, bad_token.json()["code"]) == (401, "PGRST301")


def test_no_token_means_the_anon_role(api: httpx.Client, postgrest: PostgrestEndpoint) -> None:
    response = httpx.post(f"{postgrest.url}/rest/v1/rpc/get_next_job", json={"p_worker_id": "w"},
                          headers={"apikey": postgrest.anon_key}, timeout=10)
    assert (response.status_code, response.json()["code"]) == (401, "42501")


def test_table_reads_select_filter_order_and_limit(api: httpx.Client, conn: Conn) -> None:
    expected = conn.execute("select name, max_attempts from job_types where max_attempts >= 3 "
                            "order by name desc limit 2").fetchall()
    response = api.get("/job_types", params={"select": "name,max_attempts", "order": "name.desc",
                                             "limit": "2", "max_attempts": "gte.3"})
    assert response.json() == expected
    assert len(expected) == 2
    assert api.get("/job_types", params={"select": "name", "name": "eq.noop"}).json() == [{"name": "noop"}]


@pytest.mark.parametrize("params", [{"name": "like.no*"}, {"order": "name.sideways"}, {"select": "na me"},
                                    {"limit": "ten"}])
def test_table_queries_the_stand_in_does_not_understand_are_pgrst100(api: httpx.Client,
                                                                    params: dict[str, str]) -> None:
    response = api.get("/job_types", params=params)
    assert (response.status_code, response.json()["code"]) == (400, "PGRST100")


def test_tables_the_role_may_not_read_are_refused(api: httpx.Client, postgrest: PostgrestEndpoint) -> None:
    as_user = {"Authorization": f"Bearer {postgrest.user_token(uuid4())}"}
    response = api.get("/job_dead_letter", headers=as_user)
    assert (response.status_code, response.json()["code"]) == (403, "42501")
    missing = api.get("/no_such_table")
    assert (missing.status_code, missing.json()["code"]) == (404, "42P01")


def test_supabase_py_reads_the_capped_rows_and_the_exact_count(api: httpx.Client,
                                                               postgrest: PostgrestEndpoint) -> None:
    client = create_client(postgrest.url, postgrest.service_role_key)
    response = client.rpc("t_series", {"p_n": 1500}, count=CountMethod.exact).execute()
    assert isinstance(response.data, list)
    assert (len(response.data), response.count) == (1000, 1500)
    assert client.rpc("t_scalar", {"p_a": 2}).execute().data == 12
