"""Authentication and the response envelope of the worker function.

Real: functions-framework's app (its test client), Flask, PostgreSQL. Nothing faked.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.functions.conftest import AUTH, SECRET


def test_a_request_without_credentials_is_refused_with_401(client: FlaskClient) -> None:
    response = client.get("/?action=stats")
    assert response.status_code == 401
    assert response.json is not None
    assert "missing credentials" in response.json["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Bearer wrong", f"Basic {SECRET}", f"Bearer {SECRET}x", "Bearer", SECRET])
def test_a_wrong_or_malformed_credential_is_refused_with_401(client: FlaskClient, header: str) -> None:
    response = client.get("/?action=stats", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["error"] == "Unauthorized"


def test_the_right_bearer_secret_is_accepted(client: FlaskClient) -> None:
    assert client.get("/?action=stats", headers=AUTH).status_code == 200


def test_the_service_role_key_is_the_secret_when_no_worker_secret_is_set(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_WORKER_SECRET")
    monkeypatch.setenv("SUPABASE_SERVICE_ROLE_KEY", "service-role-key")
    from shared.api import actions as http_api

    http_api.reset()
    assert client.get("/?action=stats", headers=AUTH).status_code == 401
    service_role = {"Authorization": "Bearer service-role-key"}
    assert client.get("/?action=stats", headers=service_role).status_code == 200


def test_without_any_secret_the_function_refuses_to_serve_and_says_why(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUEUE_WORKER_SECRET")
    from shared.api import actions as http_api

    http_api.reset()
    response = client.get("/?action=stats", headers=AUTH)
    assert response.status_code == 503
    assert response.json is not None
    assert "QUEUE_WORKER_SECRET" in response.json["message"]
    assert "QUEUE_WORKER_ALLOW_UNAUTHENTICATED" in response.json["hint"]


def test_allow_unauthenticated_serves_without_a_secret_but_not_past_a_configured_one(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.api import actions as http_api

    monkeypatch.setenv("QUEUE_WORKER_ALLOW_UNAUTHENTICATED", "1")
    http_api.reset()
    assert client.get("/?action=stats").status_code == 401  # a secret is set: it still counts
    monkeypatch.delenv("QUEUE_WORKER_SECRET")
    http_api.reset()
    assert client.get("/?action=stats").status_code == 200


@pytest.mark.parametrize(("method", "query", "headers"), [
    ("GET", "?action=stats", AUTH), ("GET", "?action=stats", {}), ("GET", "?action=nope", AUTH),
    ("PUT", "?action=health", AUTH), ("POST", "?action=enqueue", AUTH)])
def test_every_response_is_json_with_a_request_id_in_body_and_header(
        client: FlaskClient, method: str, query: str, headers: dict[str, str]) -> None:
    response = client.open("/" + query, method=method, headers=headers)
    assert response.mimetype == "application/json"
    assert response.json is not None
    assert response.json["request_id"] == response.headers["X-Request-Id"]
    assert len(response.headers["X-Request-Id"]) == 32


def test_a_sane_caller_request_id_is_kept_and_a_hostile_one_replaced(client: FlaskClient) -> None:
    kept = client.get("/?action=stats", headers=AUTH | {"X-Request-Id": "sched-42"})
    assert kept.headers["X-Request-Id"] == "sched-42"
    assert kept.json is not None
    assert kept.json["request_id"] == "sched-42"
    replaced = client.get("/?action=stats", headers=AUTH | {"X-Request-Id": "a b\"<script>"})
    assert replaced.headers["X-Request-Id"] != "a b\"<script>"


def test_an_invalid_setting_is_503_naming_it_without_echoing_its_value(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.api import actions as http_api

    monkeypatch.setenv("QUEUE_WORKER_DEFAULT_BATCH", "5000-secret-looking-value")
    http_api.reset()
    response = client.get("/?action=health", headers=AUTH)
    assert response.status_code == 503
    assert response.json is not None
    assert "QUEUE_WORKER_DEFAULT_BATCH" in response.json["message"]
    assert "secret-looking" not in response.get_data(as_text=True)
