"""The README's "Adding a job type" example works as printed: its module, loaded from the
README's code block, and its migration, run from the README's SQL block, process webhook
jobs through the real worker loop.

Real: PostgreSQL with every migration plus the README's, the worker loop
(`run_invocation`), httpx over a real socket. Faked: the webhook subscriber, a local HTTP
server answering each delivery with the status the test queues up.
"""

from __future__ import annotations

import json
import re
import sys
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar

import psycopg
import pytest

from shared.config import REPO_ROOT, Settings
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.processors.local_server import serve

Conn = psycopg.Connection[dict[str, Any]]


def readme_block(name: str) -> str:
    """The fenced block right after `<!-- example: name -->` in the README."""
    text = (REPO_ROOT / "README.md").read_text()
    found = re.search(rf"<!-- example: {name} -->\n```\w+\n(.*?)\n```", text, re.DOTALL)
    assert found, f"README has no `{name}` example block"
    return found.group(1)


@pytest.fixture
def webhook_module() -> Iterator[types.ModuleType]:
    module = types.ModuleType("readme_webhook")
    sys.modules[module.__name__] = module  # pydantic resolves annotations through sys.modules
    try:
        exec(compile(readme_block("processor"), "README.md:webhook", "exec"), module.__dict__)  # noqa: S102 (the README's own code)
        yield module
    finally:
        del sys.modules[module.__name__]


class Subscriber(BaseHTTPRequestHandler):
    """Answers each POST with the next queued status; records every delivery."""

    statuses: ClassVar[list[int]] = []
    deliveries: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.deliveries.append({"key": self.headers["Idempotency-Key"], "body": body})
        status = self.statuses.pop(0) if self.statuses else 200
        self.send_response(status)
        if status == 429:
            self.send_header("Retry-After", "7")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def subscriber() -> Iterator[str]:
    Subscriber.statuses, Subscriber.deliveries = [], []
    with serve(Subscriber) as url:
        yield url


@pytest.fixture
def migrated(conn: Conn) -> Conn:
    conn.execute(readme_block("migration"))
    return conn


def drain(db_url: str, module: types.ModuleType) -> dict[str, str]:
    """One invocation over webhook jobs; {job id: outcome}."""
    backend = PostgresBackend(db_url, max_size=2)
    try:
        report = run_invocation(backend, Settings(_env_file=None), InvocationOptions(types=["webhook"]),
                                registry={"webhook": module})
    finally:
        backend.close()
    return {str(job.id): job.outcome for job in report.jobs}


def enqueue(conn: Conn, payload: dict[str, Any]) -> str:
    row = conn.execute("select enqueue_job('webhook', %s)::text as id",
                       (psycopg.types.json.Jsonb(payload),)).fetchone()
    assert row is not None
    return str(row["id"])


def make_ready(conn: Conn) -> None:
    conn.execute("update job_queue set run_at = now() where status = 'pending'")


def test_the_migration_registers_the_type_within_the_budget(migrated: Conn) -> None:
    row = migrated.execute("select timeout_seconds from job_types where name = 'webhook'").fetchone()
    assert row is not None
    assert row["timeout_seconds"] <= Settings(_env_file=None).queue_worker_time_budget_seconds
    recorded = "select 1 from queue.schema_migrations where version = '20260201000000'"
    assert migrated.execute(recorded).fetchone()


def test_a_delivery_completes_with_the_job_id_as_idempotency_key(
        migrated: Conn, db_url: str, webhook_module: types.ModuleType, subscriber: str) -> None:
    job_id = enqueue(migrated, {"url": f"{subscriber}/hooks", "event": "track.ready", "data": {"id": 7}})
    assert drain(db_url, webhook_module) == {job_id: "completed"}
    assert Subscriber.deliveries == [{"key": job_id, "body": {"event": "track.ready", "data": {"id": 7}}}]
    row = migrated.execute("select status, result from job_queue where id = %s", (job_id,)).fetchone()
    assert row == {"status": "completed", "result": {"status": 200}}


def test_a_5xx_retries_with_the_same_key_and_a_4xx_dead_letters(
        migrated: Conn, db_url: str, webhook_module: types.ModuleType, subscriber: str) -> None:
    job_id = enqueue(migrated, {"url": subscriber, "event": "e"})
    Subscriber.statuses = [503, 400]
    assert drain(db_url, webhook_module) == {job_id: "retried"}
    make_ready(migrated)
    assert drain(db_url, webhook_module) == {job_id: "dead_lettered"}
    assert [d["key"] for d in Subscriber.deliveries] == [job_id, job_id]
    letter = "select last_error from job_dead_letter where job_id = %s"
    refused = {"last_error": "subscriber refused the event with 400"}
    assert migrated.execute(letter, (job_id,)).fetchone() == refused


def test_a_429_gives_the_job_back_without_burning_the_attempt(
        migrated: Conn, db_url: str, webhook_module: types.ModuleType, subscriber: str) -> None:
    job_id = enqueue(migrated, {"url": subscriber, "event": "e"})
    Subscriber.statuses = [429]
    assert drain(db_url, webhook_module) == {job_id: "released"}
    row = migrated.execute("select status, attempts, run_at - now() > interval '5 seconds' as later"
                           " from job_queue where id = %s", (job_id,)).fetchone()
    assert row == {"status": "pending", "attempts": 0, "later": True}


def test_a_bad_payload_is_dead_lettered_naming_the_field(
        migrated: Conn, db_url: str, webhook_module: types.ModuleType, subscriber: str) -> None:
    job_id = enqueue(migrated, {"url": "not a url", "event": "e", "colour": "red"})
    assert drain(db_url, webhook_module) == {job_id: "dead_lettered"}
    row = migrated.execute("select last_error from job_dead_letter where job_id = %s", (job_id,)).fetchone()
    assert row is not None
    assert "url" in row["last_error"]
    assert "colour" in row["last_error"]
    assert Subscriber.deliveries == []

