"""Keeping the database busy while processors run.

A round's settle calls and the next round's claim go to the database from two
background threads (each on its own pooled connection), so that on a multi-core host the
database completes round N and claims round N+1 while Python runs round N+1's
processors. Ordering is kept where it matters: one settle in flight at a time, in round
order; one claim in flight at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from shared.backend.protocol import QueueBackend
from shared.job_runner import Settlement
from shared.job_settle import settle
from shared.models import Job, Release
from shared.worker_report import JobOutcome


@dataclass(frozen=True)
class ClaimRequest:
    types: list[str]
    batch_size: int


class Overlap:
    """Background settle and claim for one invocation (one caller thread)."""

    def __init__(self, backend: QueueBackend, worker_id: str) -> None:
        self._backend = backend
        self._worker_id = worker_id
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="queue-worker-db")
        self._settling: Future[list[JobOutcome]] | None = None
        self._claiming: Future[list[Job]] | None = None

    def claim_now(self, request: ClaimRequest) -> list[Job]:
        return self._backend.jobs_claim(self._worker_id, request.types, request.batch_size)

    def prefetch(self, request: ClaimRequest) -> None:
        """Start claiming the next round; `claimed()` returns it."""
        self._claiming = self._executor.submit(self.claim_now, request)

    def claimed(self) -> list[Job] | None:
        """The prefetched round (waiting for it), or None if none was started."""
        claiming, self._claiming = self._claiming, None
        return claiming.result() if claiming is not None else None

    def settle(self, settled: Sequence[Settlement]) -> list[JobOutcome]:
        """Start settling `settled`; return the outcomes of the previous settle (waiting for it)."""
        previous = self.settled()
        if settled:
            self._settling = self._executor.submit(settle, self._backend, self._worker_id, settled)
        return previous

    def settling(self) -> bool:
        """Whether a settle was started and not yet collected."""
        return self._settling is not None

    def settled(self) -> list[JobOutcome]:
        """The outcomes of the settle in flight (waiting for it), or [] if none."""
        settling, self._settling = self._settling, None
        return settling.result() if settling is not None else []

    def close(self) -> None:
        """Wait for what is in flight and stop the threads. A prefetched round nobody took
        (only on an error path) is released, so its jobs need not wait for their locks."""
        try:
            leftover = self._claiming.result() if self._claiming is not None else []
            if leftover:
                self._backend.jobs_release(self._worker_id, [
                    Release(id=job.id, reason="not started: the invocation ended") for job in leftover])
        except Exception:  # noqa: S110 - already failing; the locks expire and cleanup_stuck_jobs retries
            pass
        finally:
            self._executor.shutdown(wait=True)
