"""`queue-worker dlq groups | list | replay | delete`: the dead letter queue from a terminal.

A bulk replay or delete first prints how many letters it will touch (dead_letters_count),
asks on a terminal (or needs --yes), then runs dead_letters_act batch by batch, one short
transaction each, with progress on stderr: the letters that failed after the count are left
alone. `dlq replay ID` with a single id replays it at once and prints the new job's id.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

from shared.cli import args as cli_args
from shared.cli.args import UsageError
from shared.cli.jobs import backend_for, print_json
from shared.config import Settings
from shared.console import dead_letters

PAGE_MAX = 200
_DAYS = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*d\s*$")
_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def time_or_ago(text: str) -> str:
    """An ISO 8601 time (UTC without offset), or a duration meaning that long ago (`30m`, `2h`, `7d`)."""
    days = _DAYS.match(text)
    try:
        ago = float(days.group(1)) * 86400 if days else cli_args.duration(text)
        return (datetime.now(UTC) - timedelta(seconds=ago)).isoformat()
    except argparse.ArgumentTypeError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2026-12-01T09:00:00Z) or how long ago (30m, 2h, 7d)"
        ) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).isoformat()


def letter_line(letter: dict[str, Any]) -> str:
    error = (letter.get("last_error") or "").replace("\n", " ")
    error = error if len(error) <= 60 else error[:57] + "..."
    replayed = f" replayed as {letter['replayed_job_id']}" if letter.get("replayed_job_id") else ""
    failed = datetime.fromisoformat(letter["failed_at"])
    return (f"{letter['id']}  {failed:%Y-%m-%d %H:%M:%S}  {letter['type']:<10} "
            f"attempts {letter['attempts']}/{letter['max_attempts']}  {error}{replayed}")


def cmd_groups(args: argparse.Namespace, settings: Settings) -> int:
    with backend_for(settings) as backend:
        listed = dead_letters.groups(backend, args.type, args.limit)["groups"]
    if args.json:
        print_json(listed)
        return 0
    if not listed:
        print("no dead letters waiting for a replay")
    for group in listed:
        last = datetime.fromisoformat(group["last_seen"])
        print(f"{group['count']:>7}  {group['type']:<10} last {last:%Y-%m-%d %H:%M:%S}  "
              f"{group['fingerprint']}")
    return 0


def list_filter(args: argparse.Namespace) -> dict[str, Any]:
    given = {"type": args.type, "fingerprint": args.fingerprint, "q": args.search, "from": args.since,
             "to": args.until}
    return {key: value for key, value in given.items() if value is not None}


def cmd_list(args: argparse.Namespace, settings: Settings) -> int:
    """Newest first, `--limit` of them (pages of 200 under the hood)."""
    filter_, after = list_filter(args), None
    letters: list[dict[str, Any]] = []
    with backend_for(settings) as backend:
        while len(letters) < args.limit:
            page = dead_letters.page(backend, filter_, after, min(PAGE_MAX, args.limit - len(letters)))
            letters += page["dead_letters"]
            after = page["next_after"]
            if after is None:
                break
    if args.json:
        print_json(letters)
        return 0
    if not letters:
        print("no dead letters match" if filter_ else "the dead letter queue is empty")
    for letter in letters:
        print(letter_line(letter))
    return 0


def selector_of(args: argparse.Namespace) -> dict[str, Any]:
    """Exactly one of IDs, --group FINGERPRINT [--type] or --all [--type --search --since --until]."""
    chosen = [bool(args.ids), args.group is not None, args.all]
    if sum(chosen) != 1:
        raise UsageError("give dead letter IDs, --group FINGERPRINT or --all (exactly one of them)")
    narrowing = [flag for flag, value in (("--search", args.search), ("--since", args.since),
                                          ("--until", args.until)) if value is not None]
    if args.ids:
        if args.type or narrowing:
            raise UsageError(f"{(['--type'] if args.type else narrowing)[0]} does not go with IDs")
        return {"ids": [str(i) for i in dict.fromkeys(args.ids)]}
    if args.group is not None:
        if narrowing:
            raise UsageError(f"{narrowing[0]} goes with --all, not --group")
        return {"fingerprint": args.group} | ({"type": args.type} if args.type else {})
    given = {"type": args.type, "q": args.search, "from": args.since, "to": args.until}
    return {"filter": {key: value for key, value in given.items() if value is not None}}


def confirmed(verb: str, n: int, yes: bool) -> bool | None:
    """True to go on; False when the person said no; None when it cannot ask (not a terminal)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return None
    answer = input(f"{verb.capitalize()} {n} dead letter{'s' * (n != 1)}? [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def cmd_act(args: argparse.Namespace, settings: Settings) -> int:
    action = args.dlq_action
    verb, done = ("replay", "replayed") if action == "replay" else ("delete", "deleted")
    selector = selector_of(args)
    if action == "replay" and len(selector.get("ids", ())) == 1 and not args.yes:
        return replay_one(args, settings)
    with backend_for(settings) as backend:
        counted = dead_letters.count(backend, selector)
        n = counted["count"]
        print(f"{n} dead letter{'s' * (n != 1)} to {verb} (failed at or before {counted['as_of']})"
              f"{skipped(counted)}")
        if n == 0:
            return 0
        answer = confirmed(verb, n, args.yes)
        if answer is None:
            print(f"queue-worker dlq {verb}: error: not confirmed: stdin is not a terminal, so it "
                  f"cannot ask; pass --yes to {verb} these {n} dead letters", file=sys.stderr)
            return 2
        if not answer:
            print("nothing done", file=sys.stderr)
            return 1

        result = dead_letters.act(backend, action, selector, counted["as_of"], "cli",
                                  progress=running_count(done, n), batch=args.batch)
    print(f"{done} {result.affected} dead letter{'s' * (result.affected != 1)} "
          f"(console action {result.action_id})")
    if result.remaining:
        print(f"{result.remaining} still match but another operator holds them; run it again later",
              file=sys.stderr)
    return 0


def running_count(done: str, total: int) -> Callable[[dict[str, Any]], None]:
    """A progress line on stderr after each batch: `replayed 1,000 of 2,345 (1,345 left)`."""
    so_far = 0

    def progress(step: dict[str, Any]) -> None:
        nonlocal so_far
        so_far += step["affected"]
        print(f"{done} {so_far:,} of {total:,} ({step['remaining']:,} left)", file=sys.stderr, flush=True)

    return progress


def skipped(counted: dict[str, Any]) -> str:
    parts = [f"{counted[key]} {label}" for key, label in (("not_found", "not found"),
                                                          ("already_replayed", "already replayed"))
             if counted.get(key)]
    return f"; of the ids {', '.join(parts)}" if parts else ""


def replay_one(args: argparse.Namespace, settings: Settings) -> int:
    """One id: replay it now (as retry_dead_letter_job) and print the new job's id."""
    with backend_for(settings) as backend:
        print(backend.dead_letter_replay(args.ids[0]))
    return 0


def _sub(subparsers: _Subparsers, name: str, run: object, help_text: str,
         description: str) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=description)
    parser.set_defaults(run=run, command=f"dlq {name}", parser=parser)
    return parser


