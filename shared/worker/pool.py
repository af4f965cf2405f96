"""Running a round of claimed jobs concurrently, each within its timeout.

Processors are synchronous functions, so jobs run on a small pool of daemon threads
(created as needed, at most `size` busy at once). A thread cannot be killed: a job that
overruns its timeout is settled as a retryable failure and abandoned; its thread finishes
whenever it finishes, its late result is dropped (the job was already settled), and a
fresh thread takes its place. Daemon threads, so an abandoned job never blocks exit.

Jobs whose processor declares them cheap (`run_inline(payload) -> True`: no I/O, no
sleep) run on the caller's thread: a thread hop costs more than a no-op job.

When the stop event is set mid-round, no task starts any more and the running ones have
a grace period, then are given back (shared.worker.stopping).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from uuid import UUID

from pydantic import BaseModel

from shared.queue.errors import QueueError
from shared.queue.models import Job
from shared.worker.runner import ContextParts, Settlement, build_context, execute, fail, release
from shared.worker.stopping import GracePeriod
from shared.worker.tracing import JobSpan, running_in

_POLL_SECONDS = 0.25  # longest wait between checks for overruns
# While a round still runs, what finished is settled at least this often: a job's outcome
# must not wait for the slowest job of its round.
SETTLE_EARLY_SECONDS = 0.5


@dataclass(slots=True)
class Task:
    """One validated job ready to run; `timeout` in seconds from when it starts;
    `lease_ends`: monotonic time its claim's lock ends (shared.worker.overlap.Overlap.lease_ends)."""

    job: Job
    module: ModuleType
    payload: BaseModel
    timeout: float
    lease_ends: float
    key: int = 0
    span: JobSpan | None = None  # the job's span when the invocation traces (shared.worker.tracing)


def runs_inline(task: Task) -> bool:
    check = getattr(task.module, "run_inline", None)
    return bool(check is not None and check(task.payload))


