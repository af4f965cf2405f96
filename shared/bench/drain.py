"""One drain run of the benchmark: `workers` processes run `run_invocation` on the backlog.

The worker path is the production one; `TimedBackend` only adds a stopwatch around
`jobs_claim`. With several workers each is a separate process (spawned before the clock
starts), because Python threads share one interpreter lock.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from queue import Empty
from typing import Any
from uuid import UUID

import psycopg

from shared.config import Settings
from shared.logs import LOGGER_NAME
from shared.queue.errors import QueueError
from shared.queue.models import Job
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation

CHILD_START_SECONDS = 60.0  # a spawned worker imports everything and connects within this
PROGRESS_EVERY_SECONDS = 0.5


class TimedBackend(PostgresBackend):
    """PostgresBackend that records each claim's round trip (ms) in `claim_ms`."""

    def __init__(self, database_url: str, **kwargs: Any) -> None:
        super().__init__(database_url, **kwargs)
        self.database_url = database_url
        self.claim_ms: list[float] = []

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        started = time.perf_counter()
        jobs = super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                  with_traceparent=with_traceparent)
        if jobs:  # the last, empty claim of each invocation is not a batch
            self.claim_ms.append((time.perf_counter() - started) * 1000)
        return jobs


@dataclass
class DrainResult:
    rate: float
    completed: int
    claim_ms: list[float] = field(default_factory=list)
    wait_ms: list[float] = field(default_factory=list)


def drain(url: str, ids: Sequence[UUID], batch_size: int, workers: int,
          progress: Callable[[int], None] | None) -> DrainResult:
    """Drain the pending noop backlog `ids`; their enqueue -> start waits come from the database."""
    stop_polling = _poll_progress(url, len(ids), progress)
    try:
        seconds, completed, claim_ms = (_drain_here(url, batch_size) if workers == 1
                                        else _drain_in_processes(url, batch_size, workers))
    finally:
        stop_polling()
    return DrainResult(completed / seconds, completed, claim_ms, _waits(url, ids))


def drain_with_defaults(url: str, ids: Sequence[UUID]) -> DrainResult:
    """What a scheduler's plain `POST /` does, back to back until the backlog is gone:
    `run_invocation` with the shipped settings (claim size, budget), every type, and the
    log lines production writes at INFO (formatted and written, to /dev/null here)."""
    settings = Settings(database_url=url, _env_file=None)
    defaults = InvocationOptions(batch_size=settings.queue_worker_default_batch,
                                 time_budget_seconds=settings.queue_worker_time_budget_seconds)
    backend = PostgresBackend(url)
    completed = 0
    try:
        with _production_logs():
            started = time.perf_counter()
            while completed < len(ids):
                report = run_invocation(backend, settings, defaults)
                completed += report.completed
                if not report.claimed:
                    break
            seconds = time.perf_counter() - started
    finally:
        backend.close()
    return DrainResult(completed / seconds, completed, [], _waits(url, ids))


@contextmanager
def _production_logs() -> Iterator[None]:
    """INFO job lines, formatted and written as in production, to /dev/null."""
    logger = logging.getLogger(LOGGER_NAME)
    level, stderr = logger.level, sys.stderr
    with open(os.devnull, "w") as devnull:
        logger.setLevel(logging.INFO)
        sys.stderr = devnull
        try:
            yield
        finally:
            sys.stderr = stderr
            logger.setLevel(level)


def options(batch_size: int) -> InvocationOptions:
    return InvocationOptions(types=["noop"], batch_size=batch_size, time_budget_seconds=3600)


def _drain_here(url: str, batch_size: int) -> tuple[float, int, list[float]]:
    backend = TimedBackend(url)
    try:
        started = time.perf_counter()
        report = run_invocation(backend, Settings(database_url=url, _env_file=None), options(batch_size))
        return time.perf_counter() - started, report.completed, backend.claim_ms
    finally:
        backend.close()


def _drain_in_processes(url: str, batch_size: int, workers: int) -> tuple[float, int, list[float]]:
    context = multiprocessing.get_context("spawn")
    go, ready, results = context.Event(), context.Queue(), context.Queue()
    procs = [context.Process(target=_child, args=(url, batch_size, go, ready, results), daemon=True)
             for _ in range(workers)]
    for proc in procs:
        proc.start()
    try:
        for _ in procs:
            ready.get(timeout=CHILD_START_SECONDS)
        started = time.perf_counter()
        go.set()
        outcomes = [results.get(timeout=3600) for _ in procs]
        seconds = time.perf_counter() - started
    except Empty as exc:
        raise QueueError("a benchmark worker process did not start or finish in time") from exc
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.kill()
    return seconds, sum(n for n, _ in outcomes), [ms for _, claims in outcomes for ms in claims]


def _child(url: str, batch_size: int, go: Any, ready: Any, results: Any) -> None:
    """A worker process: connect, say ready, wait for the start, drain, report."""
    logging.getLogger(LOGGER_NAME).setLevel(logging.WARNING)
    backend = TimedBackend(url)
    settings = Settings(database_url=url, _env_file=None)
    backend.ping()
    ready.put(True)
    go.wait()
    report = run_invocation(backend, settings, options(batch_size))
    results.put((report.completed, backend.claim_ms))
    backend.close()


def pending_noop(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("select count(*) from job_queue "
                           "where type = 'noop' and status = 'pending'").fetchone()
    return int(row[0]) if row else 0


def _waits(url: str, ids: Sequence[UUID]) -> list[float]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("select extract(epoch from started_at - created_at) * 1000 from job_queue "
                            "where id = any(%s) and started_at is not null", (list(ids),)).fetchall()
    return [float(row[0]) for row in rows]


def _poll_progress(url: str, total: int, progress: Callable[[int], None] | None) -> Callable[[], None]:
    """Report claimed-so-far every half second from a side connection; returns the stopper."""
    if progress is None:
        return lambda: None
    done = threading.Event()

    def poll() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            while not done.wait(PROGRESS_EVERY_SECONDS):
                left = conn.execute("select count(*) from job_queue where type = 'noop' "
                                    "and status = 'pending'").fetchone()
                progress(max(0, total - int(left[0] if left else 0)))
        progress(total)

    thread = threading.Thread(target=poll, name="bench-progress", daemon=True)
    thread.start()

    def stop() -> None:
        done.set()
        thread.join(5)
    return stop
