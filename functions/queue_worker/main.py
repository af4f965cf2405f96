"""The worker function: `functions-framework --source functions/queue_worker/main.py --target queue_worker`.

Thin on purpose: parse the request, authenticate, call `shared.http_api`, map errors to
statuses. Every response is JSON and carries a request id (body and X-Request-Id header).
The actions and their parameters are documented in shared/http_api.py.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

import flask
import functions_framework

from shared import http_api
from shared.errors import QueueError
from shared.http_params import HttpProblem
from shared.logs import log_event, log_exception
from shared.shutdown import install_gunicorn_hook

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

install_gunicorn_hook()


def request_id_for(request: flask.Request) -> str:
    """The caller's X-Request-Id when it is sane, else a fresh one."""
    given = request.headers.get("X-Request-Id", "")
    return given if _REQUEST_ID.match(given) else uuid.uuid4().hex


def answer(request: flask.Request, request_id: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    """(status, body, extra headers) for one request; every failure becomes a status."""
    api_request = http_api.ApiRequest(request.method, request.args.to_dict(flat=False), request.get_data())
    try:
        http_api.authenticate(request.headers.get("Authorization"))
        _, action = http_api.action_for(api_request)
        result = action.handler(api_request)
        return result.status, result.body, {}
    except HttpProblem as problem:
        return problem.status, problem.to_dict(), problem.headers
    except QueueError as error:
        return http_api.status_for(error), error.to_dict(), {}
    except Exception:
        log_exception("unexpected error in the worker function", request_id=request_id)
        return 500, {"error": "InternalError", "message": "unexpected error; see the function's logs"}, {}


@functions_framework.http
def queue_worker(request: flask.Request) -> flask.Response:
    started, request_id = time.perf_counter(), request_id_for(request)
    status, body, headers = answer(request, request_id)
    log_event(logging.INFO, "request", request_id=request_id, method=request.method,
              action=request.args.get("action", "process")[:40], status=status,
              duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return flask.Response(json.dumps({**body, "request_id": request_id}, default=str), status=status,
                          headers={**headers, "X-Request-Id": request_id}, mimetype="application/json")
