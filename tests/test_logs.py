"""Log lines: every record, the queue's and the libraries', is one JSON object on stderr.

Real: psycopg_pool trying to connect to a closed local port (its own warning records) and
the queue's logger. Nothing faked.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool, PoolTimeout

from shared.logs import get_logger, log_event
from tests.queue.test_conformance_errors import closed_port


def json_lines(text: str) -> list[dict[str, Any]]:
    """Every stderr line parsed as JSON (fails on a plain-text line)."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_psycopg_pool_records_come_out_as_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    get_logger()
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        f"host=127.0.0.1 port={closed_port()} connect_timeout=1", min_size=1, open=False, name="closed")
    with pytest.raises(PoolTimeout):
        pool.open(wait=True, timeout=0.5)
    pool.close()
    lines = json_lines(capsys.readouterr().err)
    pool_lines = [line for line in lines if line["logger"] == "psycopg.pool"]
    assert pool_lines, lines
    assert {line["severity"] for line in pool_lines} == {"WARNING"}  # INFO chatter stays off
    assert any("error connecting in 'closed'" in line["message"] for line in pool_lines)


def test_the_queue_logger_writes_fields_beside_severity_and_message(
        capsys: pytest.CaptureFixture[str]) -> None:
    log_event(30, "job released", job_id="j1", attempt=2)
    (line,) = json_lines(capsys.readouterr().err)
    assert (line["severity"], line["message"], line["logger"]) == ("WARNING", "job released", "queue_worker")
    assert (line["job_id"], line["attempt"]) == ("j1", 2)
