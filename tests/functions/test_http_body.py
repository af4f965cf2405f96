"""Request bodies of the worker function: read only after authentication, capped at
QUEUE_WORKER_MAX_BODY_BYTES (413), JSON too deep or holding a NUL refused with a 400 that
names the field; and Flask's own errors answered in the same JSON shape.

Real: functions-framework's app (its test client), Flask, PostgreSQL. Faked: nothing; the
body stream is a BytesIO that counts the reads made of it, so a test can see a body unread.
"""

from __future__ import annotations

import io
import json
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from shared.api import actions as http_api
from shared.queue.json_input import MAX_DEPTH
from tests.functions.conftest import AUTH
from tests.sql.factories import fingerprint, job

Conn = psycopg.Connection[dict[str, Any]]
EMAIL = {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi Ada"}


class CountingStream(io.BytesIO):
    """A request body that records how many bytes were read from it."""

    bytes_read = 0

    def read(self, size: int | None = -1, /) -> bytes:
        data = super().read(size)
        self.bytes_read += len(data)
        return data

    def readinto(self, buffer: Any, /) -> int:
        count = super().readinto(buffer)
        self.bytes_read += count
        return count


def post_stream(client: FlaskClient, query: str, stream: CountingStream, length: int,
                headers: dict[str, str]) -> Any:
    return client.post("/" + query, input_stream=stream, content_length=length, headers=headers,
                       content_type="application/json")


@pytest.fixture
def small_cap(monkeypatch: pytest.MonkeyPatch, worker_env: None) -> int:
    monkeypatch.setenv("QUEUE_WORKER_MAX_BODY_BYTES", "1024")
    http_api.reset()
    return 1024


def nested(depth: int) -> str:
    """The JSON text of an object `depth` levels deep: {"a": {"a": ... {}}} (as text, since
    `json.dumps` itself gives up at about 1,000 levels)."""
    return '{"a": ' * (depth - 1) + "{}" + "}" * (depth - 1)


def test_an_unauthenticated_request_is_refused_without_its_body_being_read(client: FlaskClient) -> None:
    body = json.dumps({"type": "noop", "payload": {"i": 1}}).encode()
    refused, accepted = CountingStream(body), CountingStream(body)
    assert post_stream(client, "?action=enqueue", refused, len(body), {}).status_code == 401
    assert refused.bytes_read == 0
    assert post_stream(client, "?action=enqueue", accepted, len(body), AUTH).status_code == 201
    assert accepted.bytes_read == len(body)  # the counting works: an accepted body is read


def test_a_body_declared_larger_than_the_cap_is_413_unread_and_writes_nothing(
        client: FlaskClient, conn: Conn, small_cap: int) -> None:
    before = fingerprint(conn)
    stream = CountingStream(b" " * 5000)
    response = post_stream(client, "?action=enqueue", stream, 5000, AUTH)
    assert response.status_code == 413
    assert response.json is not None
    assert response.json["error"] == "BodyTooLarge"
    assert response.json["max_body_bytes"] == small_cap
    assert "5000 bytes" in response.json["message"]
    assert "at most 1024 bytes" in response.json["message"]
    assert "QUEUE_WORKER_MAX_BODY_BYTES" in response.json["hint"]
    assert stream.bytes_read == 0
    assert fingerprint(conn) == before


def test_a_body_of_exactly_the_cap_is_taken_and_one_byte_more_is_413(
        client: FlaskClient, conn: Conn, small_cap: int) -> None:
    body = json.dumps({"type": "noop", "payload": {"i": 7}}).encode()
    at_cap = body.ljust(small_cap)  # trailing whitespace is still valid JSON
    created = client.post("/?action=enqueue", data=at_cap, headers=AUTH, content_type="application/json")
    assert created.status_code == 201
    assert created.json is not None
    assert job(conn, created.json["id"])["payload"] == {"i": 7}
    over = client.post("/?action=enqueue", data=at_cap + b" ", headers=AUTH, content_type="application/json")
    assert over.status_code == 413


def test_the_process_action_checks_the_cap_before_it_claims_anything(
        client: FlaskClient, conn: Conn, small_cap: int) -> None:
    created = client.post("/?action=enqueue", json={"type": "noop"}, headers=AUTH)
    assert created.status_code == 201
    assert client.post("/", data=b" " * 2000, headers=AUTH).status_code == 413
    assert created.json is not None
    assert job(conn, created.json["id"])["status"] == "pending"


@pytest.mark.parametrize("setting", ["10", "lots", str(2**40)])
def test_a_bad_body_cap_setting_is_503_naming_it(client: FlaskClient, monkeypatch: pytest.MonkeyPatch,
                                                 setting: str) -> None:
    monkeypatch.setenv("QUEUE_WORKER_MAX_BODY_BYTES", setting)
    http_api.reset()
    response = client.post("/?action=enqueue", json={"type": "noop"}, headers=AUTH)
    assert response.status_code == 503
    assert response.json is not None
    assert "QUEUE_WORKER_MAX_BODY_BYTES" in response.json["message"]


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 5000])
def test_a_body_nested_deeper_than_the_limit_is_400_naming_the_limit_and_writes_nothing(
        client: FlaskClient, conn: Conn, depth: int) -> None:
    before = fingerprint(conn)
    body = '{"type": "noop", "payload": ' + nested(depth - 1) + "}"  # the body itself is level 1
    response = client.post("/?action=enqueue", data=body, headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "InvalidBody"
    assert f"more than {MAX_DEPTH} levels deep" in response.json["message"]
    assert response.json["allowed"] == f"objects and arrays nested at most {MAX_DEPTH} levels deep"
    if depth < 900:  # beyond what json parses at all there is no path to name
        assert response.json["field"].startswith("payload.a.a.")
    assert fingerprint(conn) == before


def test_a_body_nested_exactly_to_the_limit_is_taken(client: FlaskClient) -> None:
    response = client.post("/", data=nested(MAX_DEPTH), headers=AUTH,  # process ignores its body
                           content_type="application/json")
    assert response.status_code == 200


@pytest.mark.parametrize(("body", "field", "where"), [
    ({"type": "email", "payload": EMAIL | {"text": "Hi\u0000Ada"}}, "payload.text", "string"),
    ({"type": "email", "payload": EMAIL | {"to": ["ada@example.com", "\u0000"]}}, "payload.to.1", "string"),
    ({"type": "email", "payload": EMAIL | {"tags": {"ca\u0000mpaign": "x"}}}, "payload.tags.ca\\u0000mpaign",
     "key"),
    ({"type": "noop", "idempotency_key": "k\u0000"}, "idempotency_key", "string"),
    ({"type": "no\u0000op"}, "type", "string"),
])
def test_a_nul_in_a_string_or_key_is_400_naming_the_field_and_writes_nothing(
        client: FlaskClient, conn: Conn, body: dict[str, Any], field: str, where: str) -> None:
    before = fingerprint(conn)
    response = client.post("/?action=enqueue", data=json.dumps(body), headers=AUTH,
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["field"] == field
    assert response.json["message"].startswith(f"{field}: the {where} contains \\u0000 (NUL)")
    assert response.json["allowed"] == "any Unicode text except \\u0000 (NUL), which PostgreSQL cannot store"
    assert fingerprint(conn) == before


def test_the_text_backslash_u0000_is_not_a_nul_and_is_stored_as_written(client: FlaskClient,
                                                                         conn: Conn) -> None:
    payload = EMAIL | {"text": "C:\\u0000 is six characters", "subject": "Grüße"}
    response = client.post("/?action=enqueue", json={"type": "email", "payload": payload}, headers=AUTH)
    assert response.status_code == 201
    assert response.json is not None
    assert job(conn, response.json["id"])["payload"]["text"] == "C:\\u0000 is six characters"


@pytest.mark.parametrize("path", ["/favicon.ico", "/robots.txt"])
def test_errors_flask_raises_before_the_function_runs_are_json_with_a_request_id(
        client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"X-Request-Id": "probe-1"})
    assert response.status_code == 404
    assert response.mimetype == "application/json"
    assert response.json == {"error": "NotFound", "message": "Not Found", "request_id": "probe-1"}
    assert response.headers["X-Request-Id"] == "probe-1"


def test_an_exception_that_escapes_the_function_is_a_json_500_that_does_not_echo_it(
        client: FlaskClient) -> None:
    """No path of the function lets an exception escape (respond() catches them all), so
    the test hands Flask's own exception handling one, as Flask would on a crash."""
    app = client.application
    with app.test_request_context("/", headers={"X-Request-Id": "crash-1"}):
        response = app.handle_exception(RuntimeError("postgresql://worker:hunter2@db/queue"))
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert json.loads(response.get_data()) == {"error": "InternalError", "request_id": "crash-1",
                                               "message": "unexpected error; see the function's logs"}
    assert response.headers["X-Google-Status"] == "crash"  # Cloud Functions logs the crash by it
