"""Console HTTP actions: jobs. Registered in `shared.api.catalog`.

    GET  ?action=jobs&type=&status=&priority=&owner=&from=&to=&q=&after=&limit=
                                       -> {jobs, next_after}   400 bad filter (names the parameter)
    GET  ?action=job&id=UUID           -> {job, history, history_total, depends_on, dependents, dead_letter}
    POST ?action=job_cancel&id=UUID    -> {id, cancelled: true, ...}   404 unknown, 409 not pending/running
    POST ?action=job_retry&id=UUID     -> {id, run_at} | {id: new job, dead_letter_id}   404, 409

The filter values go to SQL as they are (console_jobs is the authority and answers 400 naming
the key); here only what SQL cannot say clearly: an unknown parameter, a parameter given twice,
after/limit that are not integers. An empty value (a form field left blank) is not a filter.
Writes are recorded in console_actions with the caller's role as actor (always admin: the
read-only role is refused them before a handler runs).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from shared.api.actions import Action, ApiRequest, ApiResult, backend
from shared.api.params import HttpProblem, bad_parameter, json_body, parse_uuid, single
from shared.console import jobs

PAGE_PARAMETERS = ("after", "limit")
LIST_PARAMETERS = ("action", *jobs.FILTER_KEYS, *PAGE_PARAMETERS)


def list_filters(args: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """The filter of `?action=jobs`: each non-empty filter parameter; 400 for one not known."""
    unknown = sorted(set(args) - set(LIST_PARAMETERS))
    if unknown:
        raise bad_parameter(unknown[0], ",".join(args[unknown[0]]),
                            "one of the jobs parameters: " + ", ".join(LIST_PARAMETERS[1:]))
    values = {key: single(args, key) for key in jobs.FILTER_KEYS}
    return {key: value for key, value in values.items() if value is not None and value.strip() != ""}


def page_int(args: Mapping[str, Sequence[str]], name: str, allowed: str) -> int | None:
    """`after` or `limit` as an integer (its range is SQL's to check), None when not given."""
    raw = single(args, name)
    if raw is None or not raw.strip():
        return None
    try:
        return int(raw.strip())
    except ValueError:
        raise bad_parameter(name, raw, allowed) from None


def actor(request: ApiRequest) -> jobs.Actor:
    """The audit actor of a write: the admin role (the read-only one never gets this far)."""
    if request.role != "admin":
        raise HttpProblem(403, "ReadOnly", "the read-only token may not change the queue")
    return "admin"


def list_jobs(request: ApiRequest) -> ApiResult:
    filters = list_filters(request.args)
    after = page_int(request.args, "after", "the next_after of the previous page (an integer)")
    limit = page_int(request.args, "limit", f"an integer from 1 to {jobs.LIMIT_MAX}")
    page = jobs.list_jobs(backend(), filters, after, jobs.LIMIT_DEFAULT if limit is None else limit)
    return ApiResult(200, page)


def show_job(request: ApiRequest) -> ApiResult:
    return ApiResult(200, jobs.job(backend(), parse_uuid(request.args, "id", "job")))


def _act(call: Callable[..., dict[str, object]]) -> Callable[[ApiRequest], ApiResult]:
    def handler(request: ApiRequest) -> ApiResult:
        json_body(request.body, required=False)
        job_id = parse_uuid(request.args, "id", "job")
        return ApiResult(200, dict(call(backend(), job_id, actor(request))))
    return handler


ACTIONS: dict[str, Action] = {
    "jobs": Action(("GET",), list_jobs, writes=False),
    "job": Action(("GET",), show_job, writes=False),
    "job_cancel": Action(("POST",), _act(jobs.cancel)),
    "job_retry": Action(("POST",), _act(jobs.retry)),
}
