"""The worker function: `functions-framework --source functions/queue_worker/main.py --target queue_worker`.

Thin on purpose: turn the Flask request into an `ApiRequest` and the answer into a
response; authentication, actions, statuses and the request log live in
`shared.api.respond` (shared with the AWS Lambda handler beside this file). Paths under
/dashboard are the operator console's page instead (`shared.api.dashboard`: static files,
no token needed to load it, a strict Content-Security-Policy). Every other
response is JSON (or an action's own format: `?action=metrics` answers Prometheus text) and
carries a request id (X-Request-Id header, and the body of a JSON one), also the errors
Flask raises before the function runs. The body is read only by an action that
needs it, after authentication, and at most QUEUE_WORKER_MAX_BODY_BYTES of it
(`shared.api.body`). The actions and their parameters are documented in shared/api/actions.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from shared.api import actions as http_api
from shared.api import dashboard
from shared.api.body import read_capped
from shared.api.respond import Answer, request_id_from, respond
from shared.api.trace_context import caller_context
from shared.worker.shutdown import install_gunicorn_hook

install_gunicorn_hook()


@functions_framework.http
def queue_worker(request: flask.Request) -> flask.Response:
    if dashboard.is_dashboard(request.path):
        page = dashboard.serve(request.method, request.path, request.headers.get("If-None-Match"))
        return flask.Response(iter([page.body]), status=page.status, headers=page.headers)
    api_request = http_api.ApiRequest(request.method, request.args.to_dict(flat=False),
                                      lambda: read_body(request))
    with caller_context(request.headers.get):
        answer = respond(api_request, request.headers.get("Authorization"),
                         request_id_from(request.headers.get("X-Request-Id")))
    return answer_response(answer)


def read_body(request: flask.Request) -> bytes:
    cap = http_api.settings().queue_worker_max_body_bytes
    return read_capped(request.stream, request.content_length, cap)


def answer_response(answer: Answer) -> flask.Response:
    """The action's answer: JSON, or its own bytes and Content-Type (the metrics' text)."""
    data, content_type = answer.content()
    return bytes_response(answer.status, data, content_type, answer.headers)


def json_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> flask.Response:
    return bytes_response(status, json.dumps(body, default=str).encode(), "application/json", headers)


def bytes_response(status: int, data: bytes, content_type: str, headers: Mapping[str, str]) -> flask.Response:
    """The bytes go out as an iterator, which makes Flask call the response streamed; that
    alone stops functions-framework's after-request hook (`read_request`) from reading the
    whole request body after us, so a refused body stays unread. Content-Length is set, so
    the client sees an ordinary response."""
    return flask.Response(iter([data]), status=status, content_type=content_type,
                          headers={**headers, "Content-Length": str(len(data))})


@functions_framework.errorhandler(HTTPException)  # type: ignore[untyped-decorator]
def framework_error(error: HTTPException) -> flask.Response:
    """What Flask refuses before the function runs (404 for /favicon.ico and /robots.txt),
    in the function's JSON shape instead of Flask's HTML page."""
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return error_response(error.code or 500, (error.name or "Error").replace(" ", ""),
                          error.description or error.name, headers)


@functions_framework.errorhandler(500)  # type: ignore[untyped-decorator]
def crashed(error: HTTPException) -> flask.Response:
    """An exception that escaped this module (Flask has logged it). Replaces
    functions-framework's crash handler, which answers the exception's text in plain text;
    its X-Google-Status header, which Cloud Functions logs the crash by, is kept."""
    return error_response(500, "InternalError", "unexpected error; see the function's logs",
                          {"X-Google-Status": "crash"})


def error_response(status: int, error: str, message: str, headers: Mapping[str, str]) -> flask.Response:
    request_id = request_id_from(flask.request.headers.get("X-Request-Id"))
    body = {"error": error, "message": message, "request_id": request_id}
    return json_response(status, body, {**headers, "X-Request-Id": request_id})