class JobPool:
    """Runs rounds of tasks; see the module docstring. Not itself thread-safe: one caller."""

    def __init__(self, size: int, parts: ContextParts, stop: threading.Event, start_by: float) -> None:
        self._size = size
        self._parts = parts
        self._stop = stop
        self._start_by = start_by  # monotonic time by which a job must be able to finish
        self._tasks: queue.SimpleQueue[Task | None] = queue.SimpleQueue()
        self._finished: list[tuple[int, Settlement]] = []  # results not yet collected
        self._wake = threading.Event()  # set when len(_finished) reaches _wake_at
        self._wake_at = 1
        self._deadlines: dict[int, float] = {}  # running tasks -> monotonic deadline
        self._lock = threading.Lock()
        self._threads = 0
        self._stuck = 0  # threads still running an abandoned (timed-out) job
        self._keys = itertools.count(1)
        self._grace = GracePeriod(stop, parts.settings.queue_worker_stop_grace_seconds)
        # Jobs whose processor was called (side effects may have run). A list: each job starts
        # once, and hashing a UUID per job costs more than a no-op job's run.
        self.started: list[UUID] = []
        self.last_round_threaded = 0  # tasks of the last round that needed a thread

    def run_round(self, tasks: Iterable[Task],
                  settle_early: Callable[[list[Settlement]], None] | None = None) -> list[Settlement]:
        """Run every task; return one Settlement per task (in no particular order), except
        those handed to `settle_early` while the round was still running."""
        inline: list[Task] = []
        waiting: dict[int, Task] = {}
        for task in tasks:
            task.key = next(self._keys)
            if runs_inline(task):
                inline.append(task)
            else:
                waiting[task.key] = task
        self.last_round_threaded = len(waiting)
        self._submit(waiting.values())
        settled = [self._start(task, tracked=False) for task in inline]
        return self._collect(waiting, settled, settle_early)

    def close(self) -> None:
        """Let idle threads exit; abandoned ones exit after their job."""
        for _ in range(self._threads):
            self._tasks.put(None)
        self._threads = 0

    def _submit(self, tasks: Iterable[Task]) -> None:
        count = 0
        for task in tasks:
            self._tasks.put(task)
            count += 1
        self._ensure_threads(count)

    def _ensure_threads(self, wanted: int) -> None:
        """Enough unstuck threads for `wanted` tasks, up to the pool size."""
        while self._threads - self._stuck < min(self._size, wanted):
            threading.Thread(target=self._work, name="queue-worker-job", daemon=True).start()
            self._threads += 1

    def _work(self) -> None:
        while (task := self._tasks.get()) is not None:
            settlement = self._start(task)
            with self._lock:
                self._deadlines.pop(task.key, None)  # finished: nothing left to time out
                self._finished.append((task.key, settlement))
                if len(self._finished) >= self._wake_at:
                    self._wake.set()

    def _start(self, task: Task, tracked: bool = True) -> Settlement:
        refusal = self._refusal(task)
        if refusal is not None:
            return refusal
        self.started.append(task.job.id)
        deadline = time.monotonic() + task.timeout
        if tracked:  # inline tasks finish before anyone could check their deadline
            with self._lock:
                self._deadlines[task.key] = deadline
        ctx = build_context(self._parts, task.job, deadline)
        if task.span is None:
            return execute(task.module, task.job, task.payload, ctx)
        with running_in(task.span):  # what the processor traces (its HTTP calls) nests under the job
            return execute(task.module, task.job, task.payload, ctx)

    def _refusal(self, task: Task) -> Settlement | None:
        """Why the task must not start now (shutdown, budget spent, lease gone), or None."""
        job, now = task.job, time.monotonic()
        if self._stop.is_set():
            return release(job, "not started: the worker is shutting down")
        if now + task.timeout > self._start_by:
            return release(job, "not started: its timeout no longer fits in the invocation's time budget")
        # A job that waited (a prefetched round, a busy pool, a frozen process) may hold a
        # lock that is nearly or already gone, and another worker may have it by now:
        # confirm it with the database, which extends it, before any side effect runs.
        if task.lease_ends - now < task.timeout * 3 / 4:
            return self._renew(job)
        return None

    def _renew(self, job: Job) -> Settlement | None:
        """Extend the job's lock; lease_lost when the database says it is no longer ours."""
        try:
            renewed = self._parts.backend.job_progress(job.id, job.progress, None, self._parts.worker_id)
        except QueueError as exc:
            return release(job, f"not started: could not confirm its lease: {exc.message}")
        return None if renewed else Settlement(job, "lease_lost", error="lease lost before the job started")

    def _collect(self, waiting: dict[int, Task], settled: list[Settlement],
                 settle_early: Callable[[list[Settlement]], None] | None) -> list[Settlement]:
        """Wait for the round's tasks; the caller wakes when all are done or a deadline may
        have passed, not once per task (thousands of wake-ups cost more than no-op jobs).
        What finished goes to `settle_early` every SETTLE_EARLY_SECONDS while others run."""
        early_at = time.monotonic() + SETTLE_EARLY_SECONDS
        while waiting:
            with self._lock:
                self._wake_at = len(waiting)
                done = len(self._finished) >= self._wake_at
            if not done:
                self._wake.wait(self._wait_seconds())
            with self._lock:
                finished, self._finished = self._finished, []
                self._wake.clear()
            for key, settlement in finished:
                if waiting.pop(key, None) is None:  # an abandoned job finished late: already settled
                    self._stuck -= 1
                else:
                    settled.append(settlement)
            settled.extend(self._expire(waiting))
            if self._stop.is_set() and (waiting or finished):
                settled.extend(self._stopping(waiting, [s for _, s in finished]))
            if settle_early is not None and settled and waiting and time.monotonic() >= early_at:
                settle_early(settled)
                settled = []
                early_at = time.monotonic() + SETTLE_EARLY_SECONDS
        return settled

    def _stopping(self, waiting: dict[int, Task], finished: list[Settlement]) -> list[Settlement]:
        """During a stop: say what the round waits for; when its grace period is over, abandon
        what is unfinished (as _expire does) and return its releases."""
        with self._lock:
            running = [task.job for key, task in waiting.items() if key in self._deadlines]
        self._grace.started(running)
        self._grace.finished(finished, len(running))
        if not waiting or not self._grace.due():
            return []
        unfinished = list(waiting.values())
        for task in unfinished:
            self._forget(task.key)
        self._stuck += len(unfinished)  # each finishes (or is refused) late, then is dropped
        waiting.clear()
        return self._grace.give_back([task.job for task in unfinished])

    def _wait_seconds(self) -> float:
        """Until the soonest deadline of a running task (at most _POLL_SECONDS)."""
        with self._lock:
            soonest = min(self._deadlines.values(), default=None)
        if soonest is None:
            return _POLL_SECONDS
        return min(max(soonest - time.monotonic(), 0.0), _POLL_SECONDS)

    def _expire(self, waiting: dict[int, Task]) -> list[Settlement]:
        """Fail (retryably) and abandon every started task past its deadline."""
        now = time.monotonic()
        with self._lock:
            overdue = [key for key, deadline in self._deadlines.items() if deadline <= now and key in waiting]
        expired = []
        for key in overdue:
            task = waiting.pop(key)
            self._forget(key)
            self._stuck += 1
            message = f"timed out after {task.timeout:g} s"
            expired.append(fail(task.job, message, retryable=True, duration_ms=task.timeout * 1000,
                                exception=TimeoutError(message)))
        if overdue:  # replace the stuck threads so the rest of the round keeps its concurrency
            self._ensure_threads(len(waiting))
        return expired

    def _forget(self, key: int) -> None:
        with self._lock:
            self._deadlines.pop(key, None)
