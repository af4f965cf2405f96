"""`queue-worker bench`: enqueue and drain no-op jobs through the real worker loop.

Against the direct-Postgres path (PostgresBackend), it measures:
- enqueue rate one job per call (enqueue_jobs with one element) and in bulk (10,000 a call);
- drain rate: N `noop` jobs run by `run_invocation` (`workers` processes at once), the
  median over `runs` runs, each on a freshly enqueued backlog;
- claim round trip (get_next_job of `batch_size`, fetch included), median and p95;
- the same drain with shipped defaults: what a plain `POST /` does (the settings' claim
  size and budget, every type), invocation after invocation, with the log output
  production has at INFO (to /dev/null), next to the tuned figure;
- pickup latency per wake-up mode (shared/bench/pickup.py), enqueue commit -> start on
  the database's clock, median, p95 and p99: the worker invoked right after the enqueue,
  and a resident worker woken by NOTIFY; and the backlog wait in the drain runs.
Per-job log lines are switched off in the tuned runs (thousands of lines a second would
measure the terminal). It refuses to run while other `noop` jobs are pending, and
deletes the jobs it made. Not a test: nothing here asserts a speed.
"""

from __future__ import annotations

import json
import logging
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg

from shared.bench import pickup
from shared.bench.drain import DrainResult, drain, drain_with_defaults, pending_noop
from shared.config import Settings
from shared.logs import LOGGER_NAME
from shared.queue.errors import QueueError
from shared.queue.models import NewJob
from shared.worker.invocation import InvocationOptions, run_invocation

BULK_CHUNK = 10_000  # enqueue_jobs takes at most this many per call
SINGLE_MAX = 1_000  # one-at-a-time enqueues measured (they are slow by nature)
PICKUP_TRIALS = 100


Phase = Callable[[str], None]
Count = Callable[[str, int, int], None]


def run_bench(database_url: str, jobs: int = 10_000, runs: int = 3, batch_size: int = 1000, workers: int = 1,
              as_json: bool = False, phase: Phase | None = None,
              progress: Count | None = None) -> dict[str, Any]:
    """Run the benchmark, print its results (JSON on stdout when `as_json`, else a summary),
    and return them. `phase` hears the name of each phase as it starts, `progress` (label,
    done, total) the drain runs' progress; without them a bar on stderr, unless `as_json`.
    Raises QueueError for bad arguments or a database that is not ready (not migrated, or
    noop jobs already pending)."""
    _check(jobs, runs, batch_size, workers)
    settings = Settings(database_url=database_url, _env_file=None)
    with _quiet_job_logs(), _backend(database_url) as backend:
        if pending_noop(database_url):
            raise QueueError("noop jobs are already pending in this database; the benchmark drains only "
                             "its own", hint="drain them first (queue-worker process --once --type noop) "
                             "or use another database")
        progress = progress or (None if as_json else _progress)
        result = _measure(backend, settings, database_url, jobs, runs, batch_size, workers, progress,
                          phase or (lambda text: None))
    print(json.dumps(result, indent=2) if as_json else format_results(result), flush=True)
    return result


def _check(jobs: int, runs: int, batch_size: int, workers: int) -> None:
    if jobs < 1 or runs < 1 or workers < 1:
        raise QueueError(f"jobs, runs and workers must be at least 1 (got {jobs}, {runs}, {workers})")
    if not 1 <= batch_size <= 1000:
        raise QueueError(f"batch size must be between 1 and 1000, got {batch_size}")


def _measure(backend: Any, settings: Settings, url: str, jobs: int, runs: int, batch_size: int, workers: int,
             progress: Count | None, phase: Phase) -> dict[str, Any]:
    phase(f"enqueue one job per call ({min(jobs, SINGLE_MAX):,} jobs)")
    single = _enqueue_one_at_a_time(backend, settings, min(jobs, SINGLE_MAX))
    trials = min(jobs, PICKUP_TRIALS)
    phase(f"pickup latency, worker invoked at once ({trials} trials)")
    pickups = {"at_once": _pickup(url, pickup.invoked_at_once(backend, settings, trials))}
    phase(f"pickup latency, resident worker woken by NOTIFY ({trials} trials)")
    resident_ids, notified_by = pickup.resident(backend, url, trials)
    pickups["resident"] = _pickup(url, resident_ids)
    drains: list[DrainResult] = []
    defaults: list[DrainResult] = []
    bulk_rates: list[float] = []
    for run in range(1, runs + 1):
        phase(f"drain run {run}/{runs}: enqueue {jobs:,} in bulk, drain them ({workers} worker(s), "
              f"batch {batch_size})")
        started = time.perf_counter()
        ids = _enqueue_bulk(backend, jobs)
        bulk_rates.append(jobs / (time.perf_counter() - started))
        drains.append(drain(url, ids, batch_size, workers, _label(progress, run, runs, jobs)))
        _delete(url, ids)
        phase(f"drain run {run}/{runs} with shipped defaults")
        ids = _enqueue_bulk(backend, jobs)
        defaults.append(drain_with_defaults(url, ids))
        _delete(url, ids)
    result = _results(url, jobs, runs, batch_size, workers, single, bulk_rates, pickups, drains)
    result["drain_shipped_defaults"] = _drain_summary(defaults)
    result["pickup_resident_ms"]["notify_sent_by"] = notified_by
    return result


def _label(progress: Count | None, run: int, runs: int, jobs: int) -> Callable[[int], None] | None:
    if progress is None:
        return None
    return lambda done: progress(f"drain run {run}/{runs}", done, jobs)


