"""The worker function: `functions-framework --source functions/queue_worker/main.py --target queue_worker`.

Thin on purpose: turn the Flask request into an `ApiRequest` and the answer into a
response; authentication, actions, statuses and the request log live in
`shared.http_respond` (shared with the AWS Lambda handler beside this file). Every
response is JSON and carries a request id (body and X-Request-Id header), also the
errors Flask raises before the function runs. The body is read only by an action that
needs it, after authentication, and at most QUEUE_WORKER_MAX_BODY_BYTES of it
(`shared.http_body`). The actions and their parameters are documented in shared/http_api.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import flask
import functions_framework
from werkzeug.exceptions import HTTPException

from shared import http_api
from shared.http_body import read_capped
from shared.http_respond import request_id_from, respond
from shared.shutdown import install_gunicorn_hook

install_gunicorn_hook()


@functions_framework.http
def queue_worker(request: flask.Request) -> flask.Response:
    api_request = http_api.ApiRequest(request.method, request.args.to_dict(flat=False),
                                      lambda: read_body(request))
    answer = respond(api_request, request.headers.get("Authorization"),
                     request_id_from(request.headers.get("X-Request-Id")))
    return json_response(answer.status, answer.body, answer.headers)


def read_body(request: flask.Request) -> bytes:
    cap = http_api.settings().queue_worker_max_body_bytes
    return read_capped(request.stream, request.content_length, cap)


def json_response(status: int, body: Mapping[str, Any], headers: Mapping[str, str]) -> flask.Response:
    """`body` as JSON. The bytes go out as an iterator, which makes Flask call the response
    streamed; that alone stops functions-framework's after-request hook (`read_request`)
    from reading the whole request body after us, so a refused body stays unread.
    Content-Length is set, so the client sees an ordinary response."""
    data = json.dumps(body, default=str).encode()
    return flask.Response(iter([data]), status=status, mimetype="application/json",
                          headers={**headers, "Content-Length": str(len(data))})


@functions_framework.errorhandler(HTTPException)  # type: ignore[untyped-decorator]
def framework_error(error: HTTPException) -> flask.Response:
    """What Flask refuses before the function runs (404 for /favicon.ico and /robots.txt),
    in the function's JSON shape instead of Flask's HTML page."""
    request_id = request_id_from(flask.request.headers.get("X-Request-Id"))
    name = (error.name or "Error").replace(" ", "")
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    body = {"error": name, "message": error.description or error.name, "request_id": request_id}
    return json_response(error.code or 500, body, headers | {"X-Request-Id": request_id})
