"""The worker function's actions, behind `functions/queue_worker/main.py`.

`?action=process` (default, POST), `health` and `stats` (GET; POST too, which is what
pg_net's `trigger_queue_worker` sends), `enqueue`, `retry`, `cancel` (POST). Each
handler takes an `ApiRequest` and returns an `ApiResult`; refusals are raised as
`HttpProblem` or `QueueError` and turned into statuses by `status_for`. No Flask here,
so the same code answers the test client, a real server and anything else.

One backend per process, created on first use, so a warm function reuses its pool.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from types import ModuleType
from typing import Any, Literal

from pydantic import ValidationError

from shared.api.params import HttpProblem, json_body, parse_batch, parse_types, parse_uuid
from shared.config import Settings
from shared.console import jobs as console_jobs
from shared.ops.health import down_report, health_report
from shared.processors import load_registry
from shared.queue import QueueBackend, backend_from_settings
from shared.queue.errors import (
    Conflict,
    DatabaseUnavailable,
    InvalidInput,
    NotAllowed,
    NotFound,
    QueueError,
    TooManyPendingJobs,
)
from shared.queue.job_input import JobRejected, field_errors, new_job
from shared.worker.invocation import InvocationOptions, run_invocation
from shared.worker.shutdown import stop_on_shutdown

# admin: the worker secret, may do everything; readonly: QUEUE_WORKER_READONLY_SECRET, sees
# everything and changes nothing. Enforced here, on the server, not only in the page.
Role = Literal["admin", "readonly"]


@dataclass(frozen=True)
class ApiRequest:
    """`raw_body` is the body, or a function that reads it (`shared.api.body`): then the
    body is read on first use of `body`, which only handlers do, after authentication."""

    method: str
    args: Mapping[str, Sequence[str]]
    raw_body: bytes | Callable[[], bytes] = b""
    role: Role = "admin"  # set by `respond` from the bearer token (`authenticate`)

    @cached_property
    def body(self) -> bytes:
        return self.raw_body() if callable(self.raw_body) else self.raw_body


@dataclass(frozen=True)
class RawContent:
    """An answer that is not JSON (the metrics' Prometheus text): sent as these bytes."""

    data: bytes
    content_type: str


@dataclass(frozen=True)
class ApiResult:
    """`body` is sent as JSON, unless `raw` is given: then `raw` is the answer."""

    status: int
    body: dict[str, Any]
    raw: RawContent | None = None


@dataclass(frozen=True)
class Action:
    """`writes`: the action changes the queue, so the read-only role is refused (403)."""

    methods: tuple[str, ...]
    handler: Callable[[ApiRequest], ApiResult]
    writes: bool = True


_lock = threading.Lock()
_settings: Settings | None = None
_registry: dict[str, ModuleType] | None = None
_backend: QueueBackend | None = None


def settings() -> Settings:
    """This process's settings, read from the environment once; 503 when they are invalid."""
    global _settings
    with _lock:
        if _settings is None:
            try:
                _settings = Settings()
            except ValidationError as exc:
                raise configuration_problem(exc) from None
        return _settings


def configuration_problem(exc: ValidationError) -> HttpProblem:
    """503 naming each invalid setting and what is wrong, never echoing its value."""
    problems = "; ".join(f"{error['field'].upper()}: {error['message']}" for error in field_errors(exc))
    return HttpProblem(503, "NotConfigured", f"invalid configuration: {problems}",
                       hint="fix these environment variables")


def registry() -> dict[str, ModuleType]:
    global _registry
    with _lock:
        if _registry is None:
            _registry = load_registry()
        return _registry


def backend() -> QueueBackend:
    """This process's backend, created on first use; a failed attempt is retried next time."""
    global _backend
    current = settings()
    with _lock:
        if _backend is None:
            try:
                _backend = backend_from_settings(current)
            except DatabaseUnavailable:
                raise
            except QueueError as exc:  # nothing configured: the database is out of reach
                raise DatabaseUnavailable(exc.message, hint=exc.hint) from exc
        return _backend


def reset() -> None:
    """Forget settings, registry and backend (closing its pool). For tests and reconfiguration."""
    global _settings, _registry, _backend
    with _lock:
        if _backend is not None:
            _backend.close()
        _settings, _registry, _backend = None, None, None


def authenticate(authorization: str | None) -> Role:
    """The caller's role from `Authorization: Bearer <secret>`: the worker secret is admin,
    QUEUE_WORKER_READONLY_SECRET is readonly. Refuse to serve when no worker secret is set
    unless QUEUE_WORKER_ALLOW_UNAUTHENTICATED=1 (local development: everyone is admin)."""
    current = settings()
    secret = current.worker_secret
    if secret is None:
        if current.queue_worker_allow_unauthenticated:
            return "admin"
        raise HttpProblem(
            503, "NotConfigured", "no QUEUE_WORKER_SECRET (or SUPABASE_SERVICE_ROLE_KEY) is configured, "
            "so the function refuses to serve", hint="set QUEUE_WORKER_SECRET; "
            "QUEUE_WORKER_ALLOW_UNAUTHENTICATED=1 is for local development only")
    scheme, _, token = (authorization or "").partition(" ")
    given = token.strip().encode()
    if scheme.lower() == "bearer":
        if hmac.compare_digest(given, secret.encode()):
            return "admin"
        readonly = current.readonly_secret
        if readonly is not None and hmac.compare_digest(given, readonly.encode()):
            return "readonly"
    reason = "missing" if not authorization else "wrong"
    raise HttpProblem(401, "Unauthorized", f"{reason} credentials: send Authorization: Bearer <secret>",
                      headers={"WWW-Authenticate": 'Bearer realm="queue-worker"'})


def require_role(name: str, action: Action, role: Role) -> None:
    """403 when the read-only role asks for an action that changes the queue."""
    if action.writes and role != "admin":
        raise HttpProblem(403, "ReadOnly", f"the read-only token may not run {name!r}: it changes the queue",
                          hint="use the worker secret (QUEUE_WORKER_SECRET) for actions", action=name)


def process(request: ApiRequest) -> ApiResult:
    """Claim and run jobs until none is ready or the time budget is nearly spent."""
    current = settings()
    json_body(request.body, required=False)
    types = parse_types(request.args, registry())
    batch_size = parse_batch(request.args, current.queue_worker_default_batch)
    options = InvocationOptions(types=types, batch_size=batch_size,
                                time_budget_seconds=current.queue_worker_time_budget_seconds, max_jobs=None)
    with stop_on_shutdown() as stop:
        report = run_invocation(backend(), current, options, registry=registry(), stop=stop)
    return ApiResult(200, report.to_dict())


def health(request: ApiRequest) -> ApiResult:
    """200 ok/degraded with the checks; 503 when the database cannot be reached."""
    try:
        report = health_report(backend(), settings(), registry())
    except DatabaseUnavailable as exc:
        report = down_report(exc.message, registry(), settings())
    return ApiResult(503 if report["status"] == "down" else 200, report)


def stats(request: ApiRequest) -> ApiResult:
    return ApiResult(200, backend().queue_stats())


def enqueue(request: ApiRequest) -> ApiResult:
    """Validate the job (its payload by the processor's model), then enqueue it: 201 {id}."""
    job = new_job(json_body(request.body, required=True), registry())
    (job_id,) = backend().jobs_enqueue([job])
    return ApiResult(201, {"id": str(job_id)})


def retry(request: ApiRequest) -> ApiResult:
    """Replay a dead letter as a new pending job."""
    json_body(request.body, required=False)
    dead_letter_id = parse_uuid(request.args, "id", "dead letter")
    job_id = backend().dead_letter_replay(dead_letter_id)
    return ApiResult(200, {"id": str(job_id), "dead_letter_id": str(dead_letter_id)})


def cancel(request: ApiRequest) -> ApiResult:
    """Cancel a pending or running job (and its dependents), recorded in console_actions:
    404 when no such job, 409 (saying its status) when it is finished or dead-lettered."""
    json_body(request.body, required=False)
    job_id = parse_uuid(request.args, "id", "job")
    console_jobs.cancel(backend(), job_id, "admin")
    return ApiResult(200, {"id": str(job_id), "cancelled": True})


ACTIONS: dict[str, Action] = {
    "process": Action(("POST",), process),
    "health": Action(("GET", "POST"), health, writes=False),
    "stats": Action(("GET", "POST"), stats, writes=False),
    "enqueue": Action(("POST",), enqueue),
    "retry": Action(("POST",), retry),
    "cancel": Action(("POST",), cancel),
}


def action_for(request: ApiRequest, actions: Mapping[str, Action]) -> tuple[str, Action]:
    """The action `?action=` names (default process) among `actions`, if the method fits it."""
    names = list(request.args.get("action", ())) or ["process"]
    name = names[0]
    action = actions.get(name)
    if action is None or len(names) > 1:
        raise HttpProblem(400, "UnknownAction", f"unknown action {','.join(names)!r}; actions: "
                          + ", ".join(actions), parameter="action", actions=list(actions))
    if request.method not in action.methods:
        allow = ", ".join(action.methods)
        raise HttpProblem(405, "MethodNotAllowed", f"{name} takes {allow}, not {request.method}",
                          headers={"Allow": allow}, allowed_methods=list(action.methods))
    return name, action


# QueueError -> HTTP status; the first matching class wins (subclasses before parents).
ERROR_STATUSES: tuple[tuple[type[QueueError], int], ...] = (
    (JobRejected, 422), (InvalidInput, 400), (NotFound, 404), (NotAllowed, 403),
    (Conflict, 409), (TooManyPendingJobs, 429), (DatabaseUnavailable, 503),
)


def status_for(error: QueueError) -> int:
    """The HTTP status a QueueError stands for (500 for the unexpected ones)."""
    return next((status for cls, status in ERROR_STATUSES if isinstance(error, cls)), 500)
