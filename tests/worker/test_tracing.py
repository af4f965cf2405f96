"""OpenTelemetry spans of an invocation and its jobs, and the link from a job's span to the
span that enqueued it.

Real: PostgreSQL (a fresh migrated database per test), PostgresBackend, the worker loop and
its thread pool, the OpenTelemetry API and SDK (a TracerProvider with the SDK's
InMemorySpanExporter, `spans` fixture). Test-only job types and processors
(tests/worker/procs.py). Nothing faked.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import ProxyTracerProvider, SpanKind, StatusCode

from shared.config import Settings
from shared.processors.base import JobContext, PermanentError, RateLimitedError, RetryableError
from shared.queue.models import Job, NewJob
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, InvocationReport, run_invocation
from shared.worker.tracing import ATTEMPT, INVOCATION_SPAN
from tests.support.spans import Spans
from tests.worker.conftest import AddType, Conn, enqueue
from tests.worker.procs import Counted, ok, processor

ONE_ROUND = InvocationOptions(batch_size=10, time_budget_seconds=60)
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


class ClaimFlags(PostgresBackend):
    """The real backend, noting whether each claim asked for the jobs' traceparents."""

    asked: list[bool]

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        self.asked.append(with_traceparent)
        return super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                  with_traceparent=with_traceparent)


def run(backend: PostgresBackend, settings: Settings, *modules: Any,
        options: InvocationOptions = ONE_ROUND) -> InvocationReport:
    return run_invocation(backend, settings, options, registry={m.JOB_TYPE: m for m in modules})


def raiser(exc: Exception) -> Any:
    def handle(payload: Any, ctx: JobContext) -> Any:
        raise exc
    return handle


def stored_traceparent(conn: Conn, job_id: UUID) -> str | None:
    row = conn.execute("select traceparent from job_queue where id = %s", (job_id,)).fetchone()
    assert row is not None
    found: str | None = row["traceparent"]
    return found


def job_span(spans: Spans, job_id: UUID) -> ReadableSpan:
    found = [s for s in spans.all() if s.kind == SpanKind.CONSUMER
             and (s.attributes or {}).get("messaging.message.id") == str(job_id)]
    assert len(found) == 1, [s.name for s in spans.all()]
    return found[0]


def exception_types(span: ReadableSpan) -> list[Any]:
    return [e.attributes.get("exception.type") for e in span.events if e.name == "exception" and e.attributes]


def test_each_job_gets_a_consumer_span_under_the_invocation_span(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans) -> None:
    add_type("t_ok")
    first, second = enqueue(backend, "t_ok", {}, {})
    report = run(backend, settings, processor("t_ok", ok))
    invocation = spans.one(INVOCATION_SPAN)
    assert invocation.kind == SpanKind.INTERNAL
    assert invocation.parent is None
    assert dict(invocation.attributes or {}) == {
        "messaging.system": "queue_worker", "messaging.client.id": report.worker_id,
        "messaging.operation.name": "invoke", "messaging.batch.message_count": 2,
        "queue_worker.invocation.completed": 2, "queue_worker.invocation.retried": 0,
        "queue_worker.invocation.dead_lettered": 0, "queue_worker.invocation.released": 0,
        "queue_worker.invocation.lease_lost": 0}
    for job_id in (first, second):
        span = job_span(spans, job_id)
        assert span.name == "process t_ok"
        assert span.kind == SpanKind.CONSUMER
        assert span.parent is not None
        assert span.parent.span_id == invocation.context.span_id
        assert span.context.trace_id == invocation.context.trace_id
        assert dict(span.attributes or {}) == {
            "messaging.system": "queue_worker", "messaging.operation.type": "process",
            "messaging.operation.name": "process", "messaging.destination.name": "t_ok",
            "messaging.message.id": str(job_id), "messaging.client.id": report.worker_id,
            ATTEMPT: 1, "queue_worker.job.outcome": "completed"}
        assert span.status.status_code == StatusCode.UNSET
    # Enqueued outside any span, with an SDK configured: the enqueue (one call for both) was
    # a root producer span, and each job links to it.
    producer = spans.one("enqueue t_ok")
    assert producer.parent is None
    for job_id in (first, second):
        (link,) = job_span(spans, job_id).links
        assert link.context.span_id == producer.context.span_id


