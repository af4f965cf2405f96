"""Console HTTP actions: types, breakers, schedules, audit. Registered in `shared.api.catalog`.

    GET  ?action=types                             -> {types, breakers}
    POST ?action=type_pause&type=T | type_resume   -> {type, enabled}           400 unknown type
    POST ?action=breaker_reset&provider=P          -> {provider, state}         404 unknown provider
    GET  ?action=schedules                         -> {schedules}
    POST ?action=schedule_enable&name=N | schedule_disable -> {name, enabled, next_run_at}  404 unknown
    GET  ?action=audit&limit=1-1000&before=ID      -> {actions}

Writes are recorded in console_actions with the caller's role as actor (always admin: the
read-only role is refused them before a handler runs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from shared.api.actions import Action, ApiRequest, ApiResult, backend
from shared.api.params import HttpProblem, bad_parameter, json_body, single
from shared.console import admin


def required(args: Mapping[str, Sequence[str]], name: str, what: str) -> str:
    """A required, non-empty text parameter; `what` says what it names (for the message)."""
    raw = single(args, name)
    if raw is None or not raw.strip():
        raise HttpProblem(400, "MissingParameter", f"{name} is required: the {what}",
                          parameter=name, allowed=f"the name of a {what}")
    return raw.strip()


def optional_int(args: Mapping[str, Sequence[str]], name: str, low: int, high: int | None,
                 default: int | None) -> int | None:
    """An integer parameter in [low, high] (no upper bound when high is None), else `default`."""
    raw = single(args, name)
    if raw is None or raw == "":
        return default
    allowed = f"an integer from {low} to {high}" if high is not None else f"an integer of at least {low}"
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_parameter(name, raw, allowed) from None
    if value < low or (high is not None and value > high):
        raise bad_parameter(name, raw, allowed)
    return value


def actor(request: ApiRequest) -> admin.Actor:
    """The audit actor of a write: the admin role (the read-only one never gets this far)."""
    if request.role != "admin":
        raise HttpProblem(403, "ReadOnly", "the read-only token may not change the queue")
    return "admin"


def types(request: ApiRequest) -> ApiResult:
    return ApiResult(200, admin.types(backend()))


def _set_type(enabled: bool) -> Callable[[ApiRequest], ApiResult]:
    def handler(request: ApiRequest) -> ApiResult:
        json_body(request.body, required=False)
        job_type = required(request.args, "type", "job type")
        return ApiResult(200, admin.set_type_enabled(backend(), job_type, enabled, actor(request)))
    return handler


def breaker_reset(request: ApiRequest) -> ApiResult:
    json_body(request.body, required=False)
    provider = required(request.args, "provider", "circuit breaker's provider")
    return ApiResult(200, admin.reset_breaker(backend(), provider, actor(request)))


def schedules(request: ApiRequest) -> ApiResult:
    return ApiResult(200, admin.schedules(backend()))


def _set_schedule(enabled: bool) -> Callable[[ApiRequest], ApiResult]:
    def handler(request: ApiRequest) -> ApiResult:
        json_body(request.body, required=False)
        name = required(request.args, "name", "schedule")
        return ApiResult(200, admin.set_schedule_enabled(backend(), name, enabled, actor(request)))
    return handler


def audit(request: ApiRequest) -> ApiResult:
    limit = optional_int(request.args, "limit", 1, admin.AUDIT_LIMIT_MAX, 50)
    before = optional_int(request.args, "before", 1, None, None)
    return ApiResult(200, admin.audit(backend(), limit or 50, before))


ACTIONS: dict[str, Action] = {
    "types": Action(("GET",), types, writes=False),
    "type_pause": Action(("POST",), _set_type(False)),
    "type_resume": Action(("POST",), _set_type(True)),
    "breaker_reset": Action(("POST",), breaker_reset),
    "schedules": Action(("GET",), schedules, writes=False),
    "schedule_enable": Action(("POST",), _set_schedule(True)),
    "schedule_disable": Action(("POST",), _set_schedule(False)),
    "audit": Action(("GET",), audit, writes=False),
}
