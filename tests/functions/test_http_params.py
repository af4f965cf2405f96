"""Bad requests to the worker function: each refused with a status that names the problem.

Real: functions-framework's app (its test client), PostgreSQL. Nothing faked. A refused
request must write nothing, so each test also compares the database before and after.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from shared.api.catalog import ACTIONS
from tests.functions.conftest import AUTH
from tests.sql.factories import fingerprint

Conn = psycopg.Connection[dict[str, Any]]


def test_an_unknown_action_is_400_listing_the_actions(client: FlaskClient, conn: Conn) -> None:
    response = client.post("/?action=explode", headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["actions"] == list(ACTIONS)
    assert "explode" in response.json["message"]
    assert "enqueue" in response.json["message"]


@pytest.mark.parametrize(("method", "action", "allowed"), [
    ("GET", "process", ["POST"]), ("GET", "enqueue", ["POST"]), ("GET", "retry", ["POST"]),
    ("DELETE", "cancel", ["POST"]), ("PUT", "health", ["GET", "POST"]), ("PATCH", "stats", ["GET", "POST"])])
def test_a_wrong_method_is_405_with_the_allowed_ones(client: FlaskClient, method: str, action: str,
                                                      allowed: list[str]) -> None:
    response = client.open(f"/?action={action}", method=method, headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == ", ".join(allowed)
    assert response.json is not None
    assert response.json["allowed_methods"] == allowed


def test_process_is_the_default_action(client: FlaskClient) -> None:
    response = client.get("/", headers=AUTH)
    assert response.status_code == 405
    assert response.json is not None
    assert "process" in response.json["message"]


@pytest.mark.parametrize("batch", ["0", "abc", "100000", "-1", "", "1001", "2.5"])
def test_a_bad_batch_is_400_naming_the_parameter_and_its_range(client: FlaskClient, conn: Conn,
                                                                 batch: str) -> None:
    before = fingerprint(conn)
    response = client.post(f"/?batch={batch}", headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["parameter"] == "batch"
    assert response.json["allowed"] == "an integer from 1 to 1000"
    assert "1 to 1000" in response.json["message"]
    assert fingerprint(conn) == before


def test_batch_given_twice_is_400(client: FlaskClient) -> None:
    response = client.post("/?batch=5&batch=6", headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["parameter"] == "batch"


@pytest.mark.parametrize("types", ["nope", "noop,nope", "noop,", ","])
def test_an_unknown_type_is_400_listing_the_known_types(client: FlaskClient, conn: Conn, types: str) -> None:
    before = fingerprint(conn)
    response = client.post(f"/?type={types}", headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["parameter"] == "type"
    assert "noop" in response.json["known_types"]
    assert "noop" in response.json["allowed"]
    assert fingerprint(conn) == before


@pytest.mark.parametrize("action", ["process", "enqueue", "retry", "cancel"])
@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400(client: FlaskClient, action: str, body: bytes) -> None:
    response = client.post(f"/?action={action}", data=body, headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "InvalidBody"


def test_enqueue_without_a_body_is_400(client: FlaskClient) -> None:
    response = client.post("/?action=enqueue", headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert "JSON object" in response.json["message"]


@pytest.mark.parametrize("action", ["retry", "cancel"])
@pytest.mark.parametrize("query", ["", "&id=", "&id=42", "&id=not-a-uuid"])
def test_an_id_that_is_missing_or_not_a_uuid_is_400(client: FlaskClient, action: str, query: str) -> None:
    response = client.post(f"/?action={action}{query}", headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["parameter"] == "id"
    assert "uuid" in response.json["allowed"]


@pytest.mark.parametrize(("body", "fields"), [
    ({"type": "nope"}, ["type"]),
    ({"payload": {}}, ["type"]),
    ({"type": "noop", "payload": {"sleep_seconds": -1, "bogus": 1}},
     ["payload.sleep_seconds", "payload.bogus"]),
    ({"type": "noop", "payload": [1]}, ["payload"]),
    ({"type": "noop", "priority": "urgent"}, ["priority"]),
    ({"type": "noop", "max_attempts": 0, "run_at": "soon"}, ["run_at", "max_attempts"]),
    ({"type": "noop", "depends_on": ["x"], "color": "red"}, ["depends_on.0", "color"]),
])
def test_a_bad_job_is_422_naming_each_bad_field_and_writes_nothing(
        client: FlaskClient, conn: Conn, body: dict[str, Any], fields: list[str]) -> None:
    before = fingerprint(conn)
    response = client.post("/?action=enqueue", json=body, headers=AUTH)
    assert response.status_code == 422
    assert response.json is not None
    assert sorted(f["field"] for f in response.json["fields"]) == sorted(fields)
    for field in fields:
        assert field in response.json["message"]
    assert fingerprint(conn) == before


def test_an_unknown_type_in_an_enqueue_lists_the_known_types(client: FlaskClient) -> None:
    response = client.post("/?action=enqueue", json={"type": "nope"}, headers=AUTH)
    assert response.json is not None
    assert "known types: " in response.json["fields"][0]["message"]
    assert "noop" in response.json["fields"][0]["message"]
