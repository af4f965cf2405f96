"""`queue-worker jobs list | show | cancel | retry`: the console's Jobs view from a terminal.
Wired into `shared.cli.parser.build_parser`.

    queue-worker jobs list [--type T] [--status S] [--priority P] [--owner UUID] [--since WHEN]
                           [--until WHEN] [--search TEXT] [--limit N] [--after SEQ] [--json]
    queue-worker jobs show ID [--json]
    queue-worker jobs cancel ID
    queue-worker jobs retry ID

SQL validates the filter (console_jobs) and decides what a cancel or retry may do; a refusal
is a QueueError (exit 1 with the message and a hint). Cancels and retries are recorded in
console_actions with actor cli.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeAlias

from shared.cli import args as cli_args
from shared.cli.console_admin import table
from shared.cli.jobs import backend_for, print_json
from shared.config import Settings
from shared.console import jobs
from shared.queue.models import Priority

if TYPE_CHECKING:
    Subparsers: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

LIST_COLUMNS = ("id", "seq", "type", "status", "priority", "attempts", "created_at", "run_at", "last_error")
HISTORY_COLUMNS = ("at", "from_status", "to_status", "worker_id", "note")
ERROR_COLUMNS = ("attempt", "at", "worker_id", "retryable", "error")
REF_COLUMNS = ("id", "type", "status")
WHEN_HELP = "ISO 8601 (2026-01-06, 2026-01-06T09:00:00Z; UTC when no offset) or an age: 30m, 2h"


def when(text: str) -> str:
    """An ISO 8601 time, or a duration meaning that long ago; as ISO text for console_jobs."""
    try:
        moment = datetime.now(UTC) - timedelta(seconds=cli_args.duration(text))
    except argparse.ArgumentTypeError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a time: use {WHEN_HELP}") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


def page_limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= jobs.LIMIT_MAX:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer from 1 to {jobs.LIMIT_MAX}")
    return value


def short_time(value: Any) -> Any:
    """`2026-01-06T09:00:00.123+00:00` as `2026-01-06 09:00:00` (times are UTC)."""
    return value[:19].replace("T", " ") if isinstance(value, str) and len(value) >= 19 else value


def list_row(job: dict[str, Any]) -> dict[str, Any]:
    error = job.get("last_error") or None
    return job | {"attempts": f"{job['attempts']}/{job['max_attempts']}",
                  "created_at": short_time(job["created_at"]), "run_at": short_time(job["run_at"]),
                  "last_error": error if error is None or len(error) <= 60 else error[:59] + "…"}


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """One page of jobs, newest first, and the --after that shows the next."""
    filters = {"type": args.type, "status": args.status, "priority": args.priority,
               "owner": None if args.owner is None else str(args.owner), "from": args.since,
               "to": args.until, "q": args.search}
    with backend_for(settings) as backend:
        page = jobs.list_jobs(backend, {k: v for k, v in filters.items() if v is not None}, args.after,
                              args.limit)
    if args.json:
        print_json(page)
        return 0
    print(table([list_row(job) for job in page["jobs"]], LIST_COLUMNS) if page["jobs"]
          else "no jobs match these filters")
    if page["next_after"] is not None:
        print(f"\nmore: add --after {page['next_after']} for the next page")
    return 0


def summary_lines(job: dict[str, Any]) -> list[str]:
    message = job.get("progress_message")
    progress = f"{job.get('progress')}%" + (f" {message}" if message else "")
    facts = [("id", job["id"]), ("type", job["type"]), ("status", job["status"]),
             ("priority", job["priority"]),
             ("attempts", f"{job['attempts']} of {job['max_attempts']}"), ("progress", progress),
             ("owner", job.get("owner_id")), ("created", short_time(job.get("created_at"))),
             ("run at", short_time(job.get("run_at"))), ("started", short_time(job.get("started_at"))),
             ("finished", short_time(job.get("finished_at"))), ("locked by", job.get("locked_by")),
             ("locked until", short_time(job.get("locked_until"))),
             ("idempotency key", job.get("idempotency_key")), ("last error", job.get("last_error"))]
    return [f"{name + ':':<17}{'-' if value is None else value}" for name, value in facts]


def section(title: str, body: str) -> None:
    print(f"\n{title}:")
    print("\n".join("  " + line for line in body.splitlines()))


def rows_or(rows: Sequence[dict[str, Any]], columns: Sequence[str], empty: str) -> str:
    shown = [{k: short_time(v) if k == "at" else v for k, v in row.items()} for row in rows]
    return table(shown, columns) if rows else empty


def cmd_show(args: argparse.Namespace, settings: Settings) -> int:
    """Everything about one job: facts, payload, result, errors, timeline, dependencies."""
    with backend_for(settings) as backend:
        detail = jobs.job(backend, args.id)
    if args.json:
        print_json(detail)
        return 0
    job = detail["job"]
    print("\n".join(summary_lines(job)))
    section("payload", json.dumps(job.get("payload"), indent=2))
    section("result", json.dumps(job.get("result"), indent=2))
    errors = job.get("errors") or []
    section(f"errors ({len(errors)})", rows_or(errors, ERROR_COLUMNS, "none"))
    shown = len(detail["history"])
    more = "" if shown == detail["history_total"] else f", the newest {shown} of {detail['history_total']}"
    section(f"status timeline (oldest first{more})", rows_or(detail["history"], HISTORY_COLUMNS, "none"))
    section("depends on", rows_or(detail["depends_on"], REF_COLUMNS, "nothing"))
    section("dependents", rows_or(detail["dependents"], REF_COLUMNS, "none"))
    letter = detail["dead_letter"]
    if letter is not None:
        replay = f", replayed as job {letter['replayed_job_id']}" if letter.get("replayed_job_id") else ""
        section("dead letter", f"{letter['id']}, failed at {short_time(letter['failed_at'])}{replay}")
    return 0


def cmd_cancel(args: argparse.Namespace, settings: Settings) -> int:
    with backend_for(settings) as backend:
        result = jobs.cancel(backend, args.id, "cli")
    dependents = result["dependents_cancelled"]
    print(f"cancelled job {result['id']} (was {result['from_status']})"
          + (f" and {dependents} job(s) that depended on it" if dependents else ""))
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings) -> int:
    with backend_for(settings) as backend:
        result = jobs.retry(backend, args.id, "cli")
    if result.get("dead_letter_id"):
        print(f"replayed dead letter {result['dead_letter_id']} as new job {result['id']}")
    else:
        print(f"job {result['id']} runs now (it was due at {short_time(result['was_run_at'])})")
    return 0


def _command(group: Subparsers, name: str, run: Callable[[argparse.Namespace, Settings], int],
             help_text: str, description: str) -> argparse.ArgumentParser:
    parser = group.add_parser(name, help=help_text, description=description)
    parser.set_defaults(run=run, command=f"jobs {name}", parser=parser)
    return parser


def add_list(group: Subparsers) -> None:
    listing = _command(group, "list", cmd_list, "jobs newest first, filtered, a page at a time",
                       "List jobs newest first (dead-lettered ones: queue-worker dlq list). Filters combine; "
                       "each page ends with the --after that shows the next one.")
    listing.epilog = ("examples:\n  queue-worker jobs list --status ready --type email\n"
                      "  queue-worker jobs list --since 1h --search timeout --json | jq '.jobs[].id'")
    listing.add_argument("--type", metavar="TYPE", help="only this job type, e.g. email")
    listing.add_argument("--status", choices=jobs.STATUSES,
                         help="ready: pending and due; scheduled: pending, run_at in the future")
    listing.add_argument("--priority", choices=[p.value for p in Priority])
    listing.add_argument("--owner", type=cli_args.uuid, metavar="UUID", help="only this owner's jobs")
    listing.add_argument("--since", type=when, metavar="WHEN", help=f"created at or after: {WHEN_HELP}")
    listing.add_argument("--until", type=when, metavar="WHEN", help=f"created before: {WHEN_HELP}")
    listing.add_argument("--search", metavar="TEXT",
                         help="text in the payload or the last error, ignoring case (1-200 characters)")
    listing.add_argument("--limit", type=page_limit, default=jobs.LIMIT_DEFAULT, metavar="N",
                         help=f"jobs per page, 1-{jobs.LIMIT_MAX} (default {jobs.LIMIT_DEFAULT})")
    listing.add_argument("--after", type=cli_args.positive_int, metavar="SEQ",
                         help="the next page: the value the previous page printed")
    listing.add_argument("--json", action="store_true", help="print the page as JSON ({jobs, next_after})")


def add_parsers(subparsers: Subparsers) -> None:
    """Add this module's subcommands to the top-level parser."""
    parser = subparsers.add_parser("jobs", help="list, show, cancel or retry jobs",
                                   description="The queue's jobs: list and filter them, show one, cancel or "
                                   "retry one (recorded in the audit trail: queue-worker audit).")
    parser.set_defaults(run=None, command="jobs", parser=parser)
    group = parser.add_subparsers(title="jobs commands", metavar="{list,show,cancel,retry}")
    add_list(group)
    show = _command(group, "show", cmd_show, "everything about one job",
                    "One job: its facts, payload, result, progress, attempts and errors, its status "
                    "timeline, the jobs it depends on and those that depend on it, and its dead letter. "
                    "Works for dead-lettered jobs too.")
    show.add_argument("--json", action="store_true", help="print it as JSON")
    cancel = _command(group, "cancel", cmd_cancel, "cancel a pending or running job and its dependents",
                      "Cancel a pending or running job and, transitively, the pending jobs that depend on "
                      "it. "
                      "A running job's worker finds its lease gone and its result is discarded. Refused "
                      "(exit 1) for a finished or dead-lettered job.")
    retry = _command(group, "retry", cmd_retry, "run a waiting job now, or replay a dead-lettered one",
                     "A pending job waiting for its run_at (scheduled, or backing off after a failure) runs "
                     "now; a dead-lettered job is replayed as a new job (its id is printed). Refused "
                     "(exit 1) "
                     "for running, finished or already due jobs, saying why.")
    for command in (show, cancel, retry):
        command.add_argument("id", type=cli_args.uuid, metavar="ID", help="the job's id (from jobs list)")
