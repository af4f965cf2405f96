"""OpenTelemetry spans of one invocation and of each job it runs, through opentelemetry-api.

A no-op until the process configures an SDK (README, Tracing). Then `run_invocation` records:
- `queue_worker invocation` (INTERNAL), current for the whole invocation, so it nests under
  whatever span is current when it starts (the HTTP request's, when Flask is instrumented);
- `process <type>` (CONSUMER) per claimed job: a child of the invocation's span, LINKED to
  the span that enqueued the job (job_queue.traceparent), current while the processor runs
  (what the processor traces nests under it), ended once the database answered the job's
  settle, with the outcome; what made it fail is recorded on it (exception, status ERROR).
Whether the invocation's span records decides the rest: when it does not (no SDK, or
sampled out), no job span is made and claims do not read traceparents, so the drain costs
what it cost without tracing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from uuid import UUID

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from shared.failures import CheckpointAndContinue, RateLimitedError
from shared.queue.models import Job
from shared.queue.trace_context import SYSTEM, TRACER_NAME, span_context_of
from shared.worker.report import OUTCOMES, InvocationReport, JobOutcome
from shared.worker.runner import Settlement

JobSpan = Span
INVOCATION_SPAN = "queue_worker invocation"
# No generic attempt attribute exists in the messaging conventions; system-specific ones
# are spelled like GCP Pub/Sub's `messaging.gcp_pubsub.message.delivery_attempt`.
ATTEMPT = f"messaging.{SYSTEM}.message.delivery_attempt"
OUTCOME = "queue_worker.job.outcome"  # the database's answer: one of OUTCOMES
UNSETTLED = "the invocation ended before the database answered this job's settle"


def running_in(span: Span) -> AbstractContextManager[Span]:
    """`span` current on this thread while a job runs; ended later, by `InvocationTrace`."""
    return trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False)


def error_type(exc: BaseException) -> str:
    """`error.type`: the exception's fully qualified class name (builtins without a module)."""
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


class InvocationTrace:
    """The spans of one invocation. `recording`: whether job spans are made at all."""

    def __init__(self, worker_id: str, types: Sequence[str] | None) -> None:
        self._tracer = trace.get_tracer(TRACER_NAME)
        self._worker_id = worker_id
        attributes: dict[str, Any] = {"messaging.system": SYSTEM, "messaging.client.id": worker_id,
                                      "messaging.operation.name": "invoke"}
        if types:
            attributes["queue_worker.invocation.types"] = list(types)
        self.span = self._tracer.start_span(INVOCATION_SPAN, kind=SpanKind.INTERNAL, attributes=attributes)
        self.recording = self.span.is_recording()
        self._parent = trace.set_span_in_context(self.span)
        self._jobs: dict[UUID, Span] = {}  # started and not yet ended

    @contextmanager
    def active(self, report: InvocationReport) -> Iterator[None]:
        """The invocation's span current while the block runs, then ended: its counts from
        `report`, an exception recorded on it (status ERROR) and raised on; job spans still
        open (their settle never answered) end as errors."""
        with trace.use_span(self.span, end_on_exit=True):
            try:
                yield
            finally:
                self._close(report)

    def job_started(self, job: Job) -> Span | None:
        """The job's span, started now (None when not recording)."""
        if not self.recording:
            return None
        context = span_context_of(job.traceparent)
        span = self._tracer.start_span(
            f"process {job.type}", context=self._parent, kind=SpanKind.CONSUMER,
            links=[Link(context)] if context is not None else None,
            attributes={"messaging.system": SYSTEM, "messaging.operation.type": "process",
                        "messaging.operation.name": "process", "messaging.destination.name": job.type,
                        "messaging.message.id": str(job.id), "messaging.client.id": self._worker_id,
                        ATTEMPT: job.attempts})
        self._jobs[job.id] = span
        return span

    def settling(self, settled: Iterable[Settlement]) -> None:
        """What the worker is about to tell the database, on each job's span."""
        if not self._jobs:
            return
        for s in settled:
            span = self._jobs.get(s.job.id)
            if span is not None:
                describe(span, s)

    def settled(self, outcomes: Iterable[JobOutcome]) -> None:
        """The database's answers: each job's outcome on its span, which ends."""
        if not self._jobs:
            return
        for o in outcomes:
            span = self._jobs.pop(o.id, None)
            if span is None:
                continue
            span.set_attribute(OUTCOME, o.outcome)
            if o.outcome == "lease_lost":
                span.set_attribute("error.type", "lease_lost")
                span.set_status(Status(StatusCode.ERROR, "lease lost: another worker may hold the job"))
            span.end()

    def _close(self, report: InvocationReport) -> None:
        for span in self._jobs.values():  # only when the invocation failed before settling them
            span.set_attribute("error.type", "unsettled")
            span.set_status(Status(StatusCode.ERROR, UNSETTLED))
            span.end()
        self._jobs.clear()
        if self.recording:
            self.span.set_attribute("messaging.batch.message_count", report.claimed)
            for name in OUTCOMES:
                self.span.set_attribute(f"queue_worker.invocation.{name}", getattr(report, name))


def describe(span: Span, s: Settlement) -> None:
    """A settlement on its job's span: failures (and rate limits) as errors with their
    exception; a checkpoint or another give-back as an event, not an error."""
    exc = s.exception
    if s.kind == "fail" or (s.kind == "release" and isinstance(exc, RateLimitedError)):
        if exc is not None:
            span.record_exception(exc)
            span.set_attribute("error.type", error_type(exc))
        span.set_attribute("queue_worker.job.retryable", s.retryable if s.kind == "fail" else True)
        span.set_status(Status(StatusCode.ERROR, s.error or s.reason))
    elif s.kind == "release":
        event = "checkpoint" if isinstance(exc, CheckpointAndContinue) else "released"
        span.add_event(event, {"queue_worker.job.release_reason": s.reason or ""})
    elif s.kind == "lease_lost":
        span.add_event("lease_lost", {"queue_worker.job.reason": s.error or ""})
