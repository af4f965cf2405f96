"""The caller's trace context for one HTTP request: its W3C `traceparent` header made the
current context while the request is answered, so the spans the action makes (the
invocation's, an enqueue's) continue the caller's trace.

Only when an SDK is configured (tracing off: nothing is read) and no span is current yet
(an instrumented Flask, or the platform's own instrumentation, already continued it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from opentelemetry import context, trace

from shared.queue.trace_context import W3C, tracer_provider_configured


@contextmanager
def caller_context(header: Callable[[str], str | None]) -> Iterator[None]:
    """`header(name)`: the request's header of that name (case-insensitive), or None."""
    if not tracer_provider_configured() or trace.get_current_span().get_span_context().is_valid:
        yield
        return
    traceparent = header("traceparent")
    if not traceparent:
        yield
        return
    token = context.attach(W3C.extract({"traceparent": traceparent}))
    try:
        yield
    finally:
        context.detach(token)
