"""`queue-worker migrate | dev | psql | bench`: setting up, running locally, measuring."""

from __future__ import annotations

import argparse
import subprocess

from shared.bench.benchmark import run_bench
from shared.cli.progress import Progress
from shared.config import Settings
from shared.local.database import describe, embedded_url, migrate_database, sql_database_url
from shared.local.postgres import psql_binary
from shared.local.stack import DevOptions, run_dev
from shared.queue.migrate import migrations_in

BENCH_DATABASE = "queue_worker_bench"  # embedded: keep benchmark jobs out of the dev queue


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    """Apply what is missing to DATABASE_URL (or the embedded server). Each migration is shown
    on stderr as it runs (a terminal) and with its time once applied; the summary goes to stdout."""
    url = sql_database_url(settings)
    with Progress() as progress:
        applied = migrate_database(url, settings, lambda m: progress.update(f"applying {m.name} ..."),
                                   lambda m, seconds: progress.line(f"applied {m.name} ({seconds:.2f} s)"))
    total = len(migrations_in(settings.migrations_dir))
    if applied:
        print(f"applied {len(applied)} migration(s) to {describe(url)}; {total} in all")
    else:
        print(f"{describe(url)} is up to date ({total} migrations)")
    return 0


def cmd_dev(args: argparse.Namespace, settings: Settings) -> int:
    return run_dev(settings, DevOptions(port=args.port, every=args.every))


def cmd_psql(args: argparse.Namespace, settings: Settings) -> int:
    """psql on DATABASE_URL or the embedded database (started, and migrated, if need be);
    exits with psql's status. The embedded server stays up while psql runs."""
    url = sql_database_url(settings)
    if not settings.database_url:
        migrate_database(url, settings)
    command = [psql_binary(), "--set", "ON_ERROR_STOP=1", *(["--no-psqlrc"] if args.no_psqlrc else []),
               *(part for sql in args.commands for part in ("-c", sql)),
               *(part for path in args.files for part in ("-f", path)), url]
    return subprocess.call(command)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    """Run shared.bench.benchmark against DATABASE_URL, or a separate embedded database: each
    phase named on stderr as it starts, the drain's count on a terminal, results on stdout."""
    url = settings.database_url or embedded_url(settings, BENCH_DATABASE)
    migrate_database(url, settings)
    given = {"jobs": args.jobs, "runs": args.runs, "batch_size": args.batch, "workers": args.workers}
    chosen = {name: value for name, value in given.items() if value is not None}
    with Progress() as progress:
        run_bench(url, as_json=args.json, phase=progress.line,
                  progress=lambda label, done, total: progress.update(f"{label}: {done:,}/{total:,} jobs"),
                  **chosen)
    return 0
