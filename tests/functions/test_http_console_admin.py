"""?action=types, type_pause, type_resume, breaker_reset, schedules, schedule_enable,
schedule_disable and audit: the console's admin actions through the worker function.

Real: functions-framework's app (its test client), Flask, PostgreSQL; breakers and schedules
made through the SQL API. Nothing faked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from tests.functions.conftest import AUTH, READONLY_AUTH
from tests.functions.test_http_supabase_path import Conn, supabase_client
from tests.support.postgrest import PostgrestEndpoint, postgrest

__all__ = ["postgrest", "supabase_client"]  # fixtures, used by name

READS = ["types", "schedules", "audit"]
WRITES = [("type_pause", "type=email"), ("type_resume", "type=email"), ("breaker_reset", "provider=resend"),
          ("schedule_enable", "name=every_minute"), ("schedule_disable", "name=every_minute")]


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("select circuit_breaker_record('resend', false, 1, 60, 'HTTP 503')")
        conn.execute("select set_job_schedule('every_minute', '* * * * *', 'noop', '{}', 'normal', false)")
        yield conn


def _json(response: Any) -> dict[str, Any]:
    body: dict[str, Any] = response.json or {}
    return body


def _audit(db: psycopg.Connection[Any]) -> list[tuple[str, str, int]]:
    rows = db.execute("select actor, action, affected from console_actions order by id")
    return [(r[0], r[1], r[2]) for r in rows]


@pytest.mark.parametrize("action", READS)
def test_the_readonly_token_reads(client: FlaskClient, db: psycopg.Connection[Any], action: str) -> None:
    assert client.get(f"/?action={action}", headers=READONLY_AUTH).status_code == 200


@pytest.mark.parametrize(("action", "query"), WRITES)
def test_the_readonly_token_may_not_write(client: FlaskClient, db: psycopg.Connection[Any], action: str,
                                          query: str) -> None:
    response = client.post(f"/?action={action}&{query}", headers=READONLY_AUTH)
    assert response.status_code == 403
    assert _json(response)["error"] == "ReadOnly"
    assert _audit(db) == []


def test_types_lists_settings_counts_and_breakers(client: FlaskClient, db: psycopg.Connection[Any]) -> None:
    body = _json(client.get("/?action=types", headers=AUTH))
    email = next(t for t in body["types"] if t["name"] == "email")
    assert set(email) == {"name", "enabled", "concurrency_limit", "timeout_seconds", "max_attempts",
                          "backoff_base_seconds", "backoff_cap_seconds", "pending", "running"}
    assert [b["provider"] for b in body["breakers"]] == ["resend"]
    assert body["breakers"][0]["state"] == "open"


def test_pause_and_resume_a_type_as_admin(client: FlaskClient, db: psycopg.Connection[Any]) -> None:
    paused = client.post("/?action=type_pause&type=email", headers=AUTH)
    assert paused.status_code == 200
    assert {k: _json(paused)[k] for k in ("type", "enabled")} == {"type": "email", "enabled": False}
    assert db.execute("select enabled from job_types where name = 'email'").fetchone() == (False,)
    resumed = _json(client.post("/?action=type_resume&type=email", headers=AUTH))
    assert resumed["enabled"] is True
    assert _audit(db) == [("admin", "type.pause", 1), ("admin", "type.resume", 1)]


@pytest.mark.parametrize(("query", "status", "error"), [
    ("", 400, "MissingParameter"), ("type=", 400, "MissingParameter"),
    ("type=nope", 400, "UnknownJobType"), ("type=email&type=noop", 400, "InvalidParameter")])
def test_a_missing_or_unknown_type_is_a_400(client: FlaskClient, db: psycopg.Connection[Any], query: str,
                                           status: int, error: str) -> None:
    response = client.post(f"/?action=type_pause&{query}", headers=AUTH)
    assert response.status_code == status
    assert _json(response)["error"] == error
    assert db.execute("select count(*) from job_types where not enabled").fetchone() == (0,)
    assert _audit(db) == []


def test_reset_a_breaker(client: FlaskClient, db: psycopg.Connection[Any]) -> None:
    response = client.post("/?action=breaker_reset&provider=resend", headers=AUTH)
    assert response.status_code == 200
    assert _json(response)["state"] == "closed"
    assert db.execute("select state from circuit_breakers").fetchone() == ("closed",)
    assert _audit(db) == [("admin", "breaker.reset", 1)]


@pytest.mark.parametrize(("query", "status"), [("provider=nope", 404), ("", 400)])
def test_an_unknown_or_missing_provider_is_refused(client: FlaskClient, db: psycopg.Connection[Any],
                                                   query: str, status: int) -> None:
    response = client.post(f"/?action=breaker_reset&{query}", headers=AUTH)
    assert response.status_code == status
    if status == 404:
        assert "resend" in (_json(response)["hint"] or "")
    assert db.execute("select state from circuit_breakers").fetchone() == ("open",)


def test_enable_and_disable_a_schedule(client: FlaskClient, db: psycopg.Connection[Any]) -> None:
    enabled = _json(client.post("/?action=schedule_enable&name=every_minute", headers=AUTH))
    assert (enabled["name"], enabled["enabled"]) == ("every_minute", True)
    assert enabled["next_run_at"] is not None
    listed = _json(client.get("/?action=schedules", headers=AUTH))["schedules"]
    assert next(s for s in listed if s["name"] == "every_minute")["enabled"] is True
    disabled = _json(client.post("/?action=schedule_disable&name=every_minute", headers=AUTH))
    assert (disabled["enabled"], disabled["next_run_at"]) == (False, None)
    assert _audit(db) == [("admin", "schedule.enable", 1), ("admin", "schedule.disable", 1)]


@pytest.mark.parametrize(("query", "status"), [("name=nope", 404), ("", 400)])
def test_an_unknown_or_missing_schedule_is_refused(client: FlaskClient, db: psycopg.Connection[Any],
                                                   query: str, status: int) -> None:
    assert client.post(f"/?action=schedule_enable&{query}", headers=AUTH).status_code == status
    assert _audit(db) == []


def test_writes_take_post_only(client: FlaskClient, db: psycopg.Connection[Any]) -> None:
    assert client.get("/?action=type_pause&type=email", headers=AUTH).status_code == 405


def test_the_audit_pages_newest_first(client: FlaskClient, db: psycopg.Connection[Any]) -> None:
    for name in ("email", "noop", "audio"):
        client.post(f"/?action=type_pause&type={name}", headers=AUTH)
    first = _json(client.get("/?action=audit&limit=2", headers=READONLY_AUTH))["actions"]
    assert [a["target"]["type"] for a in first] == ["audio", "noop"]
    assert first[0]["actor"] == "admin"
    rest = _json(client.get(f"/?action=audit&before={first[-1]['id']}", headers=AUTH))["actions"]
    assert [a["target"]["type"] for a in rest] == ["email"]


@pytest.mark.parametrize("query", ["limit=0", "limit=1001", "limit=x", "before=0", "before=abc",
                                   "limit=1&limit=2"])
def test_a_bad_audit_limit_or_before_is_a_400(client: FlaskClient, db: psycopg.Connection[Any],
                                             query: str) -> None:
    response = client.get(f"/?action=audit&{query}", headers=AUTH)
    assert response.status_code == 400
    body = _json(response)
    assert body["error"] == "InvalidParameter"
    assert body["parameter"] in query


def test_the_console_works_on_the_supabase_path(supabase_client: FlaskClient, postgrest: PostgrestEndpoint,
                                                 conn: Conn) -> None:
    """Through supabase-py and the PostgREST stand-in (read-only transactions for stable
    functions, as PostgREST runs them): the overview records its minute stats, a pause is audited."""
    auth = {"Authorization": f"Bearer {postgrest.service_role_key}"}
    overview = supabase_client.get("/?action=overview", headers=auth)
    assert overview.status_code == 200, overview.get_data(as_text=True)
    assert len(_json(overview)["series"]["minute"]) == 60
    assert supabase_client.get("/?action=types", headers=auth).status_code == 200
    assert supabase_client.get("/?action=schedules", headers=auth).status_code == 200
    assert supabase_client.post("/?action=type_pause&type=email", headers=auth).status_code == 200
    assert supabase_client.post("/?action=type_pause&type=nope", headers=auth).status_code == 400
    assert supabase_client.post("/?action=breaker_reset&provider=nope", headers=auth).status_code == 404
    actions = _json(supabase_client.get("/?action=audit", headers=auth))["actions"]
    assert [(a["actor"], a["action"]) for a in actions] == [("admin", "type.pause")]
