"""The console page: `/dashboard` and its static files, served by both entries with a
strict Content-Security-Policy; no path reaches a file outside the static folder.
Also the page's two read actions, `whoami` and `job_schemas`.

Real: functions-framework's app (its test client), Flask, the Lambda handler called as
Lambda's runtime calls it, the files in shared/console/static/, PostgreSQL. Nothing faked.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from functions.queue_worker.aws_lambda import handler
from shared.api.dashboard import CSP, STATIC_DIR, static_files
from tests.functions.conftest import AUTH, READONLY_AUTH
from tests.functions.test_aws_lambda import CONTEXT, url_event

Conn = psycopg.Connection[dict[str, Any]]
TRAVERSALS = ["/dashboard/static/../dashboard.py", "/dashboard/static/%2e%2e/%2e%2e/api/dashboard.py",
              "/dashboard/static//etc/passwd", "/dashboard/static/../../../../etc/passwd",
              "/dashboard/static/views/../../enqueue_forms.py", "/dashboard/static/", "/dashboard/static",
              "/dashboard/../shared/config.py", "/dashboard/static/app.js/", "/dashboard/static/.%2fapp.js",
              "/dashboard/nope"]


def assert_secure(headers: Any) -> None:
    assert headers["Content-Security-Policy"] == CSP
    assert "script-src 'self'" in CSP
    assert "frame-ancestors 'none'" in CSP
    assert "unsafe" not in CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


@pytest.mark.parametrize("path", ["/dashboard", "/dashboard/", "/dashboard/index.html"])
def test_the_page_loads_without_a_token_with_a_strict_csp(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    assert_secure(response.headers)
    html = response.get_data(as_text=True)
    assert '<script type="module" src="' in html
    assert "<style" not in html
    assert " style=" not in html
    # relative links resolve under /dashboard/ either way
    prefix = "dashboard/static/" if path == "/dashboard" else "static/"
    assert f'src="{prefix}app.js"' in html
    assert f'href="{prefix}style.css"' in html


@pytest.mark.parametrize(("name", "content_type"), [
    ("app.js", "text/javascript; charset=utf-8"), ("views/jobs.js", "text/javascript; charset=utf-8"),
    ("style.css", "text/css; charset=utf-8"), ("favicon.svg", "image/svg+xml")])
def test_static_files_have_their_content_type_and_revalidate_by_etag(
        client: FlaskClient, name: str, content_type: str) -> None:
    response = client.get(f"/dashboard/static/{name}")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    assert response.data == (STATIC_DIR / name).read_bytes()
    assert response.headers["Cache-Control"] == "no-cache"
    assert_secure(response.headers)
    again = client.get(f"/dashboard/static/{name}", headers={"If-None-Match": response.headers["ETag"]})
    assert (again.status_code, again.data) == (304, b"")
    assert client.get(f"/dashboard/static/{name}", headers={"If-None-Match": '"other"'}).status_code == 200


def test_every_file_in_the_static_folder_is_served_and_nothing_else(client: FlaskClient) -> None:
    names = set(static_files())
    assert {"index.html", "app.js", "api.js", "charts.js", "style.css", "views/overview.js"} <= names
    for name in names:
        assert client.get(f"/dashboard/static/{name}").status_code == 200, name


@pytest.mark.parametrize("path", TRAVERSALS)
def test_no_path_escapes_the_static_folder(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404, path
    assert response.json is not None
    assert response.json["error"] == "NotFound"
    assert b"import" not in response.data
    assert b"root:" not in response.data
    assert_secure(response.headers)


def test_the_page_takes_get_and_head_only(client: FlaskClient) -> None:
    head = client.head("/dashboard/static/app.js")
    assert (head.status_code, head.data) == (200, b"")
    refused = client.post("/dashboard/", headers=AUTH)
    assert refused.status_code == 405
    assert refused.headers["Allow"] == "GET, HEAD"


def test_the_json_api_is_unchanged_beside_the_page(client: FlaskClient) -> None:
    assert client.get("/?action=stats").status_code == 401
    response = client.get("/?action=stats", headers=AUTH)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert "Content-Security-Policy" not in response.headers
    assert client.get("/dashboardx?action=stats", headers=AUTH).status_code == 200  # not the page's prefix


def test_a_lambda_url_event_serves_the_page_and_its_files(worker_env: None) -> None:
    event = url_event("GET", token=None) | {"rawPath": "/dashboard/static/app.js"}
    response = handler(event, CONTEXT)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/javascript; charset=utf-8"
    assert response["body"] == (STATIC_DIR / "app.js").read_text()
    assert response["isBase64Encoded"] is False
    assert_secure(response["headers"])
    page = handler(url_event("GET", token=None) | {"rawPath": "/dashboard/"}, CONTEXT)
    assert page["statusCode"] == 200
    assert "<html" in page["body"]


def test_a_lambda_event_under_an_api_gateway_stage_serves_the_page(worker_env: None) -> None:
    event = url_event("GET", token=None) | {"rawPath": "/prod/dashboard/static/style.css"}
    event["requestContext"]["stage"] = "prod"
    response = handler(event, CONTEXT)
    assert (response["statusCode"], response["headers"]["Content-Type"]) == (200, "text/css; charset=utf-8")


def test_a_lambda_payload_1_event_and_traversal(worker_env: None) -> None:
    event: dict[str, Any] = {"httpMethod": "GET", "path": "/dashboard", "headers": {}, "requestContext": {},
             "multiValueQueryStringParameters": None, "body": None}
    assert handler(event, CONTEXT)["statusCode"] == 200
    for path in TRAVERSALS:
        assert handler(event | {"path": path}, CONTEXT)["statusCode"] == 404, path


def test_lambda_actions_are_unchanged_beside_the_page(worker_env: None) -> None:
    response = handler(url_event("GET", "action=stats"), CONTEXT)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "application/json"


@pytest.mark.parametrize(("headers", "role"), [(AUTH, "admin"), (READONLY_AUTH, "readonly")])
def test_whoami_names_the_tokens_role(client: FlaskClient, headers: dict[str, str], role: str) -> None:
    response = client.get("/?action=whoami", headers=headers)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["role"] == role
    assert client.get("/?action=whoami", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_job_schemas_lists_each_type_with_its_payload_schema_and_state(
        client: FlaskClient, conn: Conn) -> None:
    conn.execute("update job_types set enabled = false where name = 'audio'")
    response = client.get("/?action=job_schemas", headers=READONLY_AUTH)
    assert response.status_code == 200
    assert response.json is not None
    types = {t["type"]: t for t in response.json["types"]}
    assert {"noop", "email", "audio", "payout"} <= set(types)
    assert types["audio"]["enabled"] is False
    assert types["email"]["enabled"] is True
    email = types["email"]["schema"]
    assert email["type"] == "object"
    assert "to" in email["properties"]
    assert json.dumps(email)  # plain JSON
    assert client.post("/?action=job_schemas", headers=AUTH).status_code == 405
