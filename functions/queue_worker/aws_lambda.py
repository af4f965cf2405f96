"""The worker function on AWS Lambda: handler `functions/queue_worker/aws_lambda.handler`.

Two kinds of event, the same actions and answers as the HTTP function (`main.py`):

* **HTTP** through a Lambda function URL or API Gateway (payload format 2.0 or 1.0):
  the bearer token is checked exactly as on other platforms (before the body is
  decoded), the body has the same size cap (413), depth and NUL checks (400), and the
  answer is an HTTP response (`statusCode`, `headers`, `body`: JSON, or the action's own
  text, such as the metrics' Prometheus format). Paths under
  /dashboard (after an API Gateway stage, if any) are the console's page
  (`shared.api.dashboard`), served without a token like on other platforms.
* **A direct invoke**, which is what EventBridge Scheduler sends every minute: the
  event is the schedule's input, `{"action": "process", "type": "email,audio",
  "batch": 50}` (every key optional). Only principals IAM allows to invoke the function
  get here, so no bearer token is asked for. The answer is the JSON body plus its
  `statusCode` (as a POST: `metrics`, which takes GET, is a 405 here). Unknown keys or a
  non-object event are a 400 naming what is allowed.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from shared.api import actions as http_api
from shared.api import dashboard
from shared.api.body import capped
from shared.api.params import HttpProblem
from shared.api.respond import request_id_from, respond
from shared.api.trace_context import caller_context
from shared.logs import log_event

SCHEDULE_KEYS = ("action", "type", "batch", "id")


def handler(event: Any, context: Any = None) -> dict[str, Any]:
    if isinstance(event, Mapping) and "requestContext" in event and _method(event):
        return _http(event, context)
    return _invoke(event, context)


def _http(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    path = _path(event)
    if dashboard.is_dashboard(path):
        return _page(dashboard.serve(_method(event), path, headers.get("if-none-match")))
    request = http_api.ApiRequest(_method(event), _query(event), lambda: _body(event))
    with caller_context(headers.get):
        answer = respond(request, headers.get("authorization"),
                         request_id_from(headers.get("x-request-id") or _aws_request_id(context)))
    data, content_type = answer.content()
    return _response(answer.status, {**answer.headers, "Content-Type": content_type}, data)


def _invoke(event: Any, context: Any) -> dict[str, Any]:
    request_id = request_id_from(_aws_request_id(context))
    if not isinstance(event, Mapping):
        return _refused(request_id, f"the event must be a JSON object, got {type(event).__name__}")
    unknown = sorted(set(event) - set(SCHEDULE_KEYS))
    if unknown:
        return _refused(request_id, f"unknown event keys {unknown}; allowed: {', '.join(SCHEDULE_KEYS)}")
    args = {key: [str(event[key])] for key in SCHEDULE_KEYS if event.get(key) is not None}
    answer = respond(http_api.ApiRequest("POST", args, b""), None, request_id, preauthenticated=True)
    return {"statusCode": answer.status, **answer.body}


def _refused(request_id: str, message: str) -> dict[str, Any]:
    log_event(logging.WARNING, "refused event", request_id=request_id, reason=message)
    return {"statusCode": 400, "error": "InvalidEvent", "message": message, "request_id": request_id,
            "hint": 'send {"action": "process", "type": "email,audio", "batch": 50}'}


def _method(event: Mapping[str, Any]) -> str:
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method") or event.get("httpMethod") or "").upper()


def _path(event: Mapping[str, Any]) -> str:
    """The request path, without the API Gateway stage it may start with ("/prod/dashboard")."""
    path = str(event.get("rawPath") or event.get("path") or "/")
    stage = str((event.get("requestContext") or {}).get("stage") or "")
    if stage and stage != "$default" and path.startswith(f"/{stage}/"):
        path = path[len(stage) + 1:]
    return path


def _page(page: dashboard.Page) -> dict[str, Any]:
    return _response(page.status, page.headers, page.body)


def _response(status: int, headers: Mapping[str, str], data: bytes) -> dict[str, Any]:
    """A Lambda HTTP response: text as is, anything else base64."""
    try:
        body, encoded = data.decode(), False
    except UnicodeDecodeError:
        body, encoded = base64.b64encode(data).decode(), True
    return {"statusCode": status, "headers": dict(headers), "body": body, "isBase64Encoded": encoded}


def _query(event: Mapping[str, Any]) -> dict[str, list[str]]:
    if event.get("rawQueryString") is not None:  # payload 2.0
        return parse_qs(str(event["rawQueryString"]), keep_blank_values=True)
    multi = event.get("multiValueQueryStringParameters") or {}  # payload 1.0
    return {str(k): [str(v) for v in values] for k, values in multi.items()}


def _body(event: Mapping[str, Any]) -> bytes:
    """The body under the same cap as elsewhere; decoded only when an action reads it."""
    body = event.get("body") or ""
    try:
        raw = base64.b64decode(body) if event.get("isBase64Encoded") else str(body).encode()
    except binascii.Error as exc:
        raise HttpProblem(400, "InvalidBody", f"the body is marked isBase64Encoded but is not base64: {exc}",
                          hint="send the body as base64, or set isBase64Encoded to false") from None
    return capped(raw, http_api.settings().queue_worker_max_body_bytes)


def _aws_request_id(context: Any) -> str | None:
    value = getattr(context, "aws_request_id", None)
    return str(value) if value else None
