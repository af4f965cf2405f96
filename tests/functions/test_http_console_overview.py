"""?action=overview: the console's Overview through the worker function.

Real: functions-framework's app (its test client), Flask, PostgreSQL, jobs enqueued, claimed
and completed through the SQL API. Nothing faked.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient

from tests.functions.conftest import AUTH, READONLY_AUTH


def _overview(client: FlaskClient, headers: dict[str, str] = AUTH) -> dict[str, Any]:
    response = client.get("/?action=overview", headers=headers)
    assert response.status_code == 200, response.json
    body: dict[str, Any] = response.json or {}
    return body


def test_the_overview_has_the_contracts_shape(client: FlaskClient) -> None:
    body = _overview(client)
    assert set(body) == {"generated_at", "types", "series", "recent_runs", "stale_claims", "dead_letters_1h",
                         "request_id"}
    noop = next(t for t in body["types"] if t["type"] == "noop")
    assert set(noop) == {"type", "enabled", "pending", "ready", "scheduled", "running", "completed_1h",
                         "failed_1h", "dead_lettered_1h", "dead_letters", "oldest_ready_age_seconds",
                         "run_ms_p50", "run_ms_p95"}
    assert len(body["series"]["minute"]) == 60
    assert len(body["series"]["quarter_hour"]) == 96
    assert set(body["series"]["minute"][0]) == {"at", "completed", "failed", "ready"}


def test_completed_jobs_show_up_in_the_overview(client: FlaskClient, db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("select enqueue_job('noop') from generate_series(1, 3)")
        conn.execute("select enqueue_job('email', '{}', 'normal', now() + interval '1 hour')")
        ids = [row[0] for row in conn.execute("select id from get_next_job('w1', '{noop}', 2)")]
        conn.execute("select complete_job(id, null, 'w1') from unnest(%s::uuid[]) id", (ids,))
        conn.execute("select queue.record_minute_stats(null, interval '0')")
        conn.execute("select worker_run_start('w1', '{}')")
    body = _overview(client)
    noop = next(t for t in body["types"] if t["type"] == "noop")
    email = next(t for t in body["types"] if t["type"] == "email")
    assert (noop["pending"], noop["ready"], noop["completed_1h"]) == (1, 1, 2)
    assert (email["pending"], email["scheduled"], email["ready"]) == (1, 1, 0)
    assert body["recent_runs"][0]["worker_id"] == "w1"


def test_the_readonly_token_reads_the_overview(client: FlaskClient) -> None:
    assert _overview(client, READONLY_AUTH)["types"]


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}])
def test_the_overview_needs_a_token(client: FlaskClient, headers: dict[str, str]) -> None:
    assert client.get("/?action=overview", headers=headers).status_code == 401


def test_a_body_that_is_not_json_is_refused(client: FlaskClient) -> None:
    response = client.post("/?action=overview", headers=AUTH, data=b"{nope",
                           content_type="application/json")
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["error"] == "InvalidBody"
