"""One request in, one answer out (JSON, or an action's own format such as the metrics'
Prometheus text), whatever serves the function: functions-framework
(`functions/queue_worker/main.py`) or AWS Lambda (`functions/queue_worker/aws_lambda.py`).

Authenticates (the role: admin or readonly), runs the action from `shared.api.catalog`
(refusing the read-only role what changes the queue), maps every failure to a status,
stamps the request id on the body and the headers, and logs one line per request.
"""

from __future__ import annotations

import dataclasses
import json
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
    raw: http_api.RawContent | None = None  # a non-JSON answer: sent instead of `body`

    def content(self) -> tuple[bytes, str]:
        """The bytes to send and their Content-Type: the raw answer, else `body` as JSON."""
        if self.raw is not None:
            return self.raw.data, self.raw.content_type
        return json.dumps(self.body, default=str).encode(), "application/json"


def request_id_from(given: str | None) -> str:
    """The caller's X-Request-Id when it is sane, else a fresh one."""
    return given if given and _REQUEST_ID.match(given) else uuid.uuid4().hex


def respond(request: http_api.ApiRequest, authorization: str | None, request_id: str, *,
            preauthenticated: bool = False) -> Answer:
    """Answer `request`. `preauthenticated`: the platform already vouched for the caller
    (a direct Lambda invoke, allowed by IAM), so no bearer token is asked for."""
    started = time.perf_counter()
    result, headers = _dispatch(request, authorization, request_id, preauthenticated)
    action = (list(request.args.get("action", ())) or ["process"])[0]
    log_event(logging.INFO, "request", request_id=request_id, method=request.method, action=action[:40],
              status=result.status, duration_ms=round((time.perf_counter() - started) * 1000, 1))
    return Answer(result.status, {**result.body, "request_id": request_id},
                  {**headers, "X-Request-Id": request_id}, result.raw)


def _dispatch(request: http_api.ApiRequest, authorization: str | None, request_id: str,
              preauthenticated: bool) -> tuple[http_api.ApiResult, dict[str, str]]:
    try:
        role: http_api.Role = "admin" if preauthenticated else http_api.authenticate(authorization)
        name, action = http_api.action_for(request, ACTIONS)
        http_api.require_role(name, action, role)
        return action.handler(dataclasses.replace(request, role=role)), {}
    except HttpProblem as problem:
        return http_api.ApiResult(problem.status, problem.to_dict()), problem.headers
    except QueueError as error:
        return http_api.ApiResult(http_api.status_for(error), error.to_dict()), {}
    except Exception:
        log_exception("unexpected error in the worker function", request_id=request_id)
        return http_api.ApiResult(500, {"error": "InternalError",
                                        "message": "unexpected error; see the function's logs"}), {}