def add_groups(commands: _Subparsers) -> None:
    groups = _sub(commands, "groups", cmd_groups, "dead letters grouped by error fingerprint",
                  "Dead letters not yet replayed, grouped by (error fingerprint, type), largest group first. "
                  "A fingerprint is the error with ids, emails, urls and numbers replaced by placeholders; "
                  "pass it to `dlq replay --group` or `dlq list --fingerprint`.")
    groups.add_argument("--type", help="only this job type")
    groups.add_argument("--limit", type=cli_args.batch_size, default=50,
                        help="how many groups, 1-1000 (default 50)")
    groups.add_argument("--json", action="store_true", help="print them as JSON")


def add_list(commands: _Subparsers) -> None:
    listing = _sub(commands, "list", cmd_list, "newest dead letters first",
                   "Dead letters, newest first (replayed ones too, marked 'replayed as').")
    listing.add_argument("--type", help="only this job type")
    listing.add_argument("--fingerprint", help="only this error fingerprint (from dlq groups)")
    listing.add_argument("--search", metavar="TEXT", help="only errors containing TEXT (any case)")
    listing.add_argument("--since", type=time_or_ago, metavar="TIME",
                         help="failed at or after: ISO 8601 or 2h (ago)")
    listing.add_argument("--until", type=time_or_ago, metavar="TIME",
                         help="failed before: ISO 8601 or 30m (ago)")
    listing.add_argument("--limit", type=cli_args.batch_size, default=50,
                         help="how many, 1-1000 (default 50)")
    listing.add_argument("--json", action="store_true", help="print them as JSON")


