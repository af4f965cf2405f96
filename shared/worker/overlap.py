"""Keeping the database busy while processors run.

A round's settle calls and the next round's claim go to the database from two
background threads (each on its own pooled connection), so that on a multi-core host the
database completes round N and claims round N+1 while Python runs round N+1's
processors. Up to PREFETCH_DEPTH claims run ahead (while one is being parsed in Python,
the database is already selecting the next), rounds are taken in claim order, and up to
SETTLE_DEPTH rounds settle at once (their jobs differ); outcomes are reported in round order.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass

from shared.logs import log_event
from shared.queue.errors import QueueError
from shared.queue.models import Job, Release
from shared.queue.protocol import QueueBackend
from shared.worker.report import JobOutcome
from shared.worker.runner import Settlement
from shared.worker.settle import settle

PREFETCH_DEPTH = 2
SETTLE_DEPTH = 2


@dataclass(frozen=True)
class ClaimRequest:
    """`traceparents`: read the jobs' trace context too (the invocation records spans)."""

    types: list[str]
    batch_size: int
    traceparents: bool = False


def lease_seconds(job: Job) -> float:
    """How long the claim locked `job`, in database time: locked_until minus the claim's
    own now() (started_at), so clock skew between Python and Postgres does not matter."""
    if job.locked_until is not None and job.started_at is not None:
        return (job.locked_until - job.started_at).total_seconds()
    return float(job.lock_seconds or 0)  # a claim always sets both; 0: check before starting


class Overlap:
    """Background settle and claim for one invocation (one caller thread)."""

    def __init__(self, backend: QueueBackend, worker_id: str) -> None:
        self._backend = backend
        self._worker_id = worker_id
        self._executor = ThreadPoolExecutor(max_workers=PREFETCH_DEPTH + SETTLE_DEPTH,
                                            thread_name_prefix="queue-worker-db")
        self._settles: deque[Future[list[JobOutcome]]] = deque()  # oldest first
        self._claims: deque[tuple[int, Future[list[Job]]]] = deque()  # (batch size, claim) oldest first
        # Claimed job object (its id()) -> monotonic time its claim's lock ends. Keyed by the
        # object, popped when the job is taken: hashing a UUID per job costs more than a no-op job.
        self._lease_ends: dict[int, float] = {}
        self._lock = threading.Lock()

    def claim_now(self, request: ClaimRequest) -> list[Job]:
        sent = time.monotonic()
        jobs = self._backend.jobs_claim(self._worker_id, request.types, request.batch_size,
                                        with_traceparent=request.traceparents)
        ends = {id(job): sent + lease_seconds(job) for job in jobs}
        with self._lock:
            self._lease_ends.update(ends)
        return jobs

    def lease_ends(self, job: Job) -> float:
        """When `job`'s lock from its claim ends, on this process's monotonic clock (at the
        earliest: the database started the lock no sooner than the claim was sent)."""
        with self._lock:
            return self._lease_ends.pop(id(job))

    def prefetch(self, request: ClaimRequest) -> None:
        """Start claiming a later round; `claimed()` returns the rounds in order."""
        self._claims.append((request.batch_size, self._executor.submit(self.claim_now, request)))

    def prefetching(self) -> tuple[int, int]:
        """(claims in flight, jobs they may bring)."""
        return len(self._claims), sum(size for size, _ in self._claims)

    def claimed(self) -> list[Job] | None:
        """The oldest prefetched round (waiting for it), skipping empty ones while later ones
        are in flight; None if none was started."""
        if not self._claims:
            return None
        jobs: list[Job] = []
        while self._claims and not jobs:
            jobs = self._claims.popleft()[1].result()
        return jobs

    def settle(self, settled: Sequence[Settlement]) -> list[JobOutcome]:
        """Start settling `settled`; return the outcomes of settles that are done, waiting
        only while SETTLE_DEPTH are in flight (rounds hold different jobs, so their
        settles are independent). A round that gives jobs back waits for the claims in
        flight first: one of them could otherwise claim a job just released (the same
        invocation then holding, and releasing, it twice)."""
        if any(s.kind == "release" for s in settled):
            wait([claim for _, claim in self._claims])
        if settled:
            self._settles.append(self._executor.submit(settle, self._backend, self._worker_id, settled))
        outcomes: list[JobOutcome] = []
        while self._settles and (len(self._settles) > SETTLE_DEPTH or self._settles[0].done()):
            outcomes.extend(self._settles.popleft().result())
        return outcomes

    def settling(self) -> bool:
        """Whether a settle was started and not yet collected."""
        return bool(self._settles)

    def settled(self) -> list[JobOutcome]:
        """The outcomes of every settle in flight (waiting for them), or [] if none."""
        outcomes: list[JobOutcome] = []
        while self._settles:
            outcomes.extend(self._settles.popleft().result())
        return outcomes

    def close(self) -> None:
        """Wait for what is in flight and stop the threads. A prefetched round nobody took
        (only on an error path) is released, so its jobs need not wait for their locks:
        through a fresh connection when the failure broke the one it had."""
        leftover: list[Job] = []
        try:
            leftover = [job for _, claim in self._claims if not claim.exception() for job in claim.result()]
            if leftover:
                self._backend.jobs_release(self._worker_id, [
                    Release(id=job.id, reason="not started: the invocation ended") for job in leftover])
        except Exception as exc:  # already failing: the locks expire and cleanup_stuck_jobs retries
            message = exc.message if isinstance(exc, QueueError) else repr(exc)
            log_event(logging.ERROR, f"could not give back the jobs not started: {message}",
                      worker_id=self._worker_id, jobs=len(leftover))
        finally:
            self._executor.shutdown(wait=True)
