"""The `queue-worker` command (`queue-worker COMMAND --help` for each).

    queue-worker dev                      the local stack: database, function, scheduler
    queue-worker migrate                  apply the SQL migrations (each one shown with its time)
    queue-worker psql [-c SQL]            psql on the queue's database
    queue-worker enqueue TYPE [JSON]      validate and enqueue a job (JSON, @file.json or - for stdin)
    queue-worker enqueue --file JOBS      enqueue a JSON-lines file of jobs, in chunks
    queue-worker process --once           run one worker invocation here
    queue-worker work                     a resident worker, woken by LISTEN/NOTIFY
    queue-worker stats | health           the queue's numbers / health checks
    queue-worker metrics                  the Prometheus metrics, as ?action=metrics serves them
    queue-worker jobs list | show | cancel | retry          the jobs view
    queue-worker dlq groups | list | replay | delete        the dead letter queue
    queue-worker types list | pause | resume                job types
    queue-worker breakers list | reset                      circuit breakers
    queue-worker schedules list | enable | disable          recurring jobs
    queue-worker audit | overview         the audit trail / the console's Overview
    queue-worker dashboard                the operator console on localhost
    queue-worker bench                    the no-op throughput benchmark

Without DATABASE_URL (or SUPABASE_URL) every command uses the embedded PostgreSQL in
LOCAL_DIR/pgdata. Results go to stdout, progress and errors to stderr.

Exit status: 0 done, 1 failed, 2 bad usage (the error and `Try 'queue-worker CMD --help'.`;
`health` alone uses 1 and 2 for warning and critical), 130 Ctrl-C, 141 when stdout is
closed early (`queue-worker dlq list | head`): the status of a process killed by SIGPIPE,
which is what `cat` or `seq` give there. The Python docs' recipe for this (the signal
module's "Note on SIGPIPE", followed here: stdout dup2'ed onto /dev/null so the exit flush
cannot raise again) exits 1, but 1 means "failed" here.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

import psycopg
from pydantic import ValidationError

from shared.cli.args import UsageError
from shared.cli.parser import build_parser
from shared.cli.usage import usage_error
from shared.config import Settings
from shared.queue.errors import QueueError
from shared.queue.job_input import field_errors

EXIT_BROKEN_PIPE = 128 + 13  # SIGPIPE's number


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
        status = run(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at exit
        return status
    except UsageError as exc:
        usage_error(args.parser.prog, str(exc))
        return 2
    except BrokenPipeError:
        return stdout_closed()
    except KeyboardInterrupt:
        return 130


def stdout_closed() -> int:
    """The reader went away (`| head`): drop what is left of stdout silently."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
