"""job_queue.traceparent: the enqueuer's trace context, taken by the column default from the
setting queue.traceparent, else from the PostgREST request's `traceparent` header.

Real: PostgreSQL (a fresh migrated database per test), enqueue_job / enqueue_jobs as plain
SQL. PostgREST's request.headers setting is set here as PostgREST sets it (JSON, lowercase
header names, local to the request's transaction); nothing else is faked.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
import pytest

from tests.sql.factories import enqueue, value

Conn = psycopg.Connection[dict[str, Any]]
TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
OTHER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"


def traceparent(conn: Conn, job_id: UUID) -> str | None:
    stored: str | None = value(conn, "select traceparent from job_queue where id = %s", (job_id,))
    return stored


def enqueue_with(conn: Conn, settings: dict[str, str]) -> UUID:
    """enqueue_job in a transaction that first sets `settings` locally."""
    with conn.transaction():
        for name, setting in settings.items():
            conn.execute("select set_config(%s, %s, true)", (name, setting))
        return enqueue(conn, "noop")


def test_a_job_enqueued_after_set_local_queue_traceparent_carries_it(conn: Conn) -> None:
    with conn.transaction():
        conn.execute(f"set local queue.traceparent = '{TRACEPARENT}'")
        job_id = enqueue(conn, "noop")
    assert traceparent(conn, job_id) == TRACEPARENT
    # The setting was local: the next enqueue, in its own transaction, carries none.
    assert traceparent(conn, enqueue(conn, "noop")) is None


def test_a_job_enqueued_without_any_trace_context_carries_none(conn: Conn) -> None:
    assert traceparent(conn, enqueue(conn, "noop")) is None


def test_every_job_of_a_bulk_enqueue_carries_the_setting(conn: Conn) -> None:
    with conn.transaction():
        conn.execute("select set_config('queue.traceparent', %s, true)", (TRACEPARENT,))
        ids = [row["id"] for row in conn.execute(
            """select enqueue_jobs as id from enqueue_jobs('[{"type": "noop"}, {"type": "noop"}]')""")]
    assert [traceparent(conn, i) for i in ids] == [TRACEPARENT, TRACEPARENT]


def test_the_postgrest_traceparent_header_is_taken_when_no_setting_is_made(conn: Conn) -> None:
    headers = f'{{"accept":"*/*","traceparent":"{TRACEPARENT}","user-agent":"supabase-js/2"}}'
    assert traceparent(conn, enqueue_with(conn, {"request.headers": headers})) == TRACEPARENT


def test_the_setting_wins_over_the_request_header(conn: Conn) -> None:
    headers = f'{{"traceparent":"{OTHER}"}}'
    job_id = enqueue_with(conn, {"request.headers": headers, "queue.traceparent": TRACEPARENT})
    assert traceparent(conn, job_id) == TRACEPARENT


@pytest.mark.parametrize("given", [
    "garbage",
    "",
    TRACEPARENT.upper(),  # W3C: lowercase hex only
    TRACEPARENT + "-extra",  # version 00 has exactly four fields
    "01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",  # a version this does not know
    "00-00000000000000000000000000000000-b7ad6b7169203331-01",  # all-zero trace id is invalid
    "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",  # all-zero span id is invalid
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01",  # span id one digit short
    f" {TRACEPARENT}",
    f"{TRACEPARENT}'; drop table job_queue; --",
])
def test_a_malformed_traceparent_setting_is_stored_as_null(conn: Conn, given: str) -> None:
    job_id = enqueue_with(conn, {"queue.traceparent": given})
    assert traceparent(conn, job_id) is None


@pytest.mark.parametrize("headers", [
    "not json at all {",  # a hand-made setting: the default parses no JSON, so it cannot fail
    "",
    "{}",
    '{"traceparent":"not-a-traceparent"}',
    f'{{"traceparent":"{TRACEPARENT},{OTHER}"}}',  # two headers joined by a proxy
    # Another header whose value merely contains the text: JSON escapes its quotes.
    f'{{"x-note":"\\"traceparent\\":\\"{TRACEPARENT}\\""}}',
])
def test_a_request_header_that_names_no_valid_traceparent_gives_null(conn: Conn, headers: str) -> None:
    assert traceparent(conn, enqueue_with(conn, {"request.headers": headers})) is None


def test_adding_the_column_rewrote_nothing_and_left_enqueue_and_claim_alone(conn: Conn) -> None:
    column = conn.execute(
        "select a.attnotnull, a.atthasmissing, pg_get_expr(d.adbin, d.adrelid) as default_sql "
        "from pg_attribute a left join pg_attrdef d on (d.adrelid, d.adnum) = (a.attrelid, a.attnum) "
        "where a.attrelid = 'public.job_queue'::regclass and a.attname = 'traceparent'").fetchone()
    assert column is not None
    assert column["attnotnull"] is False
    assert column["atthasmissing"] is False  # no default value was stored for existing rows
    assert "queue.traceparent" in column["default_sql"]
    assert "request.headers" in column["default_sql"]
    for function in ("enqueue_job", "enqueue_jobs", "get_next_job"):
        body = value(conn, "select string_agg(prosrc, '') from pg_proc where proname = %s", (function,))
        assert "traceparent" not in body
