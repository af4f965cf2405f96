"""The health report behind `?action=health` and `queue-worker health`.

Status is `ok` when every check passes, `degraded` when the database answers but
something needs attention, `down` when the database cannot be reached. Severity ranks the
same report for alerting: `ok`, `warning` (needs a look) or `critical` (jobs stop or the
database suffers); `queue-worker health` exits 0, 1 or 2 by it. Most checks are computed by
`health_warnings()` in SQL against thresholds in `job_types` and `queue.settings`; each
says its value, threshold and a one-line hint, so an alert can say why.
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

Severity = str  # "ok" | "warning" | "critical", as health_warnings() ranks them
SEVERITY_RANK: dict[str, int] = {"ok": 0, "warning": 1, "critical": 2}


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


def warning_checks(warnings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """health_warnings()'s checks keyed by name, `name:subject` when it has one (a job type,
    a table): {"backlog_age:email": {ok, severity, value, threshold, critical_above, unit,
    hint, ...}}. The thresholds and severities are the database's; nothing is judged here."""
    checks: dict[str, dict[str, Any]] = {}
    for check in warnings.get("checks", []):
        subject = check.get("type") or check.get("table")
        name = f"{check['check']}:{subject}" if subject else str(check["check"])
        facts = {key: value for key, value in check.items() if key != "check"}
        checks[name] = {"ok": check.get("severity") == "ok", **facts}
    return checks


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


def database_checks(backend: QueueBackend, settings: Settings) -> tuple[dict[str, dict[str, Any]], list[Any]]:
    """Round trip, migrations, health_warnings() (the checks the database computes against
    its thresholds), the circuit breakers and held payouts; and what could not be checked.
    A failing query (say, a database never migrated) fails its check; only
    DatabaseUnavailable escapes."""
    checks: dict[str, dict[str, Any]] = {"database": {"ok": True, "round_trip_ms": round(backend.ping(), 3)}}
    not_checked: list[Any] = []
    try:
        checks["migrations"] = migrations_check(backend, settings)
        warnings = backend.rpc("health_warnings", {})
        checks.update(warning_checks(warnings))
        not_checked = list(warnings.get("not_checked") or [])
        checks["circuit_breakers"] = breakers_check(backend)
        checks["payouts_on_hold"] = payouts_check(backend)
    except DatabaseUnavailable:
        raise
    except QueueError as exc:
        checks.setdefault("migrations", {"ok": False, "error": exc.message,
                                         "hint": "run `queue-worker migrate`"})
        checks["queue"] = {"ok": False, "error": exc.message}
    return checks, not_checked


# The severity of a failing check computed here rather than by health_warnings(): what stops
# jobs from running is critical, what needs a look is a warning.
FAILING_SEVERITY: dict[str, Severity] = {
    "database": "critical", "migrations": "critical", "queue": "critical", "processors": "critical",
    "circuit_breakers": "warning", "payouts_on_hold": "warning",
}


def with_severity(checks: dict[str, dict[str, Any]]) -> Severity:
    """Give every check a severity (the database's own, or FAILING_SEVERITY's when it fails)
    and return the worst."""
    worst: Severity = "ok"
    for name, check in checks.items():
        if "severity" not in check:
            check["severity"] = "ok" if check["ok"] else FAILING_SEVERITY.get(name, "warning")
        if SEVERITY_RANK[check["severity"]] > SEVERITY_RANK[worst]:
            worst = check["severity"]
    return worst


def health_report(backend: QueueBackend, settings: Settings,
                  registry: Mapping[str, ModuleType]) -> dict[str, Any]:
    """{status: ok|degraded|down, severity: ok|warning|critical, checks: {...}, not_checked: [...]};
    `down` (critical) only when the database is unreachable."""
    try:
        checks, not_checked = database_checks(backend, settings)
        try:
            waiting: dict[str, int] | None = unconfigured_waiting(backend, registry, settings)
        except DatabaseUnavailable:
            raise
        except QueueError:  # not migrated yet: the migrations check already says so
            waiting = None
    except DatabaseUnavailable as exc:
        return down_report(exc.message, registry, settings)
    checks["processors"] = processors_check(registry, settings, waiting)
    severity = with_severity(checks)
    status = "ok" if all(check["ok"] for check in checks.values()) else "degraded"
    return {"status": status, "severity": severity, "checks": checks, "not_checked": not_checked}


def down_report(reason: str, registry: Mapping[str, ModuleType], settings: Settings) -> dict[str, Any]:
    """The report when the database cannot be reached."""
    checks = {"database": {"ok": False, "error": reason},
              "processors": processors_check(registry, settings)}
    with_severity(checks)
    return {"status": "down", "severity": "critical", "checks": checks, "not_checked": []}