def test_the_job_span_links_to_the_span_that_enqueued_it(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, spans: Spans) -> None:
    add_type("t_ok")
    with trace.get_tracer("test").start_as_current_span("signup request") as request:
        (job_id,) = enqueue(backend, "t_ok", {})
    producer = spans.one("enqueue t_ok")
    assert producer.kind == SpanKind.PRODUCER
    assert producer.parent is not None
    assert producer.parent.span_id == request.get_span_context().span_id
    assert dict(producer.attributes or {}) == {
        "messaging.system": "queue_worker", "messaging.operation.type": "send",
        "messaging.operation.name": "enqueue", "messaging.destination.name": "t_ok",
        "messaging.message.id": str(job_id)}
    context = producer.context
    assert stored_traceparent(conn, job_id) == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}")
    run(backend, settings, processor("t_ok", ok))
    (link,) = job_span(spans, job_id).links
    assert (link.context.trace_id, link.context.span_id) == (producer.context.trace_id,
                                                            producer.context.span_id)
    assert link.context.is_remote


def test_a_bulk_enqueue_is_one_producer_span_every_job_links_to(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans) -> None:
    add_type("t_ok")
    add_type("t_other")
    ids = backend.jobs_enqueue([NewJob(type="t_ok"), NewJob(type="t_other"), NewJob(type="t_ok")])
    producer = spans.one("enqueue")
    assert producer.attributes is not None
    assert producer.attributes["messaging.batch.message_count"] == 3
    assert "messaging.destination.name" not in producer.attributes  # two types: no one destination
    run(backend, settings, processor("t_ok", ok), processor("t_other", ok))
    for job_id in ids:
        (link,) = job_span(spans, job_id).links
        assert link.context.span_id == producer.context.span_id


def test_a_job_enqueued_over_sql_with_set_local_queue_traceparent_links_to_it(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, spans: Spans) -> None:
    add_type("t_ok")
    with conn.transaction():
        conn.execute(f"set local queue.traceparent = '{TRACEPARENT}'")
        row = conn.execute("select enqueue_job('t_ok') as id").fetchone()
    assert row is not None
    run(backend, settings, processor("t_ok", ok))
    (link,) = job_span(spans, row["id"]).links
    assert f"{link.context.trace_id:032x}" == "0af7651916cd43dd8448eb211c80319c"
    assert f"{link.context.span_id:016x}" == "b7ad6b7169203331"


def test_a_malformed_stored_traceparent_makes_no_link_and_no_error(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, spans: Spans) -> None:
    add_type("t_ok")
    (job_id,) = enqueue(backend, "t_ok", {})
    # Written past the default (the service role may update rows): the worker must cope.
    conn.execute("update job_queue set traceparent = 'not-a-traceparent' where id = %s", (job_id,))
    report = run(backend, settings, processor("t_ok", ok))
    assert report.completed == 1
    assert job_span(spans, job_id).links == ()


@pytest.mark.parametrize(("raised", "outcome", "error_type", "retryable"), [
    (RetryableError("provider 503"), "retried", "shared.failures.RetryableError", True),
    (PermanentError("card declined"), "dead_lettered", "shared.failures.PermanentError", False),
    (RateLimitedError("slow down", retry_after=60), "released", "shared.failures.RateLimitedError", True),
    (KeyError("boom"), "retried", "KeyError", True),
])
def test_a_failing_job_span_has_the_exception_the_error_status_and_the_outcome(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans,
        raised: Exception, outcome: str, error_type: str, retryable: bool) -> None:
    add_type("t_fail", max_attempts=3)
    (job_id,) = enqueue(backend, "t_fail", {})
    run(backend, settings, processor("t_fail", raiser(raised)))
    span = job_span(spans, job_id)
    assert span.status.status_code == StatusCode.ERROR
    assert span.status.description
    assert str(raised.args[0]) in span.status.description
    assert span.attributes is not None
    assert span.attributes["queue_worker.job.outcome"] == outcome
    assert span.attributes["error.type"] == error_type
    assert span.attributes["queue_worker.job.retryable"] is retryable
    assert exception_types(span) == [error_type]
    invocation = spans.one(INVOCATION_SPAN)
    assert invocation.status.status_code == StatusCode.UNSET  # a job failed, not the invocation


def test_a_job_out_of_attempts_is_dead_lettered_on_its_span(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans) -> None:
    add_type("t_last", max_attempts=1)
    (job_id,) = enqueue(backend, "t_last", {})
    run(backend, settings, processor("t_last", raiser(RetryableError("still down"))))
    span = job_span(spans, job_id)
    assert span.attributes is not None
    assert (span.attributes["queue_worker.job.outcome"], span.attributes["queue_worker.job.retryable"]) == (
        "dead_lettered", True)


