"""How fast `?action=metrics` and `?action=health` answer on a big queue (a benchmark, not a test).

    python -m shared.bench.observability [--finished 1000000] [--dead-letters 100000]

Fills a scratch database (`--database`, default queue_worker_observability_bench) on the
server of DATABASE_URL, or on the embedded PostgreSQL when it is unset, exactly as
`shared.bench.console_queries` does (its FILL statements: finished jobs and dead letters
over the last 7 days, a ready and a scheduled backlog, running jobs, worker runs), records
the minute stats once, then prints the median milliseconds of
- the two actions in-process, as the function runs them: `shared.api.respond.respond` with
  a bearer token, authentication, the handler, the SQL round trips and the rendering
  (Prometheus text for metrics, the JSON body for health);
- the SQL alone: `metrics_snapshot()` and `health_warnings()`, round trip included.
The target is 100 ms each. The scratch database is dropped afterwards unless --keep.
Nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from shared.api import actions as http_api
from shared.api.respond import respond
from shared.bench import console_queries
from shared.config import Settings
from shared.queue.migrate import migrate

TARGET_MS = console_queries.TARGET_MS
SCRATCH = "queue_worker_observability_bench"
SECRET = "observability-bench-secret"  # noqa: S105 - the token of a throwaway in-process function
SQL_QUERIES = {"metrics_snapshot()": "select public.metrics_snapshot()",
               "health_warnings()": "select public.health_warnings()"}
ACTIONS = ("metrics", "health")


def run(base_url: str, finished: int = 1_000_000, dead_letters: int = 100_000, pending: int = 10_000,
        runs: int = 15, database: str = SCRATCH, keep: bool = False, as_json: bool = False) -> dict[str, Any]:
    """Fill scratch database `database` on `base_url`'s server, time the two actions and their
    SQL, print the results (JSON when `as_json`) and return them."""
    if min(finished, dead_letters, pending) < 0 or runs < 1:
        raise ValueError("counts must be 0 or more and runs at least 1")
    url = console_queries.create_scratch(base_url, database)
    try:
        migrate(url, Settings(_env_file=None).migrations_dir)
        with psycopg.connect(url, autocommit=True) as conn:
            fill_ms = console_queries.fill(conn, {"finished": finished, "dead_letters": dead_letters,
                                                  "pending": pending})
            conn.execute("select queue.record_minute_stats()")
            sql_ms = {label: console_queries.median_ms(conn, query, runs)
                      for label, query in SQL_QUERIES.items()}
        with function_env(url):
            action_ms = {f"?action={name}": median_action_ms(name, runs) for name in ACTIONS}
    finally:
        if not keep:
            console_queries.drop_scratch(base_url, database)
    result = {"database": database, "finished": finished, "dead_letters": dead_letters, "pending": pending,
              "runs": runs, "fill_ms": fill_ms, "median_ms": {**action_ms, **sql_ms}, "target_ms": TARGET_MS}
    print(json.dumps(result, indent=2) if as_json else format_result(result), flush=True)
    return result


@contextmanager
def function_env(url: str) -> Iterator[None]:
    """The environment of a deployed function pointed at `url`, for the in-process actions;
    the previous environment and the function's cached backend are restored afterwards."""
    saved = {name: os.environ.get(name) for name in ("DATABASE_URL", "QUEUE_WORKER_SECRET", "SUPABASE_URL")}
    os.environ.update({"DATABASE_URL": url, "QUEUE_WORKER_SECRET": SECRET})
    os.environ.pop("SUPABASE_URL", None)
    http_api.reset()
    try:
        yield
    finally:
        http_api.reset()
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


def median_action_ms(action: str, runs: int) -> float:
    """Median ms of `runs` GET ?action=`action` answered by `respond`, after one untimed call
    (which opens the connection pool); an answer that is not 200 stops the benchmark."""
    request = http_api.ApiRequest("GET", {"action": [action]})

    def call() -> None:
        answer = respond(request, f"Bearer {SECRET}", "bench")
        if answer.status != 200:
            raise RuntimeError(f"?action={action} answered {answer.status}: {answer.content()[0][:300]!r}")
        answer.content()  # the bytes the entry point sends: JSON encoding or the metrics text

    return median_call_ms(call, runs)


def median_call_ms(call: Callable[[], None], runs: int) -> float:
    call()
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        timings.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(timings), 1)


def format_result(result: dict[str, Any]) -> str:
    lines = [f"metrics and health with {result['finished']:,} finished jobs, {result['dead_letters']:,} dead "
             f"letters, {result['pending']:,} pending (median of {result['runs']} runs):"]
    for label, ms in result["median_ms"].items():
        verdict = "ok" if ms <= TARGET_MS else f"over the {TARGET_MS:.0f} ms target"
        lines.append(f"  {label:<20} {ms:8.1f} ms  {verdict}")
    fill = ", ".join(f"{k} {v / 1000:.1f} s" for k, v in result["fill_ms"].items())
    lines.append(f"  (fill: {fill})")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m shared.bench.observability",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--finished", type=int, default=1_000_000, help="finished jobs (default 1,000,000)")
    parser.add_argument("--dead-letters", type=int, default=100_000, help="dead letters (default 100,000)")
    parser.add_argument("--pending", type=int, default=10_000,
                        help="pending jobs, a tenth scheduled (default 10,000)")
    parser.add_argument("--runs", type=int, default=15,
                        help="timed calls of each; the median counts (default 15)")
    parser.add_argument("--database", default=SCRATCH, help=f"scratch database name (default {SCRATCH})")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database afterwards")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings()
    base_url = settings.database_url or console_queries.embedded_server_url(settings)
    try:
        run(base_url, args.finished, args.dead_letters, args.pending, args.runs, args.database, args.keep,
            args.json)
    except (ValueError, RuntimeError, psycopg.Error) as exc:
        print(f"observability: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
