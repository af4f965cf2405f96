"""Four real worker servers triggered at once drain 5,000 jobs, each completed exactly once.

Real: four functions-framework (gunicorn) server processes on local ports, HTTP over
TCP, PostgreSQL, the worker loop and the noop processor. Nothing faked.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import httpx
import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.functions.conftest import AUTH, serving

Conn = psycopg.Connection[dict[str, Any]]
JOBS, SERVERS = 5000, 4


def trigger_all(urls: list[str]) -> list[dict[str, Any]]:
    """POST process to every server at the same moment; their reports."""
    def call(url: str) -> dict[str, Any]:
        response = httpx.post(url + "?batch=100", headers=AUTH, timeout=120)
        assert response.status_code == 200, response.text
        report: dict[str, Any] = response.json()
        return report

    with ThreadPoolExecutor(len(urls)) as pool:
        return list(pool.map(call, urls))


def unfinished(conn: Conn) -> int:
    row = conn.execute("select count(*) as n from job_queue where status <> 'completed'").fetchone()
    assert row is not None
    return int(row["n"])


@pytest.mark.slow
def test_four_servers_triggered_at_once_complete_every_job_exactly_once(db_url: str, conn: Conn) -> None:
    conn.execute("select count(*) from enqueue_jobs(%s)", (Jsonb([{"type": "noop", "payload": {"i": i}}
                                                                   for i in range(JOBS)]),))
    reports: list[dict[str, Any]] = []
    with ExitStack() as stack:
        urls = [stack.enter_context(serving(db_url, DB_POOL_MAX="4"))[0] for _ in range(SERVERS)]
        deadline = time.monotonic() + 120
        while unfinished(conn):
            assert time.monotonic() < deadline, "the servers did not drain the queue in time"
            reports += trigger_all(urls)
    assert sum(r["completed"] for r in reports) == JOBS
    assert sum(r["claimed"] for r in reports) == JOBS
    assert len({r["worker_id"] for r in reports if r["claimed"]}) > 1, "only one server did any work"
    completions = conn.execute(
        "select job_id, count(*) as n from job_status_history where from_status = 'running' "
        "and to_status = 'completed' group by job_id").fetchall()
    assert len(completions) == JOBS
    assert {row["n"] for row in completions} == {1}
    assert conn.execute("select count(*) as n from job_queue where attempts <> 1").fetchone() == {"n": 0}