def test_an_invalid_payload_and_a_timeout_are_errors_on_the_job_span(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans) -> None:
    add_type("t_count")
    add_type("t_slow", timeout_seconds=1)
    (bad,) = enqueue(backend, "t_count", {"n": "many"})

    def slow(payload: Any, ctx: JobContext) -> None:
        time.sleep(3)

    (late,) = enqueue(backend, "t_slow", {})
    run(backend, settings, processor("t_count", ok, Counted), processor("t_slow", slow))
    invalid = job_span(spans, bad)
    assert invalid.status.status_code == StatusCode.ERROR
    assert invalid.attributes is not None
    assert invalid.attributes["error.type"] == "shared.worker.runner.InvalidPayload"
    assert invalid.attributes["queue_worker.job.outcome"] == "dead_lettered"
    assert "payload.n" in (invalid.status.description or "")
    timed_out = job_span(spans, late)
    assert timed_out.attributes is not None
    assert timed_out.attributes["error.type"] == "TimeoutError"
    assert exception_types(timed_out) == ["TimeoutError"]


def test_what_a_processor_traces_nests_under_its_job_span(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans) -> None:
    add_type("t_inner")

    def handle(payload: Any, ctx: JobContext) -> dict[str, Any]:
        with trace.get_tracer("provider").start_as_current_span("POST api.example.com"):
            return {}

    (job_id,) = enqueue(backend, "t_inner", {})
    run(backend, settings, processor("t_inner", handle))
    inner = spans.one("POST api.example.com")
    assert inner.parent is not None
    assert inner.parent.span_id == job_span(spans, job_id).context.span_id


def test_a_checkpoint_is_an_event_not_an_error(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans) -> None:
    from shared.processors.base import CheckpointAndContinue

    add_type("t_ckpt")
    (job_id,) = enqueue(backend, "t_ckpt", {})
    run(backend, settings, processor("t_ckpt", raiser(CheckpointAndContinue({"page": 2}, retry_after=60))))
    span = job_span(spans, job_id)
    assert span.status.status_code == StatusCode.UNSET
    assert [e.name for e in span.events] == ["checkpoint"]
    assert span.attributes is not None
    assert span.attributes["queue_worker.job.outcome"] == "released"


def test_a_tracing_worker_reads_traceparents_with_its_claims(
        db_url: str, settings: Settings, add_type: AddType, spans: Spans) -> None:
    add_type("t_ok")
    backend = ClaimFlags(db_url)
    backend.asked = []
    try:
        enqueue(backend, "t_ok", {})
        run(backend, settings, processor("t_ok", ok))
    finally:
        backend.close()
    assert backend.asked
    assert all(backend.asked)


def test_without_an_sdk_nothing_is_recorded_no_traceparent_stored_and_claims_read_none(
        db_url: str, settings: Settings, add_type: AddType, conn: Conn) -> None:
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)  # no SDK in this test
    add_type("t_ok")
    backend = ClaimFlags(db_url)
    backend.asked = []
    try:
        with trace.get_tracer("test").start_as_current_span("request") as request:
            assert not request.get_span_context().is_valid  # the API alone makes no real span
            (job_id,) = enqueue(backend, "t_ok", {})
        report = run(backend, settings, processor("t_ok", ok))
    finally:
        backend.close()
    assert report.completed == 1
    assert stored_traceparent(conn, job_id) is None
    assert backend.asked
    assert not any(backend.asked)


def test_a_failed_invocation_ends_its_spans_with_the_error(
        backend: PostgresBackend, settings: Settings, add_type: AddType, conn: Conn, spans: Spans) -> None:
    add_type("t_ok")
    enqueue(backend, "t_ok", {})

    def lose_the_database(payload: Any, ctx: JobContext) -> dict[str, Any]:
        conn.execute("alter table job_queue rename to job_queue_gone")  # every settle now fails
        return {}

    try:
        with pytest.raises(Exception, match="job_queue"):
            run(backend, settings, processor("t_ok", lose_the_database))
    finally:
        conn.execute("alter table job_queue_gone rename to job_queue")
    invocation = spans.one(INVOCATION_SPAN)
    assert invocation.status.status_code == StatusCode.ERROR
    (span,) = spans.named("process t_ok")
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "unsettled"


def test_a_resident_worker_traces_each_invocation_as_its_own_root_span(
        backend: PostgresBackend, settings: Settings, add_type: AddType, spans: Spans) -> None:
    from tests.worker.test_resident import Recorder, resident

    add_type("t_res")
    recorder = Recorder()
    with resident(backend, settings, {"t_res": processor("t_res", recorder.handle)}, listen_url=None,
                  poll=0.1):
        (job_id,) = enqueue(backend, "t_res", {})
        assert recorder.done.wait(5)
    invocations = spans.named(INVOCATION_SPAN)
    assert len(invocations) >= 2  # the idle one before the enqueue, the one that ran the job, ...
    assert all(s.parent is None for s in invocations)
    assert len({s.context.trace_id for s in invocations}) == len(invocations)
    span = job_span(spans, job_id)
    assert span.parent is not None
    assert span.parent.span_id in {s.context.span_id for s in invocations}
