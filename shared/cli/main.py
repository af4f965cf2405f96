"""The `queue-worker` command.

    queue-worker dev                      the local stack: database, function, scheduler
    queue-worker migrate                  apply the SQL migrations
    queue-worker enqueue TYPE [JSON]      validate and enqueue a job
    queue-worker process --once           run one worker invocation here
    queue-worker work                     a resident worker, woken by LISTEN/NOTIFY
    queue-worker stats | health           the queue's numbers / health checks
    queue-worker dlq list | replay ID     the dead letter queue
    queue-worker bench                    the no-op throughput benchmark

Without DATABASE_URL (or SUPABASE_URL) every command uses the embedded PostgreSQL in
LOCAL_DIR/pgdata. Exit status: 0 done, 1 failed, 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import psycopg
from pydantic import ValidationError

from shared.cli.args import UsageError
from shared.cli.parser import build_parser
from shared.config import Settings
from shared.queue.errors import QueueError
from shared.queue.job_input import field_errors


def fail(command: str, message: str, hint: str | None = None) -> int:
    print(f"queue-worker {command}: error: {message}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    return 1


def run(args: argparse.Namespace) -> int:
    """Run the chosen command, turning known failures into a message and status 1."""
    try:
        return int(args.run(args, Settings()))
    except QueueError as exc:
        return fail(args.command, exc.message, exc.hint)
    except psycopg.Error as exc:
        return fail(args.command, f"database error: {str(exc).strip()}",
                    "check DATABASE_URL and that the server is up")
    except ValidationError as exc:  # name each setting, never echo its value
        problems = "; ".join(f"{error['field'].upper()}: {error['message']}" for error in field_errors(exc))
        return fail(args.command, f"invalid configuration: {problems}", "check the environment and .env")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        args.parser.print_help(sys.stderr)
        return 2
    try:
        return run(args)
    except UsageError as exc:
        args.parser.print_usage(sys.stderr)
        print(f"queue-worker {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
