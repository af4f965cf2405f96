"""The console's dead-letter HTTP actions: dead_letter_groups, dead_letters, dead_letters_count,
dead_letters_replay, dead_letters_delete (and the old ?action=retry&id=).

Real: functions-framework's app (its test client), Flask, PostgreSQL, supabase-py; dead letters
made by fail_job or inserted straight into job_dead_letter. Stand-in: PostgREST (which cannot be
installed here) is tests/support/postgrest.py over the same database. The time budget is made
small through QUEUE_WORKER_TIME_BUDGET_SECONDS to see a partial answer continued.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from flask.testing import FlaskClient

from shared.api import actions as http_api
from tests.functions.conftest import AUTH, ENV_NAMES, READONLY_AUTH, SOURCE
from tests.sql.factories import Conn, fingerprint, make_job, value
from tests.support.postgrest import PostgrestEndpoint


def bulk(conn: Conn, n: int, error: str, job_type: str = "noop") -> None:
    conn.execute(
        "insert into job_dead_letter (job_id, type, payload, priority, attempts, max_attempts, last_error,"
        " job_created_at, failed_at) select gen_random_uuid(), %s, '{}', 'normal', 3, 3,"
        " format(%s, i), now() - interval '1 day', now() - make_interval(secs => i)"
        " from generate_series(1, %s) i", (job_type, error, n))


def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.json
    body: dict[str, Any] = response.json
    return body


def test_groups_list_and_page_read_with_the_readonly_token(client: FlaskClient, conn: Conn) -> None:
    bulk(conn, 3, "smtp 421 try %s", "email")
    bulk(conn, 1, "tts quota %s", "audio")
    listed = ok(client.get("/?action=dead_letter_groups", headers=READONLY_AUTH))["groups"]
    assert [(g["type"], g["fingerprint"], g["count"]) for g in listed] == [
        ("email", "smtp <n> try <n>", 3), ("audio", "tts quota <n>", 1)]
    only_audio = ok(client.get("/?action=dead_letter_groups&type=audio&limit=5", headers=READONLY_AUTH))
    assert [g["type"] for g in only_audio["groups"]] == ["audio"]

    first = ok(client.get("/?action=dead_letters&limit=2", headers=READONLY_AUTH))
    assert len(first["dead_letters"]) == 2
    rest = ok(client.get(f"/?action=dead_letters&limit=2&after={first['next_after']}", headers=READONLY_AUTH))
    assert len(rest["dead_letters"]) == 2
    assert rest["next_after"] is None
    by_fp = ok(client.get("/?action=dead_letters&fingerprint=smtp <n> try <n>&q=SMTP", headers=READONLY_AUTH))
    assert {d["type"] for d in by_fp["dead_letters"]} == {"email"}
    assert set(by_fp["dead_letters"][0]) >= {"id", "job_id", "type", "last_error", "fingerprint", "attempts",
                                              "failed_at", "replayed_job_id"}


def test_count_by_post_body_and_by_get_parameters(client: FlaskClient, conn: Conn) -> None:
    bulk(conn, 3, "smtp 421 try %s", "email")
    bulk(conn, 2, "tts quota %s", "audio")
    body = ok(client.post("/?action=dead_letters_count", headers=READONLY_AUTH,
                          json={"selector": {"fingerprint": "smtp <n> try <n>", "type": "email"}}))
    assert body["count"] == 3
    assert body["as_of"]
    assert ok(client.get("/?action=dead_letters_count&type=audio", headers=READONLY_AUTH))["count"] == 2
    assert ok(client.get("/?action=dead_letters_count", headers=READONLY_AUTH))["count"] == 5
    ids = [str(r["id"]) for r in conn.execute("select id from job_dead_letter limit 2").fetchall()]
    query = f"/?action=dead_letters_count&ids={','.join(ids)},{uuid4()}"
    by_ids = ok(client.get(query, headers=READONLY_AUTH))
    assert (by_ids["count"], by_ids["not_found"]) == (2, 1)


def test_replay_a_group_then_delete_the_rest_with_one_audit_row_each(client: FlaskClient, conn: Conn) -> None:
    bulk(conn, 4, "smtp 421 try %s", "email")
    bulk(conn, 2, "tts quota %s", "audio")
    selector = {"fingerprint": "smtp <n> try <n>", "type": "email"}
    counted = ok(client.post("/?action=dead_letters_count", headers=AUTH, json={"selector": selector}))
    done = ok(client.post("/?action=dead_letters_replay", headers=AUTH,
                          json={"selector": selector, "as_of": counted["as_of"]}))
    assert (done["affected"], done["remaining"], done["partial"]) == (4, 0, False)
    assert value(conn, "select count(*) from job_queue where status = 'pending'") == 4

    everything: dict[str, Any] = {"filter": {}}
    counted = ok(client.post("/?action=dead_letters_count", headers=AUTH, json={"selector": everything}))
    assert counted["count"] == 2
    gone = ok(client.post("/?action=dead_letters_delete", headers=AUTH,
                          json={"selector": everything, "as_of": counted["as_of"]}))
    assert gone["affected"] == 2
    assert value(conn, "select count(*) from job_dead_letter") == 4  # the replayed letters stay
    audit = conn.execute("select actor, action, affected from console_actions order by id").fetchall()
    assert audit == [{"actor": "admin", "action": "dead_letters.replay", "affected": 4},
                     {"actor": "admin", "action": "dead_letters.delete", "affected": 2}]


def test_a_replay_near_the_time_budget_answers_partial_and_continues_with_its_action_id(
        client: FlaskClient, conn: Conn, monkeypatch: pytest.MonkeyPatch) -> None:
    bulk(conn, 1200, "storm %s")
    monkeypatch.setenv("QUEUE_WORKER_TIME_BUDGET_SECONDS", "0.001")
    http_api.reset()
    selector: dict[str, Any] = {"filter": {}}
    as_of = ok(client.post("/?action=dead_letters_count", headers=AUTH, json={"selector": selector}))["as_of"]
    first = ok(client.post("/?action=dead_letters_replay", headers=AUTH,
                           json={"selector": selector, "as_of": as_of}))
    assert (first["affected"], first["remaining"], first["partial"]) == (500, 700, True)
    total, action_id = first["affected"], first["action_id"]
    while True:
        step = ok(client.post("/?action=dead_letters_replay", headers=AUTH,
                              json={"selector": selector, "as_of": as_of, "action_id": action_id}))
        assert step["action_id"] == action_id
        total += step["affected"]
        if not step["partial"]:
            break
    assert total == 1200
    assert value(conn, "select count(*) from job_queue") == 1200
    assert value(conn, "select affected from console_actions where id = %s", (action_id,)) == 1200


@pytest.mark.parametrize("action", ["dead_letters_replay", "dead_letters_delete"])
def test_the_readonly_token_may_not_replay_or_delete_and_nothing_changes(
        client: FlaskClient, conn: Conn, action: str) -> None:
    bulk(conn, 3, "x %s")
    before = fingerprint(conn)
    response = client.post(f"/?action={action}", headers=READONLY_AUTH,
                           json={"selector": {"filter": {}}, "as_of": "2100-01-01T00:00:00Z"})
    assert response.status_code == 403
    assert response.json is not None
    assert response.json["error"] == "ReadOnly"
    assert fingerprint(conn) == before
    assert value(conn, "select count(*) from console_actions") == 0


@pytest.mark.parametrize(("body", "field"), [
    (None, None),
    ({"as_of": "2100-01-01T00:00:00Z"}, "selector"),
    ({"selector": [], "as_of": "2100-01-01T00:00:00Z"}, "selector"),
    ({"selector": {"filter": {}}}, "as_of"),
    ({"selector": {"filter": {}}, "as_of": "soon"}, "as_of"),
    ({"selector": {"filter": {}}, "as_of": "2100-01-01T00:00:00Z", "action_id": "x"}, "action_id"),
    ({"selector": {"filter": {}}, "as_of": "2100-01-01T00:00:00Z", "force": True}, "force"),
])
def test_bad_replay_bodies_are_400_naming_the_field_and_change_nothing(
        client: FlaskClient, conn: Conn, body: dict[str, Any] | None, field: str | None) -> None:
    bulk(conn, 2, "x %s")
    before = fingerprint(conn)
    response = client.post("/?action=dead_letters_replay", headers=AUTH, json=body)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "InvalidBody"
    assert response.json.get("field") == field
    assert fingerprint(conn) == before


@pytest.mark.parametrize(("selector", "sqlstate"), [
    ({}, "22QV1"), ({"type": "email"}, "22QV1"), ({"ids": ["nope"]}, "22QV2"), ({"ids": []}, "22QV2"),
    ({"filter": {"status": "dead"}}, "22QV3"), ({"filter": {"from": "last week"}}, "22QV3"),
])
def test_bad_selectors_are_400_saying_what_is_allowed(client: FlaskClient, conn: Conn,
                                                       selector: dict[str, Any], sqlstate: str) -> None:
    bulk(conn, 2, "x %s")
    before = fingerprint(conn)
    later = {"as_of": "2100-01-01T00:00:00Z"}
    for action, extra in (("dead_letters_count", {}), ("dead_letters_delete", later)):
        response = client.post(f"/?action={action}", headers=AUTH, json={"selector": selector} | extra)
        assert response.status_code == 400, response.json
        assert response.json is not None
        assert response.json["sqlstate"] == sqlstate
        assert response.json["hint"]
    assert fingerprint(conn) == before


@pytest.mark.parametrize("query", [
    "action=dead_letter_groups&limit=0", "action=dead_letters&limit=201", "action=dead_letters&after=zzz",
    "action=dead_letters&replayed=maybe", "action=dead_letters_count&ids=a&type=email",
    "action=dead_letters&from=tomorrowish",
])
def test_bad_read_parameters_are_400(client: FlaskClient, query: str) -> None:
    response = client.get(f"/?{query}", headers=READONLY_AUTH)
    assert response.status_code == 400, response.json


def test_the_old_retry_action_still_replays_one_letter(client: FlaskClient, conn: Conn) -> None:
    make_job(conn, "dead")
    letter = value(conn, "select id from job_dead_letter")
    body = ok(client.post(f"/?action=retry&id={letter}", headers=AUTH))
    assert body["dead_letter_id"] == str(letter)
    assert value(conn, "select replayed_job_id from job_dead_letter") == UUID(body["id"])


@pytest.fixture
def supabase_client(postgrest: PostgrestEndpoint, monkeypatch: pytest.MonkeyPatch) -> Iterator[FlaskClient]:
    """The function configured as on Supabase (SUPABASE_URL and the service key only): every
    rpc goes through PostgREST (the stand-in)."""
    import functions_framework

    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SUPABASE_URL", postgrest.url)
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", postgrest.service_role_key)
    monkeypatch.setenv("QUEUE_WORKER_TIME_BUDGET_SECONDS", "0.001")  # one batch per request
    http_api.reset()
    app = functions_framework.create_app(target="queue_worker", source=SOURCE)  # type: ignore[no-untyped-call]
    test_client: FlaskClient = app.test_client()
    yield test_client
    http_api.reset()


def test_groups_count_and_a_batched_replay_work_through_postgrest(
        supabase_client: FlaskClient, postgrest: PostgrestEndpoint, conn: Conn) -> None:
    bulk(conn, 700, "smtp 421 try %s", "email")
    bulk(conn, 3, "tts quota %s", "audio")
    auth = {"Authorization": f"Bearer {postgrest.service_role_key}"}
    listed = ok(supabase_client.get("/?action=dead_letter_groups", headers=auth))["groups"]
    assert [(g["fingerprint"], g["count"]) for g in listed] == [("smtp <n> try <n>", 700),
                                                               ("tts quota <n>", 3)]
    page = ok(supabase_client.get("/?action=dead_letters&limit=200", headers=auth))
    assert len(page["dead_letters"]) == 200
    selector = {"fingerprint": "smtp <n> try <n>"}
    as_of = ok(supabase_client.post("/?action=dead_letters_count", headers=auth,
                                    json={"selector": selector}))["as_of"]
    body: dict[str, Any] = {"selector": selector, "as_of": as_of}
    first = ok(supabase_client.post("/?action=dead_letters_replay", headers=auth, json=body))
    assert (first["affected"], first["remaining"], first["partial"]) == (500, 200, True)
    rest = ok(supabase_client.post("/?action=dead_letters_replay", headers=auth,
                                   json=body | {"action_id": first["action_id"]}))
    assert (rest["affected"], rest["remaining"], rest["partial"]) == (200, 0, False)
    assert value(conn, "select count(*) from job_queue") == 700
    bad = supabase_client.post("/?action=dead_letters_count", headers=auth, json={"selector": {"ids": []}})
    assert bad.status_code == 400
    assert bad.json is not None
    assert bad.json["sqlstate"] == "22QV2"
