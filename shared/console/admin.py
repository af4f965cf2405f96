"""The console's Types, Schedules and Audit views and their actions: pause or resume a job
type, reset a circuit breaker, enable or disable a schedule, read the audit trail.

Each function is one SQL call through `QueueBackend.rpc`; SQL decides and records every change
in `console_actions` with `actor` (admin: the HTTP worker secret, cli: the command line).
Unknown names come back as UnknownJobType (22QT1) or NotFound (PT404), null arguments as
InvalidInput (22QO1); the limits of the audit page are checked here before the round trip.
"""

from __future__ import annotations

from typing import Any, Literal

from shared.queue import QueueBackend
from shared.queue.errors import InvalidInput

Actor = Literal["admin", "cli", "sql"]
AUDIT_LIMIT_MAX = 1000


def types(backend: QueueBackend) -> dict[str, Any]:
    """{types: [{name, enabled, concurrency_limit, timeout_seconds, max_attempts,
    backoff_base_seconds, backoff_cap_seconds, pending, running}], breakers: [{provider, state,
    consecutive_failures, open_until, last_error}]}."""
    return _call(backend, "console_types", {})


def set_type_enabled(backend: QueueBackend, job_type: str, enabled: bool, actor: Actor) -> dict[str, Any]:
    """Pause (False) or resume (True) `job_type`: {type, enabled}."""
    return _call(backend, "console_set_type_enabled",
                 {"p_type": job_type, "p_enabled": enabled, "p_actor": actor})


def reset_breaker(backend: QueueBackend, provider: str, actor: Actor) -> dict[str, Any]:
    """Close `provider`'s circuit breaker: {provider, state}."""
    return _call(backend, "console_reset_breaker", {"p_provider": provider, "p_actor": actor})


def schedules(backend: QueueBackend) -> dict[str, Any]:
    """{schedules: [{name, cron, type, payload, enabled, next_run_at, last_run_at, last_job_id}]}."""
    return _call(backend, "console_schedules", {})


def set_schedule_enabled(backend: QueueBackend, name: str, enabled: bool, actor: Actor) -> dict[str, Any]:
    """Enable or disable schedule `name`: {name, enabled, next_run_at}."""
    return _call(backend, "console_set_schedule_enabled",
                 {"p_name": name, "p_enabled": enabled, "p_actor": actor})


def audit(backend: QueueBackend, limit: int = 50, before: int | None = None) -> dict[str, Any]:
    """{actions: [{id, at, actor, action, target, affected, detail}]}, newest first; `before`
    is the id of the last action of the previous page."""
    if not 1 <= limit <= AUDIT_LIMIT_MAX:
        raise InvalidInput(f"limit must be 1-{AUDIT_LIMIT_MAX}, got {limit}", sqlstate="22QB1")
    if before is not None and before < 1:
        raise InvalidInput(f"before must be a positive action id, got {before}",
                           hint="pass the id of the last action of the previous page", sqlstate="22QB1")
    return _call(backend, "console_audit_list", {"p_limit": limit, "p_before_id": before})


def _call(backend: QueueBackend, function: str, args: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = backend.rpc(function, args)
    return result
