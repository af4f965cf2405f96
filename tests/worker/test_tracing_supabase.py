"""Trace context over the supabase-py path: SupabaseBackend's enqueue sends the current
span's traceparent as a header, PostgREST hands it to the column default (request.headers),
and the job's span links to it; any HTTP caller sending the header (supabase-js) gets the same.

Real: PostgreSQL, supabase-py, httpx, the worker loop, the OpenTelemetry API and SDK (an
in-memory exporter). Stand-in: tests/support/postgrest.py, a small PostgREST-compatible
endpoint over the same database that sets request.headers as PostgREST does (PostgREST
itself cannot be installed here; it says so in its docstring).
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.trace import ProxyTracerProvider, SpanKind

from shared.config import Settings
from shared.queue.models import NewJob
from shared.queue.supabase import SupabaseBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.support.postgrest import PostgrestEndpoint, postgrest
from tests.support.spans import Spans
from tests.worker.conftest import AddType, Conn
from tests.worker.procs import ok, processor

__all__ = ["postgrest"]
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


@pytest.fixture
def supabase_backend(postgrest: PostgrestEndpoint) -> Iterator[SupabaseBackend]:
    chosen = SupabaseBackend(postgrest.url, postgrest.service_role_key, timeout=10)
    yield chosen
    chosen.close()


def stored_traceparent(conn: Conn, job_id: UUID) -> str | None:
    row = conn.execute("select traceparent from job_queue where id = %s", (job_id,)).fetchone()
    assert row is not None
    found: str | None = row["traceparent"]
    return found


def test_a_job_enqueued_through_supabase_links_its_span_to_the_enqueue(
        supabase_backend: SupabaseBackend, add_type: AddType, conn: Conn, settings: Settings,
        spans: Spans) -> None:
    add_type("t_sb")
    with trace.get_tracer("test").start_as_current_span("checkout"):
        (job_id,) = supabase_backend.jobs_enqueue([NewJob(type="t_sb")])
    producer = spans.one("enqueue t_sb")
    assert producer.attributes is not None
    assert producer.attributes["messaging.message.id"] == str(job_id)
    context = producer.context
    assert stored_traceparent(conn, job_id) == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}")
    run_invocation(supabase_backend, settings, InvocationOptions(time_budget_seconds=60),
                   registry={"t_sb": processor("t_sb", ok)})
    (consumer,) = [s for s in spans.named("process t_sb") if s.kind == SpanKind.CONSUMER]
    (link,) = consumer.links
    assert link.context.span_id == context.span_id


def test_a_client_sending_a_traceparent_header_to_enqueue_job_stores_it(
        postgrest: PostgrestEndpoint, conn: Conn) -> None:
    """What supabase-js does with `headers: {traceparent}` (or a fetch its tracing instruments)."""
    keys = {"apikey": postgrest.service_role_key, "Authorization": f"Bearer {postgrest.service_role_key}"}
    answer = httpx.post(f"{postgrest.url}/rest/v1/rpc/enqueue_job", json={"p_type": "noop"},
                        headers={**keys, "traceparent": TRACEPARENT}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert stored_traceparent(conn, UUID(answer.json())) == TRACEPARENT
    malformed = httpx.post(f"{postgrest.url}/rest/v1/rpc/enqueue_job", json={"p_type": "noop"},
                           headers={**keys, "traceparent": "00-nope"}, timeout=10)
    assert malformed.status_code == 200, malformed.text
    assert stored_traceparent(conn, UUID(malformed.json())) is None


def test_without_an_sdk_the_supabase_enqueue_sends_no_traceparent(
        supabase_backend: SupabaseBackend, add_type: AddType, conn: Conn) -> None:
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
    add_type("t_sb")
    (job_id,) = supabase_backend.jobs_enqueue([NewJob(type="t_sb")])
    assert stored_traceparent(conn, job_id) is None