def add_act(commands: _Subparsers, action: str) -> None:
    verb = "replay as new pending jobs" if action == "replay" else "delete"
    parser = _sub(commands, action, cmd_act, f"{verb}: IDs, a --group or --all",
                  f"{action.capitalize()} dead letters not yet replayed"
                  + (" (each becomes a new pending job)" if action == "replay" else "")
                  + ": the IDs given, a --group (an error "
                  "fingerprint from `dlq groups`, optionally of one --type) or --all (narrowed by --type, "
                  "--search, --since, --until). It prints how many, asks for confirmation on a terminal "
                  "(without one it needs --yes), then works in batches, one short transaction each, "
                  "with progress on stderr; letters that fail after the count are left alone."
                  + (" A single ID without --yes is replayed at once and the new job's id printed."
                     if action == "replay" else ""))
    parser.set_defaults(dlq_action=action)
    parser.epilog = (f"examples:\n  queue-worker dlq {action} 7d9c1e0a-3f4b-4c2d-8e6f-1a2b3c4d5e6f\n"
                     f"  queue-worker dlq {action} --group 'smtp <n> try <n>' --type email --yes\n"
                     f"  queue-worker dlq {action} --all --since 2h --search timeout")
    parser.add_argument("ids", nargs="*", type=cli_args.uuid, metavar="ID",
                        help="dead letter ids (from dlq list)")
    parser.add_argument("--group", metavar="FINGERPRINT", help="every letter of this error fingerprint")
    parser.add_argument("--all", action="store_true", help="every letter (narrow with the flags below)")
    parser.add_argument("--type", help="only this job type (with --group or --all)")
    parser.add_argument("--search", metavar="TEXT", help="with --all: only errors containing TEXT")
    parser.add_argument("--since", type=time_or_ago, metavar="TIME", help="with --all: failed at or after")
    parser.add_argument("--until", type=time_or_ago, metavar="TIME", help="with --all: failed before")
    parser.add_argument("--yes", "-y", action="store_true",
                        help="do not ask (needed when stdin is not a terminal)")
    parser.add_argument("--batch", type=cli_args.batch_size, default=dead_letters.DEFAULT_BATCH,
                        help=f"letters per transaction, 1-1000 (default {dead_letters.DEFAULT_BATCH})")


def add_parsers(subparsers: _Subparsers) -> None:
    """`dlq` and its commands on the top-level parser."""
    dlq = subparsers.add_parser("dlq", help="the dead letter queue: groups, list, replay, delete",
                                description="The dead letter queue: jobs that failed permanently or ran out "
                                "of attempts. Start with `dlq groups`.")
    dlq.set_defaults(run=None, command="dlq", parser=dlq)
    commands = dlq.add_subparsers(title="dlq commands", metavar="{groups,list,replay,delete}")
    add_groups(commands)
    add_list(commands)
    add_act(commands, "replay")
    add_act(commands, "delete")
