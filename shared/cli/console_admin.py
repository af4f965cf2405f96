"""`queue-worker types | breakers | schedules | audit`: the console's admin views and actions
from a terminal. Wired into `shared.cli.parser.build_parser`.

    queue-worker types list | pause TYPE | resume TYPE
    queue-worker breakers list | reset PROVIDER
    queue-worker schedules list | enable NAME | disable NAME
    queue-worker audit [--limit N] [--before ID]
    queue-worker overview                 the Overview view: per-type counts, recent invocations

Each prints a table (or JSON with --json); changes are recorded in console_actions with actor
cli. Unknown names and bad values fail through QueueError (exit 1, the message and a hint).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from shared.cli import args as cli_args
from shared.cli.jobs import backend_for, print_json
from shared.config import Settings
from shared.console import admin, overview
from shared.queue import QueueBackend

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
TYPE_COLUMNS = ("name", "enabled", "pending", "running", "concurrency_limit", "timeout_seconds",
                "max_attempts", "backoff_base_seconds", "backoff_cap_seconds")
BREAKER_COLUMNS = ("provider", "state", "consecutive_failures", "open_until", "last_error")
SCHEDULE_COLUMNS = ("name", "enabled", "cron", "type", "next_run_at", "last_run_at", "last_job_id")
AUDIT_COLUMNS = ("id", "at", "actor", "action", "target", "affected")
OVERVIEW_COLUMNS = ("type", "enabled", "ready", "scheduled", "running", "completed_1h", "failed_1h",
                    "dead_lettered_1h", "dead_letters", "oldest_ready_age_seconds", "run_ms_p50",
                    "run_ms_p95")
RUN_COLUMNS = ("worker_id", "started_at", "duration_ms", "claimed", "completed", "retried", "dead_lettered")
STALE_COLUMNS = ("id", "type", "locked_by", "locked_until")


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """Rows as aligned text columns under a header; null is '-', objects are compact JSON."""
    def cell(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, dict | list):
            return json.dumps(value, separators=(",", ":"))
        return str(value)

    cells = [[cell(row.get(column)) for column in columns] for row in rows]
    widths = [max([len(column)] + [len(line[i]) for line in cells]) for i, column in enumerate(columns)]
    lines = [[column.upper() for column in columns], *cells]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
                     for line in lines)


def show(result: dict[str, Any], as_json: bool, sections: Sequence[tuple[str, Sequence[str]]]) -> int:
    """Print `result` as JSON, or each (key, columns) section of it as a table."""
    if as_json:
        print_json(result)
        return 0
    for number, (key, columns) in enumerate(sections):
        if number:
            print()
        if len(sections) > 1:
            print(f"{key}:")
        print(table(result[key], columns) if result[key] else f"(no {key})")
    return 0


def _run(call: Callable[[QueueBackend, argparse.Namespace], dict[str, Any]],
         sections: Sequence[tuple[str, Sequence[str]]] = ()) -> Callable[[argparse.Namespace, Settings], int]:
    """A command: one service call; its answer as tables (`sections`) or as key: value lines."""
    def command(args: argparse.Namespace, settings: Settings) -> int:
        with backend_for(settings) as backend:
            result = call(backend, args)
        if sections or args.json:
            return show(result, args.json, sections)
        print(", ".join(f"{key}: {'-' if value is None else value}" for key, value in result.items()))
        return 0
    return command


def _group(subparsers: Subparsers, name: str, help_text: str, commands: str) -> Subparsers:
    parser = subparsers.add_parser(name, help=help_text, description=help_text)
    parser.set_defaults(run=None, command=name, parser=parser)
    return parser.add_subparsers(title=f"{name} commands", metavar=commands)


def _command(group: Subparsers, prefix: str, name: str, run: Callable[[argparse.Namespace, Settings], int],
             help_text: str, description: str | None = None) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=description or help_text)
    parser.set_defaults(run=run, command=f"{prefix} {name}", parser=parser)
    parser.add_argument("--json", action="store_true", help="print the answer as JSON")
    return parser


def add_types(subparsers: Subparsers) -> None:
    group = _group(subparsers, "types", "list job types with their settings; pause or resume one",
                   "{list,pause,resume}")
    _command(group, "types", "list", _run(lambda b, a: admin.types(b), [("types", TYPE_COLUMNS)]),
             "every job type: enabled, pending, running, concurrency, timeout, attempts, backoff")
    pause = _command(group, "types", "pause",
                     _run(lambda b, a: admin.set_type_enabled(b, a.type, False, "cli")),
                     "stop claiming a type's jobs (running ones finish)",
                     "Pause a job type: workers claim none of its jobs until it is resumed; jobs already "
                     "running finish. Recorded in the audit trail (queue-worker audit).")
    resume = _command(group, "types", "resume",
                      _run(lambda b, a: admin.set_type_enabled(b, a.type, True, "cli")),
                      "claim a paused type's jobs again", "Resume a paused job type: its ready jobs are "
                      "claimed by the next invocation. Recorded in the audit trail.")
    for parser in (pause, resume):
        parser.add_argument("type", metavar="TYPE",
                            help="the job type, e.g. email (see: queue-worker types list)")


def add_breakers(subparsers: Subparsers) -> None:
    group = _group(subparsers, "breakers", "list circuit breakers; reset one", "{list,reset}")
    _command(group, "breakers", "list", _run(lambda b, a: admin.types(b), [("breakers", BREAKER_COLUMNS)]),
             "every provider's circuit breaker: state, consecutive failures, open until, last error")
    reset = _command(group, "breakers", "reset",
                     _run(lambda b, a: admin.reset_breaker(b, a.provider, "cli")),
                     "close a provider's breaker now", "Close a provider's circuit breaker (failures back "
                     "to 0) so jobs call the provider again at once. Recorded in the audit trail.")
    reset.add_argument("provider", metavar="PROVIDER", help="the provider, e.g. resend (see: queue-worker "
                       "breakers list)")


def add_schedules(subparsers: Subparsers) -> None:
    group = _group(subparsers, "schedules", "list recurring jobs; enable or disable one",
                   "{list,enable,disable}")
    _command(group, "schedules", "list",
             _run(lambda b, a: admin.schedules(b), [("schedules", SCHEDULE_COLUMNS)]),
             "every schedule: cron (UTC), job type, enabled, next and last run")
    enable = _command(group, "schedules", "enable",
                      _run(lambda b, a: admin.set_schedule_enabled(b, a.name, True, "cli")),
                      "enqueue a schedule's job again at its cron slots",
                      "Enable a schedule: its next run is the cron's next slot from now (slots missed while "
                      "it was disabled are not enqueued). Recorded in the audit trail.")
    disable = _command(group, "schedules", "disable",
                       _run(lambda b, a: admin.set_schedule_enabled(b, a.name, False, "cli")),
                       "stop enqueueing a schedule's job", "Disable a schedule: nothing is enqueued for "
                       "it until it is enabled. Recorded in the audit trail.")
    for parser in (enable, disable):
        parser.add_argument("name", metavar="NAME",
                            help="the schedule's name (see: queue-worker schedules list)")


def add_audit(subparsers: Subparsers) -> None:
    audit = subparsers.add_parser("audit", help="what operators did, newest first",
                                  description="The audit trail: every console action (pause, resume, reset, "
                                  "enable, disable, dead-letter replays and deletes, cancels, retries) with "
                                  "who (admin: HTTP, cli: this command, sql: a direct call), what and how "
                                  "many.")
    listing = _run(lambda b, a: admin.audit(b, a.limit, a.before), [("actions", AUDIT_COLUMNS)])
    audit.set_defaults(run=listing, command="audit", parser=audit)
    audit.add_argument("--limit", type=cli_args.batch_size, default=50, metavar="N",
                       help="how many, 1-1000 (default 50)")
    audit.add_argument("--before", type=cli_args.positive_int, metavar="ID",
                       help="only actions older than this id (the last id of the previous page)")
    audit.add_argument("--json", action="store_true", help="print them as JSON")


def add_overview(subparsers: Subparsers) -> None:
    view = subparsers.add_parser("overview", help="the console's Overview: counts per type, recent runs",
                                 description="What the dashboard's Overview shows: per type the ready, "
                                 "scheduled and running jobs, the last hour's completions, failures and dead "
                                 "letters, the oldest ready job's age and p50/p95 run time; the recent "
                                 "invocations and stale claims. --json adds the per-minute series.")
    view.set_defaults(run=_run(lambda b, a: overview.overview(b), [
        ("types", OVERVIEW_COLUMNS), ("recent_runs", RUN_COLUMNS), ("stale_claims", STALE_COLUMNS)]),
        command="overview", parser=view)
    view.add_argument("--json", action="store_true", help="print the whole answer (with series) as JSON")


def add_parsers(subparsers: Subparsers) -> None:
    """Add this module's subcommands to the top-level parser."""
    for add in (add_types, add_breakers, add_schedules, add_audit, add_overview):
        add(subparsers)
