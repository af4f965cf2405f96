"""The health report behind `?action=health` and `queue-worker health`.

Status is `ok` when every check passes, `degraded` when the database answers but
something needs attention, `down` when the database cannot be reached. Each check
says what it measured, so an alert can say why.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from shared.config import Settings
from shared.processors.circuit_breaker import breaker_states
from shared.queue.errors import DatabaseUnavailable, QueueError
from shared.queue.migrate import migrations_in
from shared.queue.protocol import QueueBackend

# Thresholds past which a check fails. A job waiting 5 minutes means no worker is
# keeping up with a once-a-minute tick; a worker silent for 5 minutes has stopped.
OLDEST_PENDING_MAX_SECONDS = 300.0
LAST_RUN_MAX_AGE_SECONDS = 300.0
DEAD_LETTERS_MAX_PER_HOUR = 10


def processor_check(module: ModuleType, settings: Settings) -> dict[str, Any]:
    """{configured, missing}: the env vars a processor lacks (none if it cannot tell)."""
    missing_settings = getattr(module, "missing_settings", None)
    missing = list(missing_settings(settings)) if callable(missing_settings) else []
    return {"configured": not missing, "missing": missing}


def processors_check(registry: Mapping[str, ModuleType], settings: Settings,
                     waiting: Mapping[str, int] | None = None) -> dict[str, Any]:
    """Each processor, configured or missing what. One that is not configured fails the
    check only when jobs of its type wait (`waiting`, pending jobs per type): a fresh setup
    without a Stripe key is healthy until someone enqueues a payout."""
    types = {name: processor_check(module, settings) for name, module in sorted(registry.items())}
    blocked = []
    for name, check in types.items():
        if check["configured"]:
            continue
        check["status"] = "not configured"
        if waiting is not None:
            check["waiting"] = int(waiting.get(name, 0))
            if check["waiting"]:
                blocked.append(name)
                needs = ", ".join(check["missing"])
                check["hint"] = f"set {needs} where the worker runs: these jobs cannot run"
    ok = not blocked if waiting is not None else all(t["configured"] for t in types.values())
    return {"ok": ok, "types": types, **({"blocked": blocked} if blocked else {})}


def unconfigured_waiting(backend: QueueBackend, registry: Mapping[str, ModuleType],
                         settings: Settings) -> dict[str, int]:
    """Pending jobs of each type whose processor is not configured (no query when none is)."""
    unconfigured = [name for name, module in registry.items()
                    if not processor_check(module, settings)["configured"]]
    if not unconfigured:
        return {}
    counts: dict[str, int] = backend.rpc("pending_jobs_by_type", {"p_types": sorted(unconfigured)}) or {}
    return counts


def migrations_check(backend: QueueBackend, settings: Settings) -> dict[str, Any]:
    """Every migration file's version is recorded in the database."""
    expected = [m.version for m in migrations_in(settings.migrations_dir)]
    applied = set(backend.schema_versions())
    missing = [version for version in expected if version not in applied]
    return {"ok": not missing, "expected": len(expected), "applied": len(applied), "missing": missing,
            **({"hint": "run `queue-worker migrate`"} if missing else {})}


