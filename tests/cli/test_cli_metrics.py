"""`queue-worker metrics`: the text ?action=metrics serves, printed from a terminal.

Real: PostgreSQL (a fresh migrated database), the CLI's own code path, metrics_snapshot()
and the collector, parsed with prometheus-client's parser. Faked: the database that cannot
be read is a URL whose backend cannot answer the snapshot call (a monkeypatched rpc).
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.cli.main import main
from shared.queue.errors import DatabaseUnavailable
from shared.queue.postgres import PostgresBackend
from tests.sql.factories import Conn, make_job


def test_metrics_prints_the_prometheus_text_and_exits_0(cli_env: str, conn: Conn,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    make_job(conn, "pending", "noop")
    assert main(["metrics"]) == 0
    families = {f.name: f for f in text_string_to_metric_families(capsys.readouterr().out)}
    ready = [s.value for s in families["queue_worker_jobs"].samples
             if s.labels == {"type": "noop", "status": "ready"}]
    assert ready == [1]
    assert families["queue_worker_up"].samples[0].value == 1


def test_metrics_exits_1_with_up_0_when_the_snapshot_cannot_be_read(
        cli_env: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    def unavailable(self: PostgresBackend, function: str, args: object) -> object:
        raise DatabaseUnavailable("connection refused")

    monkeypatch.setattr(PostgresBackend, "rpc", unavailable)
    assert main(["metrics"]) == 1
    families = list(text_string_to_metric_families(capsys.readouterr().out))
    assert [(f.name, f.samples[0].value) for f in families] == [("queue_worker_up", 0)]
