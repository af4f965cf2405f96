"""The grace period of a stopping round: what it waits for, said aloud, and what it gives back.

When the stop event is set while jobs run, the round (shared.worker.pool) no longer starts
any and, for QUEUE_WORKER_STOP_GRACE_SECONDS, lets the running ones finish, logging what it
waits for and each job as it finishes. When the grace period ends (or `hurry()` is called
on the StopEvent: a second signal) every job of the round still unfinished is settled as a
release: back to pending, due now, its attempt not counted (release_jobs). Its thread cannot
be stopped; it is abandoned like a timed-out job and dies with the process, which is
stopping anyway.

Exactly once: a released job that had started runs again from the start, as after a
crash; every processor whose provider call cannot be repeated makes that safe by itself
(payout: the payout id is Stripe's idempotency key and a resumed payout asks Stripe by
transfer group first; email: the key derived from the job id; audio: parts already
stored are kept). The release is sent only when the process is about to stop, so the
abandoned thread and a new run overlap for at most that moment, and then a provider sees
the same idempotency key twice (Stripe and Resend answer 409 "in flight" to the second,
which retries).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterable
from uuid import UUID

from shared.logs import log_event
from shared.queue.models import Job
from shared.worker.runner import Settlement, release
from shared.worker.shutdown import is_hurried

GIVEN_BACK_REASON = "interrupted: the worker stopped before it finished"


def describe(job: Job) -> str:
    """`email 3f2a91bc…`: what a person needs to recognise the job in a log."""
    return f"{job.type} {str(job.id)[:8]}…"


def describe_all(jobs: Iterable[Job]) -> str:
    return ", ".join(describe(job) for job in jobs)


class GracePeriod:
    """Tracks one stop of one pool; `due` says when its unfinished jobs must be given back."""

    def __init__(self, stop: threading.Event, grace_seconds: float) -> None:
        self._stop, self._grace = stop, grace_seconds
        self._ends: float | None = None  # monotonic end of the grace period, once stopping
        self._waiting_for: set[UUID] = set()  # the running jobs it said it waits for

    def started(self, running: Collection[Job]) -> None:
        """Note the stop (once) and say what it waits for."""
        if self._ends is not None:
            return
        self._ends = time.monotonic() + self._grace
        self._waiting_for = {job.id for job in running}
        if running:
            log_event(logging.WARNING, f"stopping: waiting up to {self._grace:g}s for {_jobs(len(running))} "
                      f"({describe_all(running)})", jobs=[str(job.id) for job in running])

    def finished(self, settled: Iterable[Settlement], still_running: int) -> None:
        """Say which of the jobs it waits for finished."""
        for s in settled:
            if s.job.id not in self._waiting_for:
                continue
            log_event(logging.INFO, f"stopping: {describe(s.job)} finished ({s.kind}); "
                      f"waiting for {still_running} more", job_id=str(s.job.id))

    def due(self) -> bool:
        return is_hurried(self._stop) or (self._ends is not None and time.monotonic() >= self._ends)

    def give_back(self, unfinished: Collection[Job]) -> list[Settlement]:
        """Release settlements for `unfinished`, said in one line."""
        if unfinished:
            why = "at once (a second signal)" if is_hurried(self._stop) else f"after {self._grace:g}s"
            what = _jobs(len(unfinished), "unfinished job")
            log_event(logging.WARNING, f"stopping: giving back {what} {why}: {describe_all(unfinished)}; "
                      "they go back to pending, their attempt not counted",
                      jobs=[str(job.id) for job in unfinished])
        self._waiting_for.difference_update(job.id for job in unfinished)  # their late ends are not news
        return [release(job, GIVEN_BACK_REASON) for job in unfinished]


def _jobs(n: int, noun: str = "running job") -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
