"""Traces through the worker function: `?action=enqueue` makes the producer span the job
carries, `POST /` the invocation's span and one span per job, linked to the enqueue's; a
caller's `traceparent` header is the parent of both.

Real: functions-framework's app (its test client), PostgreSQL, the worker loop, the noop
processor, the OpenTelemetry API and SDK (an in-memory exporter); the Lambda entry with a
function URL event as AWS sends it. Nothing faked.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any
from uuid import UUID

import psycopg
from flask.testing import FlaskClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from functions.queue_worker.aws_lambda import handler
from shared.worker.tracing import INVOCATION_SPAN
from tests.functions.conftest import AUTH, SECRET
from tests.sql.factories import value
from tests.support.spans import Spans

Conn = psycopg.Connection[dict[str, Any]]
CALLER = "00-5b8aa5a2d2c872e8321cf37308d69df2-051581bf3cb55c13-01"
CALLER_TRACE, CALLER_SPAN = int("5b8aa5a2d2c872e8321cf37308d69df2", 16), int("051581bf3cb55c13", 16)


def consumer_span(spans: Spans, job_id: str) -> ReadableSpan:
    (found,) = [s for s in spans.all() if s.kind == SpanKind.CONSUMER
                and (s.attributes or {}).get("messaging.message.id") == job_id]
    return found


def test_an_enqueue_then_a_process_request_link_the_job_span_to_the_enqueue(
        client: FlaskClient, conn: Conn, spans: Spans) -> None:
    enqueued = client.post("/?action=enqueue", headers=AUTH, json={"type": "noop", "payload": {"i": 1}})
    assert enqueued.status_code == 201
    assert enqueued.json is not None
    job_id = enqueued.json["id"]
    producer = spans.one("enqueue noop")
    assert producer.kind == SpanKind.PRODUCER
    assert value(conn, "select traceparent from job_queue where id = %s", (UUID(job_id),)) is not None
    processed = client.post("/", headers=AUTH)
    assert processed.json is not None
    assert processed.json["completed"] == 1
    invocation = spans.one(INVOCATION_SPAN)
    assert invocation.attributes is not None
    assert invocation.attributes["messaging.client.id"] == processed.json["worker_id"]
    span = consumer_span(spans, job_id)
    assert span.name == "process noop"
    assert span.parent is not None
    assert span.parent.span_id == invocation.context.span_id
    (link,) = span.links
    assert link.context.span_id == producer.context.span_id


def test_a_failing_job_through_the_function_is_an_error_on_its_span(
        client: FlaskClient, conn: Conn, spans: Spans) -> None:
    enqueued = client.post("/?action=enqueue", headers=AUTH,
                           json={"type": "noop", "payload": {"fail": "permanent"}})
    assert enqueued.json is not None
    client.post("/", headers=AUTH)
    span = consumer_span(spans, enqueued.json["id"])
    assert span.status.status_code == StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["queue_worker.job.outcome"] == "dead_lettered"
    assert span.attributes["error.type"] == "shared.failures.PermanentError"
    assert [e.name for e in span.events] == ["exception"]


def test_the_callers_traceparent_header_is_the_parent_of_the_functions_spans(
        client: FlaskClient, spans: Spans) -> None:
    headers = {**AUTH, "traceparent": CALLER}
    client.post("/?action=enqueue", headers=headers, json={"type": "noop"})
    client.post("/", headers=headers)
    for span in (spans.one("enqueue noop"), spans.one(INVOCATION_SPAN)):
        assert span.context.trace_id == CALLER_TRACE
        assert span.parent is not None
        assert span.parent.span_id == CALLER_SPAN


def test_a_malformed_caller_traceparent_starts_a_new_trace(client: FlaskClient, spans: Spans) -> None:
    client.post("/", headers={**AUTH, "traceparent": "00-zz-yy-01"})
    invocation = spans.one(INVOCATION_SPAN)
    assert invocation.parent is None
    assert invocation.context.trace_id != CALLER_TRACE


def test_without_an_sdk_the_function_records_nothing_and_stores_no_traceparent(
        client: FlaskClient, conn: Conn) -> None:
    enqueued = client.post("/?action=enqueue", headers={**AUTH, "traceparent": CALLER}, json={"type": "noop"})
    assert enqueued.json is not None
    job_id = UUID(enqueued.json["id"])
    assert value(conn, "select traceparent from job_queue where id = %s", (job_id,)) is None
    assert client.post("/", headers=AUTH).status_code == 200


def test_the_lambda_entry_continues_the_callers_trace(worker_env: None, conn: Conn, spans: Spans) -> None:
    conn.execute("select enqueue_job('noop')")
    event = {"version": "2.0", "rawPath": "/", "rawQueryString": "",
             "headers": {"authorization": f"Bearer {SECRET}", "traceparent": CALLER},
             "requestContext": {"http": {"method": "POST", "path": "/"}}, "body": "",
             "isBase64Encoded": False}
    response = handler(event, SimpleNamespace(aws_request_id="c0ffee-2"))
    assert json.loads(response["body"])["completed"] == 1
    invocation = spans.one(INVOCATION_SPAN)
    assert invocation.parent is not None
    assert (invocation.context.trace_id, invocation.parent.span_id) == (CALLER_TRACE, CALLER_SPAN)