def queue_checks(facts: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The checks read from queue_health()."""
    stuck = int(facts.get("stuck_jobs") or 0)
    oldest = float(facts.get("oldest_pending_age_seconds") or 0)
    dead = int(facts.get("dead_letters_last_1h") or 0)
    return {
        "stuck_jobs": {"ok": stuck == 0, "count": stuck},
        "oldest_pending": {"ok": oldest <= OLDEST_PENDING_MAX_SECONDS, "age_seconds": round(oldest, 3),
                           "max_seconds": OLDEST_PENDING_MAX_SECONDS,
                           "pending_ready": int(facts.get("pending_ready") or 0)},
        "dead_letters": {"ok": dead <= DEAD_LETTERS_MAX_PER_HOUR, "last_hour": dead,
                         "max_per_hour": DEAD_LETTERS_MAX_PER_HOUR},
        "last_worker_run": last_run_check(facts),
        "unanswered_kicks": kicks_check(facts),
    }


def kicks_check(facts: Mapping[str, Any]) -> dict[str, Any]:
    """pg_net kicks of the last hour that no invocation answered in time: the worker URL,
    its secret or the function itself is failing, and jobs wait for the tick."""
    kicks = facts.get("unanswered_kicks") or {}
    count = int(kicks.get("count") or 0)
    check: dict[str, Any] = {"ok": count == 0, "count": count, "answer_seconds": kicks.get("answer_seconds"),
                             "kicks": kicks.get("kicks", [])}
    if count:
        check["hint"] = ("check worker_url and the worker secret, and what the function answered "
                         "(net._http_response by request_id)")
    return check


def last_run_check(facts: Mapping[str, Any]) -> dict[str, Any]:
    run = facts.get("last_worker_run")
    if not run:
        return {"ok": False, "run": None, "message": "no worker has run yet"}
    age = float(facts.get("seconds_since_last_worker_run") or 0)
    return {"ok": age <= LAST_RUN_MAX_AGE_SECONDS, "run": run, "seconds_ago": round(age, 3),
            "max_seconds": LAST_RUN_MAX_AGE_SECONDS}


def breakers_check(backend: QueueBackend) -> dict[str, Any]:
    """Each provider's circuit breaker; an open one means its jobs are being put back."""
    providers = breaker_states(backend)
    open_now = sorted(name for name, state in providers.items() if state.get("state") == "open")
    return {"ok": not open_now, "open": open_now, "providers": providers}


def payouts_check(backend: QueueBackend) -> dict[str, Any]:
    """Payouts held because their Stripe outcome is unknown: money an operator must see."""
    held: list[dict[str, Any]] = backend.rpc("payouts_on_hold", {})
    check: dict[str, Any] = {"ok": not held, "on_hold": len(held), "payouts": held}
    if held:
        check["hint"] = ("their ledger entries stay reserved until Stripe is asked by transfer group; "
                         "set STRIPE_SECRET_KEY where they run or settle them by hand")
    return check


def database_checks(backend: QueueBackend, settings: Settings) -> dict[str, dict[str, Any]]:
    """Round trip, migrations, the queue's own facts, the circuit breakers and held payouts. A failing
    query (say, a database never migrated) fails its check; only DatabaseUnavailable escapes."""
    checks: dict[str, dict[str, Any]] = {"database": {"ok": True, "round_trip_ms": round(backend.ping(), 3)}}
    try:
        checks["migrations"] = migrations_check(backend, settings)
        checks.update(queue_checks(backend.queue_health()))
        checks["circuit_breakers"] = breakers_check(backend)
        checks["payouts_on_hold"] = payouts_check(backend)
    except DatabaseUnavailable:
        raise
    except QueueError as exc:
        checks.setdefault("migrations", {"ok": False, "error": exc.message,
                                         "hint": "run `queue-worker migrate`"})
        checks["queue"] = {"ok": False, "error": exc.message}
    return checks


def health_report(backend: QueueBackend, settings: Settings,
                  registry: Mapping[str, ModuleType]) -> dict[str, Any]:
    """{status: ok|degraded|down, checks: {...}}; `down` only when the database is unreachable."""
    try:
        checks = database_checks(backend, settings)
        try:
            waiting: dict[str, int] | None = unconfigured_waiting(backend, registry, settings)
        except DatabaseUnavailable:
            raise
        except QueueError:  # not migrated yet: the migrations check already says so
            waiting = None
    except DatabaseUnavailable as exc:
        return down_report(exc.message, registry, settings)
    checks["processors"] = processors_check(registry, settings, waiting)
    status = "ok" if all(check["ok"] for check in checks.values()) else "degraded"
    return {"status": status, "checks": checks}


def down_report(reason: str, registry: Mapping[str, ModuleType], settings: Settings) -> dict[str, Any]:
    """The report when the database cannot be reached."""
    return {"status": "down", "checks": {"database": {"ok": False, "error": reason},
                                         "processors": processors_check(registry, settings)}}
