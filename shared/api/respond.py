"""One request in, one JSON answer out, whatever serves the function: functions-framework
(`functions/queue_worker/main.py`) or AWS Lambda (`functions/queue_worker/aws_lambda.py`).

Authenticates (the role: admin or readonly), runs the action from `shared.api.catalog`
(refusing the read-only role what changes the queue), maps every failure to a status,
stamps the request id on the body and the headers, and logs one line per request.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

from shared.api import actions as http_api
from shared.api.catalog import ACTIONS
from shared.api.params import HttpProblem
from shared.logs import log_event, log_exception
from shared.queue.errors import QueueError

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]  # carries "request_id"
    headers: dict[str, str]  # carries "X-Request-Id"


def request_id_from(given: str | None) -> str:
    """The caller's X-Request-Id when it is sane, else a fresh one."""
    return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex


def respond(request: http_api.ApiRequest, authorization: str | None, request_id: str, *,
            preauthenticated: bool = False) -> Answer:
    """Answer `request`. `preauthenticated`: the platform already vouched for the caller
    (a direct Lambda invoke, allowed by IAM), so no bearer token is asked for."""
    started = time.perf_counter()
    status, body, headers = _dispatch(request, authorization, request_id, preauthenticated)
    action = (list(request.args.get("action", ())) or ["process"])[0]
    log_event(logging.INFO, "request", request_id=request_id, method=request.method, action=action[:40],
              status=status, duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return Answer(status, {**body, "request_id": request_id}, {**headers, "X-Request-Id": request_id})


def _dispatch(request: http_api.ApiRequest, authorization: str | None, request_id: str,
              preauthenticated: bool) -> tuple[int, dict[str, Any], dict[str, str]]:
    try:
        role: http_api.Role = "admin" if preauthenticated else http_api.authenticate(authorization)
        name, action = http_api.action_for(request, ACTIONS)
        http_api.require_role(name, action, role)
        result = action.handler(dataclasses.replace(request, role=role))
        return result.status, result.body, {}
    except HttpProblem as problem:
        return problem.status, problem.to_dict(), problem.headers
    except QueueError as error:
        return http_api.status_for(error), error.to_dict(), {}
    except Exception:
        log_exception("unexpected error in the worker function", request_id=request_id)
        return 500, {"error": "InternalError", "message": "unexpected error; see the function's logs"}, {}
