"""`POST /` (action process): the function drains ready jobs with the real worker loop.

Real: functions-framework's app (its test client), PostgreSQL, the worker loop and the
noop processor. Nothing faked.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask.testing import FlaskClient

from tests.functions.conftest import AUTH
from tests.sql.factories import enqueue, job

Conn = psycopg.Connection[dict[str, Any]]


def test_process_runs_ready_jobs_and_reports_each_outcome(client: FlaskClient, conn: Conn) -> None:
    ok = enqueue(conn, "noop")
    retried = enqueue(conn, "noop", payload={"fail": "retryable"})
    dead = enqueue(conn, "noop", payload={"fail": "permanent"})
    response = client.post("/", headers=AUTH)
    assert response.status_code == 200
    body = response.json
    assert body is not None
    assert (body["claimed"], body["completed"], body["retried"], body["dead_lettered"]) == (3, 1, 1, 1)
    assert body["by_type"] == {"noop": {"completed": 1, "retried": 1, "dead_lettered": 1}}
    assert {j["id"]: j["outcome"] for j in body["jobs"]} == {
        str(ok): "completed", str(retried): "retried", str(dead): "dead_lettered"}
    assert job(conn, ok)["status"] == "completed"
    assert body["duration_seconds"] >= 0


def test_process_keeps_claiming_batches_until_nothing_is_ready(client: FlaskClient, conn: Conn) -> None:
    ids = [enqueue(conn, "noop", payload={"i": i}) for i in range(7)]
    response = client.post("/?batch=2", headers=AUTH)
    assert response.json is not None
    assert response.json["completed"] == 7
    assert {job(conn, i)["status"] for i in ids} == {"completed"}


def test_process_restricted_to_other_types_leaves_the_rest_alone(client: FlaskClient, conn: Conn) -> None:
    waiting = enqueue(conn, "noop")
    response = client.post("/?type=email", headers=AUTH)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["claimed"] == 0
    assert job(conn, waiting)["status"] == "pending"
    assert job(conn, waiting)["attempts"] == 0


def test_process_records_the_invocation_for_health(client: FlaskClient, conn: Conn) -> None:
    enqueue(conn, "noop")
    worker_id = (client.post("/?type=noop", json={}, headers=AUTH).json or {})["worker_id"]
    run = conn.execute("select claimed, completed, finished_at from worker_runs where worker_id = %s",
                       (worker_id,)).fetchone()
    assert run is not None
    assert (run["claimed"], run["completed"]) == (1, 1)
    assert run["finished_at"] is not None
    health = client.get("/?action=health", headers=AUTH).json
    assert health is not None
    assert health["checks"]["last_worker_run"]["details"]["worker_id"] == worker_id
