"""The trace context a job carries from its enqueuer to its worker: a W3C traceparent in
job_queue.traceparent (see supabase/migrations/20260107000300_job_traceparent.sql).

Through opentelemetry-api only. Both backends wrap their enqueue call in `enqueue_span`:
- when no TracerProvider is configured and no valid span is current (tracing off), it
  yields None at once: no span, and the enqueue sends exactly the statement it always did;
- otherwise it opens a PRODUCER span `enqueue <type>` (a child of the current span, or a
  root, e.g. in the CLI) and yields its traceparent, which the backend hands to the
  database (PostgresBackend: the setting queue.traceparent in the enqueue statement;
  SupabaseBackend: a `traceparent` header). The worker's span for each job links to it.
  With the API alone (no SDK) but a context a framework propagated, that context is
  passed on as it is.
The W3C propagator is used directly, not the global one: the column holds a traceparent
whatever propagators (B3, ...) the process exports with.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from shared.queue.models import NewJob

TRACER_NAME = "queue_worker"
SYSTEM = "queue_worker"  # messaging.system
W3C = TraceContextTextMapPropagator()


def tracer_provider_configured() -> bool:
    """Whether the process set a TracerProvider (an SDK): until then the API's is a proxy."""
    return not isinstance(trace.get_tracer_provider(), ProxyTracerProvider | trace.NoOpTracerProvider)


def traceparent_of(span: trace.Span) -> str | None:
    """The span's W3C traceparent, or None when its context is not valid."""
    if not span.get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    W3C.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent")


def span_context_of(traceparent: str | None) -> trace.SpanContext | None:
    """The (remote) span context a stored traceparent names, or None if it names none."""
    if not traceparent:
        return None
    context = trace.get_current_span(W3C.extract({"traceparent": traceparent})).get_span_context()
    return context if context.is_valid else None


@contextmanager
def enqueue_span(jobs: Sequence[NewJob]) -> Iterator[str | None]:
    """Around one enqueue call: the traceparent the jobs are to carry, or None (tracing off).
    An exception raised inside is recorded on the span (status ERROR) and goes on."""
    if not tracer_provider_configured() and not trace.get_current_span().get_span_context().is_valid:
        yield None
        return
    types = sorted({job.type for job in jobs})
    attributes: dict[str, str | int] = {
        "messaging.system": SYSTEM, "messaging.operation.type": "send",
        "messaging.operation.name": "enqueue"}
    if len(types) == 1:
        attributes["messaging.destination.name"] = types[0]
    if len(jobs) != 1:
        attributes["messaging.batch.message_count"] = len(jobs)
    name = f"enqueue {types[0]}" if len(types) == 1 else "enqueue"
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(name, kind=SpanKind.PRODUCER, attributes=attributes) as span:
        yield traceparent_of(span)


def enqueued(ids: Sequence[object]) -> None:
    """Inside `enqueue_span`: name the job on its span (messaging.message.id) when there is one."""
    span = trace.get_current_span()
    if len(ids) == 1 and span.is_recording():
        span.set_attribute("messaging.message.id", str(ids[0]))
