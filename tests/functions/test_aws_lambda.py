"""The Lambda handler: function-URL / API Gateway events and EventBridge Scheduler's direct
invokes get the same actions, statuses and checks as the HTTP function.

Real: PostgreSQL with the migrations, the worker loop and its processors, the handler
called as Lambda's runtime calls it (event dict, context object). Faked: nothing; the
events are shaped as AWS documents them (payload formats 2.0 and 1.0, scheduler input).
"""

from __future__ import annotations

import base64
import json
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest

from functions.queue_worker.aws_lambda import handler
from shared.api import actions as http_api
from shared.queue.json_input import MAX_DEPTH
from tests.functions.conftest import SECRET
from tests.sql.factories import fingerprint, value

Conn = psycopg.Connection[dict[str, Any]]
CONTEXT = SimpleNamespace(aws_request_id="c0ffee-1")


def url_event(method: str, query: str = "", body: str = "", token: str | None = SECRET,
              base64_body: bool = False) -> dict[str, Any]:
    """A Lambda function URL event (payload format 2.0)."""
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    return {"version": "2.0", "rawPath": "/", "rawQueryString": query, "headers": headers,
            "requestContext": {"http": {"method": method, "path": "/"}},
            "body": base64.b64encode(body.encode()).decode() if base64_body else body,
            "isBase64Encoded": base64_body}


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    assert response["headers"]["Content-Type"] == "application/json"
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def enqueue_noops(conn: Conn, n: int, job_type: str = "noop") -> None:
    conn.execute("select enqueue_jobs(%s)", (json.dumps([{"type": job_type}] * n),))


def test_a_url_request_processes_with_the_bearer_secret(worker_env: None, conn: Conn) -> None:
    enqueue_noops(conn, 3)
    response = handler(url_event("POST", "type=noop&batch=2"), CONTEXT)
    body = body_of(response)
    assert response["statusCode"] == 200
    assert (body["claimed"], body["completed"]) == (3, 3)
    assert body["request_id"] == "c0ffee-1" == response["headers"]["X-Request-Id"]
    assert value(conn, "select count(*) from job_queue where status = 'completed'") == 3


def test_a_url_request_without_or_with_a_wrong_secret_is_401_and_claims_nothing(
        worker_env: None, conn: Conn) -> None:
    enqueue_noops(conn, 1)
    for token in (None, "wrong"):
        response = handler(url_event("POST", token=token), CONTEXT)
        assert response["statusCode"] == 401
        assert response["headers"]["WWW-Authenticate"].startswith("Bearer")
    assert value(conn, "select count(*) from job_queue where status = 'pending'") == 1


def test_url_bad_inputs_get_the_http_functions_statuses(worker_env: None) -> None:
    assert handler(url_event("POST", "batch=0"), CONTEXT)["statusCode"] == 400
    assert "nope" in body_of(handler(url_event("POST", "type=nope"), CONTEXT))["message"]
    assert handler(url_event("GET", "action=process"), CONTEXT)["statusCode"] == 405
    assert handler(url_event("GET", "action=launch"), CONTEXT)["statusCode"] == 400
    assert handler(url_event("POST", "action=enqueue", "{not json"), CONTEXT)["statusCode"] == 400


def test_a_base64_body_enqueues(worker_env: None, conn: Conn) -> None:
    job = json.dumps({"type": "noop", "payload": {"i": 7}})
    response = handler(url_event("POST", "action=enqueue", job, base64_body=True), CONTEXT)
    assert response["statusCode"] == 201
    assert value(conn, "select payload->>'i' from job_queue where id = %s", (body_of(response)["id"],)) == "7"


