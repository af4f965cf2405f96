"""The backend a resident worker's invocations see: the same calls, with the two that
stand between a wake-up and the first claim moved off that path.

Each invocation first records its start (`worker_run_start`, a committed insert) and
reads `job_types`, then claims: on a wake-up that is two round trips and a commit
before the job can start. Here:
- `worker_run_start` is sent in the background; `worker_run_finish` waits for it first,
  so the record is the same, only written while the claim runs;
- `job_types` answers from a copy the idle worker re-reads every second, so a wake-up
  finds it ready; a copy older than TYPES_MAX_AGE_SECONDS (a worker that was busy) is
  read again at once. So a type disabled or changed shows within about a second.
Everything else goes straight to the wrapped backend.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

from shared.queue import QueueBackend
from shared.queue.protocol import JobTypeInfo

TYPES_MAX_AGE_SECONDS = 2.0


class ResidentBackend:
    def __init__(self, backend: QueueBackend) -> None:
        self._backend = backend
        self._types: dict[str, JobTypeInfo] | None = None
        self._types_at = 0.0
        self._starts = ThreadPoolExecutor(max_workers=1, thread_name_prefix="worker-run-start")
        self._started: dict[str, Future[None]] = {}
        self._lock = threading.Lock()

    def as_backend(self) -> QueueBackend:
        return cast(QueueBackend, self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)

    def refresh_job_types(self) -> None:
        """Read job_types now (raises QueueError when the database fails)."""
        self._types = self._backend.job_types()
        self._types_at = time.monotonic()

    def job_types_age(self) -> float:
        """Seconds since the copy was read (infinite before the first read)."""
        return time.monotonic() - self._types_at if self._types is not None else float("inf")

    def job_types(self) -> dict[str, JobTypeInfo]:
        if self.job_types_age() > TYPES_MAX_AGE_SECONDS:
            self.refresh_job_types()
        assert self._types is not None
        return dict(self._types)

    def worker_run_start(self, worker_id: str, meta: dict[str, Any]) -> None:
        with self._lock:
            self._started[worker_id] = self._starts.submit(self._backend.worker_run_start, worker_id, meta)

    def worker_run_finish(self, worker_id: str, counts: dict[str, int]) -> None:
        """After the start landed; a start that failed raises its error here."""
        with self._lock:
            started = self._started.pop(worker_id, None)
        if started is not None:
            started.result()
        self._backend.worker_run_finish(worker_id, counts)

    def close(self) -> None:
        """Waits for starts in flight; the wrapped backend stays open (its owner closes it)."""
        self._starts.shutdown(wait=True)
