"""The resident worker: one long-running process that runs invocations back to back,
sleeping in between until the database says jobs arrived.

Contract of `ResidentWorker.run`:
- runs `run_invocation` (the same loop as a scheduled invocation); when it found nothing
  more to do, waits for a NOTIFY on `queue_worker_jobs` naming one of its types, at most
  `poll_interval` seconds (the backstop for what no NOTIFY announces: jobs delayed into
  the future, retries after their backoff, a notification lost while reconnecting);
- listens from before its first invocation, so a notification sent while it is busy
  wakes the next wait at once: none is lost between "nothing ready" and "waiting";
- without a usable LISTEN (no SQL connection string, a transaction-mode pooler, a
  self-test NOTIFY that never came back) it polls, and logs once why;
- every `maintain_every` seconds (the first time at start) does what a scheduler tick
  does besides invoking: cleanup_stuck_jobs and enqueue_due_schedules;
- survives a database outage: logs it, waits (doubling up to MAX_BACKOFF_SECONDS), tries
  again; a lost LISTEN connection is reopened at the next wait;
- its invocations record their start and read job_types off the path from a wake-up to
  the claim (shared/worker/resident_backend.py);
- when `stop` is set: the invocation in flight stops claiming, finishes what it started
  and gives back what it had not (attempts not burnt), then `run` returns.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType

from shared.config import Settings
from shared.logs import log_event
from shared.queue import QueueBackend
from shared.queue.errors import InvalidInput, QueueError
from shared.queue.notifications import CHANNEL, JobNotifications, listen_blocker
from shared.worker.invocation import InvocationOptions, InvocationReport, run_invocation
from shared.worker.maintenance import maintain
from shared.worker.resident_backend import ResidentBackend

DEFAULT_POLL_SECONDS = 2.0
DEFAULT_BUDGET_SECONDS = 3600.0  # a type is claimed only if its timeout fits in the budget
MAINTAIN_EVERY_SECONDS = 60.0  # as pg_cron's cleanup and schedule ticks
MAX_BACKOFF_SECONDS = 30.0
STOP_CHECK_SECONDS = 0.2  # a wait notices `stop` within this
TYPES_REFRESH_SECONDS = 1.0  # an idle worker re-reads job_types this often (a type disabled shows)


@dataclass(frozen=True)
class ResidentOptions:
    """`listen_url`: where to LISTEN (None: poll only, `poll_reason` says why)."""

    invocation: InvocationOptions
    poll_interval: float = DEFAULT_POLL_SECONDS
    listen_url: str | None = None
    poll_reason: str = "no SQL connection string to LISTEN on"
    maintain_every: float = MAINTAIN_EVERY_SECONDS

    def __post_init__(self) -> None:
        if not self.poll_interval > 0:
            raise InvalidInput(f"poll_interval must be positive, got {self.poll_interval}")
        if not self.maintain_every > 0:
            raise InvalidInput(f"maintain_every must be positive, got {self.maintain_every}")


@dataclass
class ResidentTotals:
    invocations: int = 0
    claimed: int = 0
    completed: int = 0
    failed_invocations: int = 0
    wakes: dict[str, int] = field(default_factory=lambda: {"notify": 0, "poll": 0})


class ResidentWorker:
    """`waiting` is set while the worker sleeps between invocations (tests and the bench
    wait for it before they enqueue, to measure a wake-up from idle)."""

    def __init__(self, backend: QueueBackend, settings: Settings, options: ResidentOptions,
                 registry: Mapping[str, ModuleType] | None = None,
                 stop: threading.Event | None = None) -> None:
        self.backend, self.settings, self.options, self.registry = backend, settings, options, registry
        self._invocation_backend = ResidentBackend(backend)
        self.stop = stop or threading.Event()
        self.waiting = threading.Event()
        self.totals = ResidentTotals()
        self._notifications: JobNotifications | None = None
        self._retry_listen = False  # the LISTEN connection was lost: reopen it at the next wait
        self._next_maintenance = 0.0
        self._failures = 0

    def run(self) -> ResidentTotals:
        self._listen()
        try:
            while not self.stop.is_set():
                self._maintain_if_due()
                if self._invoke_again_at_once():
                    continue
                self._wait(self._pause())
        finally:
            self._invocation_backend.close()
            if self._notifications is not None:
                self._notifications.close()
            log_event(logging.INFO, "resident worker stopped", invocations=self.totals.invocations,
                      claimed=self.totals.claimed, completed=self.totals.completed)
        return self.totals

    def _listen(self) -> None:
        url = self.options.listen_url
        reason = self.options.poll_reason if url is None else listen_blocker(url)
        if url is not None and reason is None:
            reason = self._open_listener(url)
        if reason is None:
            log_event(logging.INFO, f"resident worker listening on {CHANNEL}", types=self._types(),
                      poll_interval_seconds=self.options.poll_interval)
        else:
            log_event(logging.WARNING, f"resident worker polling every {self.options.poll_interval:g} s: "
                      f"{reason}", types=self._types())

    def _open_listener(self, url: str) -> str | None:
        """Listen and self-test; returns why not, or None when listening."""
        try:
            notifications = JobNotifications(url, self.options.invocation.types)
        except QueueError as exc:
            self._retry_listen = True
            return f"{exc.message} (trying again at each wait)"
        try:
            heard = notifications.self_test()
        except QueueError as exc:
            notifications.close()
            self._retry_listen = True
            return f"{exc.message} (trying again at each wait)"
        if not heard:
            notifications.close()
            return ("a NOTIFY to ourselves did not come back within 1 s (a transaction-mode pooler?); "
                    "use the direct or session-mode connection string to be woken at once")
        self._notifications = notifications
        return None

    def _types(self) -> list[str] | str:
        return self.options.invocation.types or "all"

    def _maintain_if_due(self) -> None:
        if time.monotonic() < self._next_maintenance:
            return
        self._next_maintenance = time.monotonic() + self.options.maintain_every
        try:
            done = maintain(self.backend)
        except QueueError as exc:
            log_event(logging.ERROR, f"maintenance failed: {exc.message}")
            return
        if done.recovered or done.scheduled:
            log_event(logging.INFO, "maintenance", recovered_stuck_jobs=done.recovered,
                      enqueued_recurring_jobs=done.scheduled)

    def _invoke_again_at_once(self) -> bool:
        """One invocation. True when another should follow without waiting: it claimed jobs
        and ran so long that it may have stopped for its budget, not for lack of jobs."""
        try:
            report = run_invocation(self._invocation_backend.as_backend(), self.settings,
                                    self.options.invocation, registry=self.registry, stop=self.stop)
        except InvalidInput:
            raise  # options the registry refuses: no use trying again
        except QueueError as exc:
            self._failures += 1
            self.totals.failed_invocations += 1
            log_event(logging.ERROR, f"invocation failed: {exc.message}; trying again in "
                      f"{self._pause():g} s", hint=exc.hint)
            return False
        self._failures = 0
        self._count(report)
        budget = self.options.invocation.time_budget_seconds
        return report.claimed > 0 and report.duration_seconds >= budget / 2

    def _count(self, report: InvocationReport) -> None:
        self.totals.invocations += 1
        self.totals.claimed += report.claimed
        self.totals.completed += report.completed

    def _pause(self) -> float:
        """The poll interval, doubled per failed invocation in a row up to MAX_BACKOFF_SECONDS."""
        if not self._failures:
            return self.options.poll_interval
        return max(self.options.poll_interval,
                   min(self.options.poll_interval * 2.0 ** self._failures, MAX_BACKOFF_SECONDS))

    def _wait(self, seconds: float) -> None:
        """Until a relevant NOTIFY, `seconds`, or `stop`, whichever comes first."""
        if self._retry_listen and self._notifications is None and self.options.listen_url:
            self._reopen_listener(self.options.listen_url)
        self.waiting.set()
        woken = False
        try:
            woken = self._sleep(seconds)
        finally:
            self.waiting.clear()
        self.totals.wakes["notify" if woken else "poll"] += 1

    def _sleep(self, seconds: float) -> bool:
        """True when a NOTIFY woke it. In slices of STOP_CHECK_SECONDS, so that a stop is
        seen soon and the copy of job_types stays fresh (read while idle, not after the
        wake-up). A lost LISTEN connection ends the wait: the next invocation finds what
        its lost NOTIFYs announced, and the next wait reopens it."""
        deadline = time.monotonic() + seconds
        while not self.stop.is_set() and (left := deadline - time.monotonic()) > 0:
            self._refresh_job_types()
            if self._notifications is None:
                self.stop.wait(min(left, STOP_CHECK_SECONDS))
                continue
            try:
                if self._notifications.wait(min(left, STOP_CHECK_SECONDS)):
                    return True
            except QueueError as exc:
                log_event(logging.WARNING, f"{exc.message}; reopening it (polling meanwhile)")
                self._notifications.close()
                self._notifications, self._retry_listen = None, True
                return False
        return False

    def _refresh_job_types(self) -> None:
        if self._invocation_backend.job_types_age() >= TYPES_REFRESH_SECONDS:
            with contextlib.suppress(QueueError):  # else the next invocation reads them, and says why
                self._invocation_backend.refresh_job_types()

    def _reopen_listener(self, url: str) -> None:
        self._retry_listen = False
        reason = self._open_listener(url)
        if reason is None:
            log_event(logging.INFO, f"resident worker listening on {CHANNEL} again")
        elif not self._retry_listen:  # connected but the self-test failed: stay polling, say so once
            log_event(logging.WARNING, f"resident worker stays polling: {reason}")
