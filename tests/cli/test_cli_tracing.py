"""Traces from the `queue-worker` command: `enqueue` is a producer span the job carries,
`process --once` an invocation span with one span per job, linked to the enqueue's.

Real: PostgreSQL (a fresh migrated database per test), the CLI's own code paths, the noop
processor, the OpenTelemetry API and SDK (an in-memory exporter, configured in-process as
`opentelemetry-instrument` would). Nothing faked.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest
from opentelemetry.trace import SpanKind

from shared.cli.main import main
from shared.worker.tracing import INVOCATION_SPAN
from tests.sql.factories import job
from tests.support.spans import Spans

Conn = psycopg.Connection[dict[str, Any]]


def test_enqueue_then_process_once_trace_the_job_from_its_enqueue(
        cli_env: str, conn: Conn, capsys: pytest.CaptureFixture[str], spans: Spans) -> None:
    assert main(["enqueue", "noop", '{"i": 1}']) == 0
    job_id = UUID(capsys.readouterr().out.strip())
    producer = spans.one("enqueue noop")
    assert producer.parent is None  # the command is the root of its trace
    context = producer.context
    assert job(conn, job_id)["traceparent"] == (
        f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}")
    assert main(["process", "--once", "--type", "noop"]) == 0
    invocation = spans.one(INVOCATION_SPAN)
    assert invocation.attributes is not None
    assert invocation.attributes["queue_worker.invocation.types"] == ("noop",)
    assert invocation.attributes["queue_worker.invocation.completed"] == 1
    (consumer,) = [s for s in spans.named("process noop") if s.kind == SpanKind.CONSUMER]
    assert consumer.attributes is not None
    assert consumer.attributes["messaging.message.id"] == str(job_id)
    (link,) = consumer.links
    assert link.context.span_id == context.span_id
