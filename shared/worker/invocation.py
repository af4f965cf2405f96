"""One worker invocation: claim -> run -> settle, in rounds, under a time budget.

No SQL and no HTTP here: the backend does the first, the function/CLI the second.
Contract of `run_invocation`:
- records the invocation (worker_run_start / worker_run_finish with its counts);
- claims only types that have a processor, are enabled, and whose timeout fits in what
  is left of the budget (a job is never started that could overrun the budget); the
  lock lasts the type's timeout, and `ctx.progress` extends it (heartbeat);
- runs each round's jobs concurrently (shared.worker.pool), each within its timeout, and
  never on a lease that is gone: a job that waited since its claim confirms its lock
  with the database first;
- claims as many jobs as can start soon (adaptive unless `batch_size` is given: see
  SLOW_ROUND_SECONDS); settles each round with one call per kind (complete/fail/release),
  in the background (shared.worker.overlap), what finished early every
  SETTLE_EARLY_SECONDS while slower jobs of the round run, and claims again, until
  nothing is ready, the budget is spent, `max_jobs` were claimed, or `stop` is set (then
  jobs not yet started are released without burning their attempt); after quick rounds
  the next claims are made while the current round runs, so the database and the
  processors work at the same time;
- when it fails (the database lost mid-run), gives back every job it holds and did not
  start, at once and without burning their attempt, before raising;
- logs a JSON line per job that did not complete (and per completed job with
  QUEUE_WORKER_JOB_LOGS=all), progress every few seconds, and one line per invocation
  with the exact counts (shared.worker.job_log);
- records an OpenTelemetry span for itself and one per job when an SDK is configured
  (shared.worker.tracing); otherwise none, and its claims read no trace context.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import httpx

from shared.config import Settings
from shared.logs import log_event
from shared.processors import load_registry
from shared.queue.errors import InvalidInput, QueueError
from shared.queue.models import Job
from shared.queue.protocol import JobTypeInfo, QueueBackend
from shared.worker.job_log import JobLog
from shared.worker.overlap import PREFETCH_DEPTH, ClaimRequest, Overlap
from shared.worker.pool import JobPool, Task
from shared.worker.report import InvocationReport, JobOutcome
from shared.worker.runner import ContextParts, Settlement, validate_payload
from shared.worker.tracing import InvocationTrace

# Prefetch the next claim only after rounds this short: a prefetched job waits for the
# current round, and slow rounds would keep it from other workers for that long.
PREFETCH_BELOW_SECONDS = 0.5
# Adaptive claims (batch_size None): the first claim takes as many jobs as can run at once.
# Jobs that run on threads are then claimed no more than the pool's size at a time (one
# never waits in a claim for a thread while its lock runs down); cheap inline jobs double
# the claim after each full, quick round, up to the PostgREST cap; a round slower than
# this brings it back to the pool's size.
SLOW_ROUND_SECONDS = 1.0
MAX_CLAIM = 1000
GIVE_BACK_REASON = "not started: the invocation failed"

__all__ = ["InvocationOptions", "InvocationReport", "JobOutcome", "new_worker_id", "run_invocation"]


@dataclass(frozen=True)
class InvocationOptions:
    """What one invocation may do. `concurrency`: jobs running at once (threads);
    `batch_size`: jobs per claim, or None to adapt it to how fast jobs finish."""

    types: list[str] | None = None
    batch_size: int | None = None
    time_budget_seconds: float = 50.0
    max_jobs: int | None = None
    concurrency: int = 32

    def __post_init__(self) -> None:
        if self.batch_size is not None and not 1 <= self.batch_size <= MAX_CLAIM:
            raise InvalidInput(f"batch_size must be between 1 and 1000, got {self.batch_size}")
        if not self.time_budget_seconds > 0:
            raise InvalidInput(f"time_budget_seconds must be positive, got {self.time_budget_seconds}")
        if self.max_jobs is not None and self.max_jobs < 1:
            raise InvalidInput(f"max_jobs must be at least 1, got {self.max_jobs}")
        if self.concurrency < 1:
            raise InvalidInput(f"concurrency must be at least 1, got {self.concurrency}")
        if self.types is not None and not self.types:
            raise InvalidInput("types is an empty list", hint="pass None to claim every type")


def new_worker_id() -> str:
    """`host:pid:8-hex`, unique per invocation (at most 200 characters, as claims require)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def run_invocation(backend: QueueBackend, settings: Settings, options: InvocationOptions,
                   registry: Mapping[str, ModuleType] | None = None,
                   stop: threading.Event | None = None, worker_id: str | None = None) -> InvocationReport:
    """Drain ready jobs until done, out of budget, or stopped; see the module docstring.
    Raises QueueError subclasses when the database fails; the jobs it held and had not
    started are given back first (those it started expire and cleanup_stuck_jobs retries
    them, unless their settle landed)."""
    processors = dict(load_registry() if registry is None else registry)
    invocation = _Invocation(backend, settings, options, processors, stop or threading.Event(),
                             worker_id or new_worker_id())
    return invocation.run()