def _enqueue_one_at_a_time(backend: Any, settings: Settings, count: int) -> float:
    started = time.perf_counter()
    ids = [backend.jobs_enqueue([NewJob(type="noop", payload={"i": i})])[0] for i in range(count)]
    rate = count / (time.perf_counter() - started)
    run_invocation(backend, settings, _options(1000))
    _delete(backend.database_url, ids)
    return rate


def _options(batch_size: int) -> InvocationOptions:
    return InvocationOptions(types=["noop"], batch_size=batch_size, time_budget_seconds=600)


def _enqueue_bulk(backend: Any, count: int) -> list[UUID]:
    ids: list[UUID] = []
    for start in range(0, count, BULK_CHUNK):
        chunk = [NewJob(type="noop", payload={"i": i}) for i in range(start, min(count, start + BULK_CHUNK))]
        ids.extend(backend.jobs_enqueue(chunk))
    return ids


def _pickup(url: str, ids: list[UUID]) -> list[float]:
    """The jobs' enqueue -> start waits (ms); the jobs are deleted."""
    waits = pickup.waits_ms(url, ids)
    _delete(url, ids)
    return waits


def _delete(url: str, ids: Sequence[UUID]) -> None:
    """Remove the benchmark's jobs and their history (so runs start alike)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("delete from job_status_events where job_id = any(%s)", (list(ids),))
        conn.execute("delete from job_queue where id = any(%s)", (list(ids),))


def _results(url: str, jobs: int, runs: int, batch_size: int, workers: int, single: float,
             bulk: list[float], pickups: dict[str, list[float]], drains: list[DrainResult]) -> dict[str, Any]:
    claims = [ms for d in drains for ms in d.claim_ms]
    waits = [ms for d in drains for ms in d.wait_ms]
    return {
        "database": _describe(url), "jobs": jobs, "runs": runs, "batch_size": batch_size, "workers": workers,
        "enqueue": {"one_at_a_time_jobs_per_s": round(single),
                    "bulk_jobs_per_s": round(statistics.median(bulk))},
        "drain": _drain_summary(drains),
        "claim_round_trip_ms": _summary(claims),
        "pickup_latency_ms": _summary(pickups["at_once"]),
        "pickup_resident_ms": _summary(pickups["resident"]),
        "backlog_wait_ms": _summary(waits),
    }


def _drain_summary(drains: list[DrainResult]) -> dict[str, Any]:
    return {"jobs_per_s_median": round(statistics.median(d.rate for d in drains)),
            "jobs_per_s_runs": [round(d.rate) for d in drains],
            "completed_runs": [d.completed for d in drains]}


def _summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"median": 0.0, "p95": 0.0, "p99": 0.0, "samples": 0}
    ordered = sorted(values)

    def rank(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))], 3)
    return {"median": round(statistics.median(ordered), 3), "p95": rank(0.95), "p99": rank(0.99),
            "samples": len(ordered)}


def _describe(url: str) -> str:
    """host:port/dbname of the URL, without user or password."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    return f"{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info.get('dbname', '')}"


def format_results(r: dict[str, Any]) -> str:
    """The human summary of run_bench's dict."""
    claim, wait = r["claim_round_trip_ms"], r["backlog_wait_ms"]
    at_once, resident, shipped = r["pickup_latency_ms"], r["pickup_resident_ms"], r["drain_shipped_defaults"]
    return "\n".join([
        f"queue-worker bench: {r['jobs']} noop jobs x {r['runs']} runs, batch {r['batch_size']}, "
        f"{r['workers']} worker process(es), {r['database']}",
        f"  enqueue, one per call   {r['enqueue']['one_at_a_time_jobs_per_s']:>10,} jobs/s",
        f"  enqueue, bulk           {r['enqueue']['bulk_jobs_per_s']:>10,} jobs/s (median)",
        f"  drain                   {r['drain']['jobs_per_s_median']:>10,} jobs/s (median of "
        f"{', '.join(f'{x:,}' for x in r['drain']['jobs_per_s_runs'])})",
        f"  drain, shipped defaults {shipped['jobs_per_s_median']:>10,} jobs/s (median of "
        f"{', '.join(f'{x:,}' for x in shipped['jobs_per_s_runs'])}; as a plain POST /, INFO logs)",
        f"  claim round trip        {claim['median']:>10} ms median, {claim['p95']} ms p95 "
        f"({claim['samples']} claims)",
        f"  pickup, invoked at once {at_once['median']:>10} ms median, {at_once['p99']} ms p99 "
        f"({at_once['samples']} trials: enqueue, then run_invocation)",
        f"  pickup, resident worker {resident['median']:>10} ms median, {resident['p99']} ms p99 "
        f"({resident['samples']} trials: queue-worker work woken by NOTIFY, sent by the "
        f"{resident['notify_sent_by']})",
        f"  backlog wait in drain   {wait['median']:>10} ms median, {wait['p95']} ms p95",
    ])


def _progress(label: str, done: int, total: int) -> None:
    width = 30
    filled = int(width * done / total) if total else width
    end = "\n" if done >= total else ""
    sys.stderr.write(f"\r{label} [{'#' * filled}{' ' * (width - filled)}] {done:,}/{total:,}{end}")
    sys.stderr.flush()


@contextmanager
def _quiet_job_logs() -> Iterator[None]:
    logger = logging.getLogger(LOGGER_NAME)
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


@contextmanager
def _backend(url: str) -> Iterator[Any]:
    from shared.bench.drain import TimedBackend

    backend = TimedBackend(url)
    try:
        yield backend
    finally:
        backend.close()
