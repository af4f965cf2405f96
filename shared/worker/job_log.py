"""The log lines of job outcomes: one per job that needs a person's eye, a summary for the rest.

A failure, retry, dead letter, release or lost lease always gets its own WARNING line (someone
may have to act on it). A completed job gets its own INFO line only with
`QUEUE_WORKER_JOB_LOGS=all`: by default completions are counted, exactly, in the invocation's
closing line (and a progress line every PROGRESS_EVERY_SECONDS of a long invocation), because
formatting a JSON line costs about 20 µs, a third of what the whole worker may spend on a
no-op job at the rates it drains.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from shared.logs import get_logger, log_event
from shared.worker.report import InvocationReport, JobOutcome

PROGRESS_EVERY_SECONDS = 10.0
JOB_LOG_MODES = ("failures", "all")


class JobLog:
    """Logs one invocation's outcomes; `mode`: one of JOB_LOG_MODES."""

    def __init__(self, worker_id: str, mode: str = "failures") -> None:
        if mode not in JOB_LOG_MODES:
            raise ValueError(f"job log mode must be one of {', '.join(JOB_LOG_MODES)}, got {mode!r}")
        self._worker_id = worker_id
        self._every_job = mode == "all"
        self._next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS

    def outcomes(self, outcomes: Iterable[JobOutcome], report: InvocationReport) -> None:
        """Log what must be logged of `outcomes` (already counted in `report`)."""
        info = self._every_job and get_logger().isEnabledFor(logging.INFO)
        for o in outcomes:
            if o.outcome == "completed" and not info:
                continue
            level = logging.INFO if o.outcome == "completed" else logging.WARNING
            log_event(level, f"job {o.outcome}", job_id=str(o.id), type=o.type, attempt=o.attempt,
                      outcome=o.outcome, duration_ms=round(o.duration_ms, 3), worker_id=self._worker_id,
                      **({"error": o.error} if o.error else {}))
        if time.monotonic() >= self._next_progress:
            self._next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
            log_event(logging.INFO, "invocation progress", worker_id=self._worker_id, **report.counts(),
                      by_type=report.by_type)
