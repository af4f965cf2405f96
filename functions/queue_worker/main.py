"""The worker function: `functions-framework --source functions/queue_worker/main.py --target queue_worker`.

Thin on purpose: turn the Flask request into an `ApiRequest` and the answer into a
response; authentication, actions, statuses and the request log live in
`shared.http_respond` (shared with the AWS Lambda handler beside this file). Every
response is JSON and carries a request id (body and X-Request-Id header). The actions
and their parameters are documented in shared/http_api.py.
"""

from __future__ import annotations

import json

import flask
import functions_framework

from shared import http_api
from shared.http_respond import request_id_from, respond
from shared.shutdown import install_gunicorn_hook

install_gunicorn_hook()


@functions_framework.http
def queue_worker(request: flask.Request) -> flask.Response:
    api_request = http_api.ApiRequest(request.method, request.args.to_dict(flat=False), request.get_data())
    answer = respond(api_request, request.headers.get("Authorization"),
                     request_id_from(request.headers.get("X-Request-Id")))
    return flask.Response(json.dumps(answer.body, default=str), status=answer.status, headers=answer.headers,
                          mimetype="application/json")