class _Invocation:
    def __init__(self, backend: QueueBackend, settings: Settings, options: InvocationOptions,
                 registry: dict[str, ModuleType], stop: threading.Event, worker_id: str) -> None:
        self.backend, self.settings, self.options = backend, settings, options
        self.registry, self.stop, self.worker_id = registry, stop, worker_id
        self.started = time.monotonic()
        self.ends = self.started + options.time_budget_seconds
        self.report = InvocationReport(worker_id=worker_id)
        self.job_log = JobLog(worker_id, settings.queue_worker_job_logs)
        self.infos: dict[str, JobTypeInfo] = {}
        self.claimed = 0
        self._last_round_seconds = float("inf")  # no prefetch before a round shows jobs are quick
        self._claim_size = options.batch_size or min(options.concurrency, MAX_CLAIM)
        self._http: httpx.Client | None = None
        self._http_lock = threading.Lock()
        self._check_types()
        self.trace = InvocationTrace(worker_id, options.types)

    def _check_types(self) -> None:
        unknown = sorted(set(self.options.types or ()) - set(self.registry))
        if unknown:
            raise InvalidInput(f"no processor for job type(s) {', '.join(unknown)}",
                               hint=f"known types: {', '.join(sorted(self.registry))}")

    def run(self) -> InvocationReport:
        with self.trace.active(self.report):
            self.backend.worker_run_start(self.worker_id, self._meta())
            pool = JobPool(self.options.concurrency, self._context_parts(), self.stop, self.ends)
            try:
                self._loop(pool)
            except Exception:
                self._give_back(pool.started)
                raise
            finally:
                pool.close()
                self._finish()
        return self.report

    def _give_back(self, started: list[uuid.UUID]) -> None:
        """After a failure, every job this invocation holds and did not start goes back at
        once, on a fresh connection: the database knows them all, even those of a claim
        whose answer was lost with the connection."""
        try:
            released = self.backend.jobs_release_unstarted(self.worker_id, started, GIVE_BACK_REASON)
        except QueueError as exc:
            log_event(logging.ERROR, f"could not give back the jobs not started: {exc.message}; "
                      "they wait for their locks", worker_id=self.worker_id)
            return
        if released:
            log_event(logging.WARNING, "gave back the jobs not started", worker_id=self.worker_id,
                      jobs=len(released))

    def _meta(self) -> dict[str, Any]:
        return {"types": self.options.types, "batch_size": self.options.batch_size,
                "time_budget_seconds": self.options.time_budget_seconds, "pid": os.getpid()}

    def _loop(self, pool: JobPool) -> None:
        self.infos = self.backend.job_types()
        overlap = Overlap(self.backend, self.worker_id)
        try:
            jobs = self._claim(overlap)
            while jobs:
                jobs = self._round(pool, overlap, jobs)
            self._record(overlap.settled())
        finally:
            overlap.close()

    def _round(self, pool: JobPool, overlap: Overlap, jobs: list[Job]) -> list[Job]:
        """Run `jobs`, hand their settlements to the background, and return the next round.
        After a quick round the next claims are prefetched while this one runs: jobs that
        take little time would otherwise leave the database idle, then Python idle."""
        started = time.monotonic()
        self._prefetch(overlap)
        settled = self._run_round(pool, overlap, jobs)
        self._settle(overlap, settled)
        self._last_round_seconds = time.monotonic() - started
        self._adapt_claim_size(len(jobs), pool.last_round_threaded)
        prefetched = overlap.claimed()
        jobs = self._claimed(prefetched) if prefetched is not None else self._claim(overlap)
        if not jobs and overlap.settling():
            # That claim ran while a settle was in flight; jobs it gives back for an immediate
            # retry (a checkpoint, a release) may be ready once it lands: look once more.
            self._record(overlap.settled())
            jobs = self._claim(overlap)
        return jobs

    def _adapt_claim_size(self, claimed: int, threaded: int) -> None:
        if self.options.batch_size is not None:
            return
        if threaded or self._last_round_seconds > SLOW_ROUND_SECONDS:
            self._claim_size = min(self.options.concurrency, MAX_CLAIM)
        elif claimed >= self._claim_size and self._last_round_seconds < PREFETCH_BELOW_SECONDS:
            self._claim_size = min(self._claim_size * 2, MAX_CLAIM)

    def _prefetch(self, overlap: Overlap) -> None:
        """After a quick round, keep PREFETCH_DEPTH claims ahead. A prefetched job starts
        rounds later, so its type must fit the budget that will be left then."""
        while self._last_round_seconds < PREFETCH_BELOW_SECONDS:
            ahead, jobs_ahead = overlap.prefetching()
            if ahead >= PREFETCH_DEPTH:
                return
            request = self._next_claim(starts_in=self._last_round_seconds * (ahead + 1), ahead=jobs_ahead)
            if request is None:
                return
            overlap.prefetch(request)

    def _claim(self, overlap: Overlap) -> list[Job]:
        request = self._next_claim()
        return self._claimed(overlap.claim_now(request)) if request else []

    def _claimed(self, jobs: list[Job]) -> list[Job]:
        self.claimed += len(jobs)
        return jobs

    def _next_claim(self, starts_in: float = 0.0, ahead: int = 0) -> ClaimRequest | None:
        """The next claim (types that fit the budget, batch within max_jobs), or None to stop.
        `starts_in`: seconds until the claimed jobs would start (a prefetch waits a round);
        `ahead`: jobs that claims in flight may still bring."""
        if self.stop.is_set():
            return None
        left = self.ends - time.monotonic() - starts_in
        wanted = self.options.types or sorted(self.registry)
        types = [t for t in wanted if t in self.infos and self.infos[t].enabled
                 and self.infos[t].timeout_seconds <= left]
        size = self._claim_size
        if self.options.max_jobs is not None:
            size = min(size, self.options.max_jobs - self.claimed - ahead)
        return ClaimRequest(types, size, self.trace.recording) if types and size > 0 else None

    def _run_round(self, pool: JobPool, overlap: Overlap, jobs: list[Job]) -> list[Settlement]:
        tasks: list[Task] = []
        settled: list[Settlement] = []
        recording = self.trace.recording
        for job in jobs:
            module = self.registry[job.type]
            lease_ends = overlap.lease_ends(job)
            span = self.trace.job_started(job) if recording else None
            payload = validate_payload(module, job)
            if isinstance(payload, Settlement):
                settled.append(payload)
            else:
                timeout = float(job.lock_seconds or self.infos[job.type].timeout_seconds)
                tasks.append(Task(job, module, payload, timeout, lease_ends, span=span))

        def settle_early(done: list[Settlement]) -> None:
            self._settle(overlap, done)

        settled.extend(pool.run_round(tasks, settle_early))
        return settled

    def _settle(self, overlap: Overlap, settled: list[Settlement]) -> None:
        self.trace.settling(settled)
        self._record(overlap.settle(settled))

    def _record(self, outcomes: list[JobOutcome]) -> None:
        self.report.add(outcomes)
        self.job_log.outcomes(outcomes, self.report)
        self.trace.settled(outcomes)

    def _finish(self) -> None:
        self.report.duration_seconds = time.monotonic() - self.started
        if self._http is not None:
            self._http.close()
        try:
            self.backend.worker_run_finish(self.worker_id, self.report.counts())
        except QueueError as exc:  # the run still happened; do not hide the original error
            log_event(logging.ERROR, f"could not record the end of the invocation: {exc}",
                      worker_id=self.worker_id)
        log_event(logging.INFO, "invocation finished", worker_id=self.worker_id,
                  duration_seconds=round(self.report.duration_seconds, 3), **self.report.counts(),
                  by_type=self.report.by_type)

    def _context_parts(self) -> ContextParts:
        return ContextParts(worker_id=self.worker_id, settings=self.settings, backend=self.backend,
                            http=self._client, extra={})

    def _client(self) -> httpx.Client:
        """The invocation's shared HTTP client, created when a processor first needs a context."""
        if self._http is not None:  # the common case, without the lock
            return self._http
        with self._http_lock:
            if self._http is None:
                self._http = httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0), follow_redirects=False)
            return self._http
