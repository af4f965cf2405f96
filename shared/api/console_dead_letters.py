"""Console HTTP actions: dead letters. Registered in `shared.api.catalog`.

    GET  ?action=dead_letter_groups&type=&limit=           groups by error fingerprint
    GET  ?action=dead_letters&type=&fingerprint=&q=&from=&to=&replayed=&after=&limit=
    GET  ?action=dead_letters_count&ids=a,b | &fingerprint=&type= | &type=&q=&from=&to=
    POST ?action=dead_letters_count   body {selector}                 -> {count, as_of}
    POST ?action=dead_letters_replay  body {selector, as_of[, action_id]}
    POST ?action=dead_letters_delete  body {selector, as_of[, action_id]}
         -> {action_id, affected, remaining, partial}

A replay or delete runs batches until nothing remains or the function's time budget
(QUEUE_WORKER_TIME_BUDGET_SECONDS) nears; then it answers `partial: true` with what remains,
and the caller POSTs the same body plus `action_id` to go on (one audit row for all of it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from shared.api.actions import Action, ApiRequest, ApiResult, backend, settings
from shared.api.params import HttpProblem, bad_parameter, json_body, single
from shared.console import dead_letters

BUDGET_SHARE = 0.8  # of the function's time budget; the rest answers and leaves slack


def _int(args: Mapping[str, Sequence[str]], name: str, low: int, high: int, default: int) -> int:
    raw = single(args, name)
    if raw is None:
        return default
    allowed = f"an integer from {low} to {high}"
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_parameter(name, raw, allowed) from None
    if not low <= value <= high:
        raise bad_parameter(name, raw, allowed)
    return value


def _text(args: Mapping[str, Sequence[str]], names: Sequence[str]) -> dict[str, str]:
    return {name: value for name in names if (value := single(args, name)) not in (None, "")}


def groups(request: ApiRequest) -> ApiResult:
    job_type = single(request.args, "type") or None
    limit = _int(request.args, "limit", 1, 1000, 50)
    return ApiResult(200, dead_letters.groups(backend(), job_type, limit))


def listing(request: ApiRequest) -> ApiResult:
    filter_: dict[str, Any] = _text(request.args, ("type", "fingerprint", "q", "from", "to"))
    replayed = single(request.args, "replayed")
    if replayed is not None:
        if replayed not in ("true", "false"):
            raise bad_parameter("replayed", replayed, "true or false")
        filter_["replayed"] = replayed == "true"
    limit = _int(request.args, "limit", 1, 200, 50)
    return ApiResult(200, dead_letters.page(backend(), filter_, single(request.args, "after") or None, limit))


def _selector_from_args(args: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    ids = [part.strip() for raw in args.get("ids", ()) for part in raw.split(",") if part.strip()]
    given = _text(args, ("fingerprint", "type", "q", "from", "to"))
    if ids:
        if given:
            raise bad_parameter("ids", ",".join(ids), "given alone (not with fingerprint, type, q, from, to)")
        return {"ids": ids}
    if "fingerprint" in given:
        if set(given) - {"fingerprint", "type"}:
            raise bad_parameter("fingerprint", given["fingerprint"], "given alone or with type only")
        return given
    return {"filter": given}


def _body_selector(body: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise HttpProblem(400, "InvalidBody", f"unknown body field {unknown[0]!r}", field=unknown[0],
                          allowed=sorted(allowed))
    if "selector" not in body:
        raise HttpProblem(400, "InvalidBody", "the body needs a selector", field="selector",
                          allowed=dead_letters.SELECTOR_FORMS)
    selector = body["selector"]
    if not isinstance(selector, dict):
        raise HttpProblem(400, "InvalidBody", "selector must be a JSON object", field="selector",
                          allowed=dead_letters.SELECTOR_FORMS)
    return selector


def count(request: ApiRequest) -> ApiResult:
    if request.method == "GET":
        selector = _selector_from_args(request.args)
    else:
        selector = _body_selector(json_body(request.body, required=True), {"selector"})
    return ApiResult(200, dead_letters.count(backend(), selector))


def _as_of(body: dict[str, Any]) -> str:
    as_of = body.get("as_of")
    allowed = "the as_of of the dead_letters_count the operator confirmed (an ISO 8601 time)"
    if not isinstance(as_of, str):
        raise HttpProblem(400, "InvalidBody", "as_of is required", field="as_of", allowed=allowed)
    try:
        datetime.fromisoformat(as_of)
    except ValueError:
        raise HttpProblem(400, "InvalidBody", f"as_of {as_of!r} is not a time", field="as_of",
                          allowed=allowed) from None
    return as_of


def _action_id(body: dict[str, Any]) -> int | None:
    action_id = body.get("action_id")
    if action_id is None:
        return None
    if isinstance(action_id, bool) or not isinstance(action_id, int) or action_id < 1:
        raise HttpProblem(400, "InvalidBody", "action_id must be the positive integer a partial answer gave",
                          field="action_id", allowed="the action_id of the partial answer to continue")
    return action_id


def _act(action: dead_letters.Action, request: ApiRequest) -> ApiResult:
    body = json_body(request.body, required=True)
    selector = _body_selector(body, {"selector", "as_of", "action_id"})
    as_of, action_id = _as_of(body), _action_id(body)
    budget = settings().queue_worker_time_budget_seconds * BUDGET_SHARE
    done = dead_letters.act(backend(), action, selector, as_of, request.role, action_id=action_id,
                            budget_seconds=budget)
    return ApiResult(200, done.to_dict())


def replay(request: ApiRequest) -> ApiResult:
    return _act("replay", request)


def delete(request: ApiRequest) -> ApiResult:
    return _act("delete", request)


ACTIONS: dict[str, Action] = {
    "dead_letter_groups": Action(("GET",), groups, writes=False),
    "dead_letters": Action(("GET",), listing, writes=False),
    "dead_letters_count": Action(("GET", "POST"), count, writes=False),
    "dead_letters_replay": Action(("POST",), replay),
    "dead_letters_delete": Action(("POST",), delete),
}
