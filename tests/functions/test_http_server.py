"""The worker function through real `functions-framework` server processes (gunicorn).

Real: functions-framework CLI and gunicorn in subprocesses on local ports, HTTP over
TCP (httpx), PostgreSQL, the worker loop, the noop processor, SIGTERM. Nothing faked.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import httpx
import psycopg

from tests.functions.conftest import AUTH, serving
from tests.sql.factories import enqueue, job

Conn = psycopg.Connection[dict[str, Any]]


def wait_for(condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {timeout} s")
        time.sleep(0.05)


def test_a_real_server_serves_the_contract_end_to_end(db_url: str, conn: Conn) -> None:
    with serving(db_url) as (url, _), httpx.Client(base_url=url, timeout=30) as http:
        assert http.get("?action=stats").status_code == 401
        created = http.post("?action=enqueue", json={"type": "noop", "payload": {"i": 1}}, headers=AUTH)
        assert created.status_code == 201
        assert created.headers["X-Request-Id"] == created.json()["request_id"]
        processed = http.post("", headers=AUTH)
        assert processed.status_code == 200
        assert processed.json()["completed"] == 1
        assert job(conn, created.json()["id"])["status"] == "completed"
        health = http.get("?action=health", headers=AUTH)
        assert health.status_code == 200
        assert health.json()["checks"]["last_worker_run"]["ok"] is True
        assert http.get("?action=stats", headers=AUTH).json()["by_status"] == {"completed": 1}
        assert http.get("", headers=AUTH).status_code == 405


def test_sigterm_during_process_stops_claiming_and_the_started_jobs_finish(db_url: str, conn: Conn) -> None:
    ids = [enqueue(conn, "noop", payload={"sleep_seconds": 2.0, "i": i}) for i in range(6)]
    result: dict[str, Any] = {}
    with serving(db_url) as (url, server):
        def call() -> None:
            result["response"] = httpx.post(url + "?batch=2", headers=AUTH, timeout=60)

        caller = threading.Thread(target=call)
        caller.start()
        running = "select count(*) as n from job_queue where status = 'running'"
        wait_for(lambda: conn.execute(running).fetchone() == {"n": 2}, 20, "two jobs running")
        server.send_signal(signal.SIGTERM)
        caller.join(30)
        assert not caller.is_alive()
        server.wait(30)
    body = result["response"].json()
    # Stopped after the round in flight (a slow machine may have begun a second one).
    assert body["claimed"] in (2, 4), body
    assert body["claimed"] == body["completed"] + body["released"], body
    statuses = sorted(job(conn, i)["status"] for i in ids)
    assert statuses == ["completed"] * body["completed"] + ["pending"] * (6 - body["completed"])