@pytest.mark.parametrize("base64_body", [False, True])
def test_a_url_body_over_the_cap_is_413_writing_nothing_and_one_at_the_cap_is_taken(
        worker_env: None, conn: Conn, monkeypatch: pytest.MonkeyPatch, base64_body: bool) -> None:
    monkeypatch.setenv("QUEUE_WORKER_MAX_BODY_BYTES", "1024")
    http_api.reset()
    before = fingerprint(conn)
    job = json.dumps({"type": "noop", "payload": {"i": 7}})
    response = handler(url_event("POST", "action=enqueue", job.ljust(1025), base64_body=base64_body), CONTEXT)
    assert response["statusCode"] == 413
    assert body_of(response)["max_body_bytes"] == 1024
    assert "1025 bytes" in body_of(response)["message"]
    assert fingerprint(conn) == before
    at_cap = url_event("POST", "action=enqueue", job.ljust(1024), base64_body=base64_body)
    assert handler(at_cap, CONTEXT)["statusCode"] == 201


def test_a_url_body_is_decoded_only_after_authentication_and_bad_base64_is_400(worker_env: None) -> None:
    not_base64 = {"body": "!!not base64", "isBase64Encoded": True}
    event = url_event("POST", "action=enqueue", token=None) | not_base64
    assert handler(event, CONTEXT)["statusCode"] == 401
    authorized = event | {"headers": url_event("POST")["headers"]}
    response = handler(authorized, CONTEXT)
    assert response["statusCode"] == 400
    assert "isBase64Encoded" in body_of(response)["message"]


@pytest.mark.parametrize(("body", "field", "words"), [
    ('{"type": "noop", "payload": {"a\\u0000": 1}}', "payload.a\\u0000", "the key contains \\u0000 (NUL)"),
    ('{"type": "noop", "payload": ' + '[' * 70 + ']' * 70 + "}", "payload" + ".0" * 63,
     f"nested more than {MAX_DEPTH} levels deep"),
])
def test_a_url_body_too_deep_or_with_a_nul_is_400_naming_the_field(worker_env: None, conn: Conn, body: str,
                                                                   field: str, words: str) -> None:
    before = fingerprint(conn)
    response = handler(url_event("POST", "action=enqueue", body), CONTEXT)
    assert response["statusCode"] == 400
    assert body_of(response)["field"] == field
    assert words in body_of(response)["message"]
    assert fingerprint(conn) == before


def test_an_api_gateway_v1_event_reads_multi_value_parameters(worker_env: None) -> None:
    event = {"httpMethod": "GET", "requestContext": {"stage": "prod"}, "body": None,
             "headers": {"Authorization": f"Bearer {SECRET}"},
             "multiValueQueryStringParameters": {"action": ["stats"]}}
    response = handler(event, CONTEXT)
    assert response["statusCode"] == 200
    assert "by_status" in body_of(response)


def test_the_schedulers_direct_invoke_processes_without_a_token(worker_env: None, conn: Conn) -> None:
    enqueue_noops(conn, 4)
    enqueue_noops(conn, 1, "analytics")
    answer = handler({"action": "process", "type": "noop", "batch": 3}, CONTEXT)
    assert answer["statusCode"] == 200
    assert answer["by_type"] == {"noop": {"completed": 4}}
    assert value(conn, "select count(*) from job_queue where type = 'analytics' and status = 'pending'") == 1


def test_an_empty_schedule_input_means_process(worker_env: None, conn: Conn) -> None:
    enqueue_noops(conn, 2)
    assert handler({}, CONTEXT)["completed"] == 2


def test_bad_schedule_inputs_are_refused_naming_what_is_allowed(worker_env: None, conn: Conn) -> None:
    enqueue_noops(conn, 1)
    unknown = handler({"action": "process", "bacth": 5}, CONTEXT)
    assert unknown["statusCode"] == 400
    assert "bacth" in unknown["message"]
    assert "batch" in unknown["message"]
    assert handler(["process"], CONTEXT)["statusCode"] == 400
    assert handler({"batch": 100000}, CONTEXT)["statusCode"] == 400
    assert handler({"action": "launch"}, CONTEXT)["statusCode"] == 400
    assert value(conn, "select count(*) from job_queue where status = 'pending'") == 1


def test_a_scheduled_health_check_answers_with_its_status(worker_env: None) -> None:
    answer = handler({"action": "health"}, None)
    assert answer["statusCode"] == 200
    assert answer["status"] in ("ok", "degraded")
    assert answer["checks"]["database"]["ok"] is True
    assert len(answer["request_id"]) == 32
