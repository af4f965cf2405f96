"""The worker function through real `functions-framework` server processes (gunicorn).

Real: functions-framework CLI and gunicorn in subprocesses on local ports, HTTP over
TCP (httpx, or a raw socket that sends a request's head and only part of its body),
PostgreSQL, the worker loop, the noop processor, SIGTERM. Nothing faked.
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg

from tests.functions.conftest import AUTH, serving
from tests.sql.factories import enqueue, fingerprint, job

Conn = psycopg.Connection[dict[str, Any]]
BEARER = f"Authorization: {AUTH['Authorization']}"


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
        not_found = http.get("favicon.ico")  # refused by Flask itself, before the function
        assert (not_found.status_code, not_found.json()["error"]) == (404, "NotFound")


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


def answer_to_partial_body(url: str, head: str, body_part: bytes) -> tuple[int, dict[str, Any]]:
    """Send `head` (request line and headers) and `body_part`, then read the answer without
    sending the rest: a server that waited for the whole body would time out here."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=15) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body_part)
        response = http.client.HTTPResponse(sock)
        response.begin()
        body: dict[str, Any] = json.loads(response.read())
        assert response.getheader("Content-Type") == "application/json"
        return response.status, body


def head(query: str, *lines: str) -> str:
    return "\n".join([f"POST /{query} HTTP/1.1", "Host: localhost", "Content-Type: application/json",
                      *lines, ""])


def test_a_huge_unauthenticated_post_is_401_before_its_body_is_sent(db_url: str) -> None:
    with serving(db_url) as (url, _):
        status, body = answer_to_partial_body(url, head("?action=enqueue", "Content-Length: 200000000"),
                                              b"x" * 65536)
    assert status == 401
    assert body["error"] == "Unauthorized"


def test_an_authenticated_post_declaring_more_than_the_cap_is_413_before_its_body_is_sent(
        db_url: str, conn: Conn) -> None:
    before = fingerprint(conn)
    with serving(db_url) as (url, _):
        authorized = head("?action=enqueue", "Content-Length: 200000000", BEARER)
        status, body = answer_to_partial_body(url, authorized, b"x" * 65536)
    assert status == 413
    assert body["max_body_bytes"] == 4 * 1024 * 1024  # the default
    assert "200000000 bytes" in body["message"]
    assert fingerprint(conn) == before


def test_a_chunked_body_is_cut_off_with_413_as_soon_as_it_passes_the_cap(db_url: str, conn: Conn) -> None:
    before = fingerprint(conn)
    chunk = b"3e8\r\n" + b" " * 1000 + b"\r\n"  # 1000 bytes each; no final chunk is ever sent
    with serving(db_url, QUEUE_WORKER_MAX_BODY_BYTES="1500") as (url, _):
        chunked = head("?action=enqueue", "Transfer-Encoding: chunked", BEARER)
        status, body = answer_to_partial_body(url, chunked, chunk * 2)
    assert status == 413
    assert body["max_body_bytes"] == 1500
    assert "longer than that" in body["message"]
    assert fingerprint(conn) == before
