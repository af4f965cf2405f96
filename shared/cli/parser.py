"""The argparse tree of `queue-worker`: every subcommand, its flags and its help."""

from __future__ import annotations

import argparse
from typing import cast

from shared.cli import admin as cli_admin
from shared.cli import args as cli_args
from shared.cli import console_admin, console_dashboard, console_dlq, console_jobs
from shared.cli import enqueue as cli_enqueue
from shared.cli import jobs as cli_jobs
from shared.cli import work as cli_work
from shared.cli.usage import CliParser
from shared.queue.models import Priority
from shared.worker import resident


def _sub(subparsers: argparse._SubParsersAction[argparse.ArgumentParser], name: str, run: object,
         help_text: str, description: str | None = None) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(name, help=help_text, description=description or help_text)
    parser.set_defaults(run=run, command=name, parser=parser)
    return parser


def add_dev(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    dev = _sub(subparsers, "dev", cli_admin.cmd_dev, "run the local stack (database, function, scheduler)",
               "Start the embedded PostgreSQL (or use DATABASE_URL), migrate, serve the function on "
               "localhost with functions-framework and POST to it on a schedule. Ctrl-C stops everything.")
    dev.add_argument("--port", type=cli_args.port, default=8080, help="port of the function (default 8080)")
    dev.add_argument("--every", type=cli_args.interval, default=60.0, metavar="DURATION",
                     help="how often the scheduler triggers the function: 5s, 2m, 60 (default 60s)")


ENQUEUE_EXAMPLES = """examples:
  queue-worker enqueue email '{"to": "ada@example.com", "template": "welcome",
                              "template_data": {"name": "Ada"}}'
  queue-worker enqueue audio @speech.json --priority high --run-at +5m
  generate-payload | queue-worker enqueue email -
  queue-worker enqueue noop --depends-on 0b7e1d2c-4b8a-4f5e-9c3d-2a1f6e8b9c07 \\
      --idempotency-key nightly-2026-12-01
  queue-worker enqueue --file jobs.jsonl --priority low > ids.txt"""


def add_enqueue(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    enqueue = _sub(subparsers, "enqueue", cli_enqueue.cmd_enqueue,
                   "validate and enqueue a job (or a JSON-lines file of them); prints the id",
                   "Validate the payload with the job type's payload model, then enqueue it and print its "
                   "id. The payload is JSON, @FILE (a JSON file) or - (stdin). With --file, every line of "
                   "a JSON-lines file is a job ({\"type\": ..., \"payload\": {...}, ...}, as ?action=enqueue "
                   "takes); all lines are checked before any is enqueued, the ids are printed in order "
                   "and progress goes to stderr.")
    enqueue.epilog = ENQUEUE_EXAMPLES
    enqueue.add_argument("type", nargs="?", metavar="TYPE",
                         help="job type, e.g. email, audio, payout, analytics, noop")
    enqueue.add_argument("payload", nargs="?", type=cli_args.json_object, metavar="JSON",
                         help="the payload: a JSON object, @FILE or - for stdin (default {})")
    enqueue.add_argument("--payload", dest="payload_option", type=cli_args.json_object, metavar="JSON",
                         help="the payload, as the JSON argument: a JSON object, @FILE or -")
    enqueue.add_argument("--file", metavar="JOBS", help="enqueue every line of this JSON-lines file (- for "
                         "stdin); --priority, --run-at, --max-attempts are defaults for its lines")
    enqueue.add_argument("--priority", choices=[p.value for p in Priority], help="default normal")
    enqueue.add_argument("--run-at", type=cli_args.run_at, metavar="TIME",
                         help="not before: ISO 8601 with an offset (2026-12-01T09:00:00Z) or a delay: "
                         "+30s, +5m, +2h, +1d")
    enqueue.add_argument("--max-attempts", type=cli_args.positive_int, metavar="N",
                         help="attempts before the dead letter queue (default: the type's)")
    enqueue.add_argument("--depends-on", type=cli_args.job_id, action="append", metavar="JOB_ID",
                         help="run only after this job completed (repeatable)")
    enqueue.add_argument("--idempotency-key", metavar="KEY", help="enqueueing the same key again is a no-op")


def add_process(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    process = _sub(subparsers, "process", cli_jobs.cmd_process, "run the worker here",
                   "Claim and run ready jobs with the worker loop. --once: one invocation; otherwise "
                   "one invocation every --every until Ctrl-C (which gives back unstarted jobs).")
    process.epilog = ("examples:\n  queue-worker process --once\n"
                      "  queue-worker process --type email,audio --batch 50 --budget 50s")
    process.add_argument("--once", action="store_true", help="run one invocation and exit")
    process.add_argument("--type", type=cli_args.job_types, metavar="TYPES",
                         help="only these types: email,audio")
    process.add_argument("--batch", type=cli_args.batch_size, metavar="N", help="jobs per claim, 1-1000")
    process.add_argument("--budget", type=cli_args.interval, metavar="DURATION",
                         help="time budget per invocation (default QUEUE_WORKER_TIME_BUDGET_SECONDS)")
    process.add_argument("--max-jobs", type=cli_args.positive_int, metavar="N", help="claim at most N jobs")
    process.add_argument("--every", type=cli_args.interval, default=5.0, metavar="DURATION",
                         help="pause between invocations without --once (default 5s)")
    process.add_argument("--json", action="store_true", help="print each invocation's full report as JSON")


def add_work(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    work = _sub(subparsers, "work", cli_work.cmd_work, "run a resident worker, woken by LISTEN/NOTIFY",
                "A long-running worker for hosts that keep a process (a container, Cloud Run with minimum "
                "instances, a VM). It runs invocations back to back and, when nothing is ready, sleeps until "
                "a NOTIFY on queue_worker_jobs says jobs arrived (or --poll-interval passes: the backstop "
                "for delayed jobs and retries). Every minute it also recovers stuck jobs and enqueues due "
                "schedules. Behind a transaction-mode pooler (port 6543, PgBouncer) LISTEN cannot work: it "
                "says so and polls; use the direct or session connection string. SIGTERM or Ctrl-C: stop "
                "claiming, finish running jobs, give back the rest, exit 0; a second signal exits at once.")
    work.add_argument("--types", "--type", dest="types", type=cli_args.job_types, metavar="TYPES",
                      help="only these types: email,audio (default all); their NOTIFYs alone wake it")
    work.add_argument("--concurrency", type=cli_args.positive_int, default=32, metavar="N",
                      help="jobs running at once (default 32)")
    work.add_argument("--batch", type=cli_args.batch_size, metavar="N",
                      help="jobs per claim, 1-1000 (default QUEUE_WORKER_DEFAULT_BATCH, else adaptive)")
    work.add_argument("--budget", type=cli_args.interval, default=resident.DEFAULT_BUDGET_SECONDS,
                      metavar="DURATION",
                      help="length of one invocation; types whose timeout exceeds it are never claimed "
                      "(default 1h)")
    work.add_argument("--poll-interval", type=cli_args.interval, default=resident.DEFAULT_POLL_SECONDS,
                      metavar="DURATION",
                      help="look for ready jobs at least this often even without a NOTIFY: delayed jobs "
                      "and retries are picked up within it (default 2s)")


def add_reports(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _sub(subparsers, "stats", cli_jobs.cmd_stats, "print queue_stats() as JSON")
    health = _sub(subparsers, "health", cli_jobs.cmd_health,
                  "print the health checks; exit 0 ok, 1 warning, 2 critical or down",
                  "Print every health check (value, threshold, hint). On a terminal: the failing checks "
                  "as lines and a summary; piped or with --json: the whole report as JSON. Exit 0 when "
                  "all is ok, 1 on a warning, 2 when critical or the database is unreachable "
                  "(Nagios' convention). Thresholds: job_types.max_* and queue.settings health_*.")
    health.add_argument("--json", action="store_true", help="print the report as JSON even on a terminal")
    _sub(subparsers, "metrics", cli_jobs.cmd_metrics, "print the Prometheus metrics (as ?action=metrics)",
         "Print the metrics ?action=metrics serves, in Prometheus text format, computed from the database "
         "now (metrics_snapshot()). Exit 1 when the database could not be read.")


def add_admin(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _sub(subparsers, "migrate", cli_admin.cmd_migrate, "apply the SQL migrations (safe to re-run)",
         "Apply supabase/migrations to DATABASE_URL, or to the embedded PostgreSQL when it is unset. Each "
         "migration is shown on stderr with its time once applied; the summary goes to stdout.")
    psql = _sub(subparsers, "psql", cli_admin.cmd_psql, "open psql on the queue's database",
                "Open psql on DATABASE_URL, or on the embedded PostgreSQL (started and migrated if need "
                "be); exits with psql's status. One statement: "
                "queue-worker psql -c 'select * from queue_stats()'")
    psql.add_argument("-c", "--command", dest="commands", action="append", default=[], metavar="SQL",
                      help="run this and exit (repeatable), as psql -c")
    psql.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="FILE",
                      help="run the statements in FILE and exit (repeatable), as psql -f")
    psql.add_argument("--no-psqlrc", action="store_true", help="do not read ~/.psqlrc")
    bench = _sub(subparsers, "bench", cli_admin.cmd_bench, "benchmark enqueue and drain of no-op jobs",
                 "Enqueue and drain no-op jobs through the real worker loop (a separate embedded database "
                 "unless DATABASE_URL is set) and print rates and latencies; each phase is named on stderr "
                 "as it starts, the results go to stdout.")
    bench.epilog = ("examples:\n  queue-worker bench --jobs 1000 --runs 1\n"
                    "  queue-worker bench --json > bench.json")
    bench.add_argument("--jobs", type=cli_args.positive_int, help="jobs per drain run (default 10000)")
    bench.add_argument("--runs", type=cli_args.positive_int, help="drain runs; the median counts (default 3)")
    bench.add_argument("--batch", type=cli_args.batch_size, help="jobs per claim, 1-1000 (default 1000)")
    bench.add_argument("--workers", type=cli_args.positive_int, help="worker processes at once (default 1)")
    bench.add_argument("--json", action="store_true", help="machine-readable results")


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="queue-worker", description="A Postgres job queue drained by stateless "
                       "HTTP-triggered functions. `queue-worker COMMAND --help` for each command.")
    parser.set_defaults(run=None, command="", parser=parser)
    # Every parser below is a CliParser (argparse makes subparsers of the parent's class).
    subparsers = cast("argparse._SubParsersAction[argparse.ArgumentParser]",
                      parser.add_subparsers(title="commands", metavar="COMMAND"))
    for add in (add_dev, add_admin, add_enqueue, add_process, add_work, add_reports, console_jobs.add_parsers,
                console_dlq.add_parsers, console_admin.add_parsers, console_dashboard.add_parsers):
        add(subparsers)
    return parser
