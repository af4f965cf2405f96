"""deploy/grafana/queue-worker.json: the Grafana dashboard cannot drift from the metrics.

Real: the dashboard file as committed, PostgreSQL with the migrations, metrics_snapshot() and
the collector that renders ?action=metrics (shared.ops.metrics), parsed with
prometheus-client's parser. Faked: nothing; Grafana itself is not run.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from shared.config import REPO_ROOT
from shared.ops.metrics import render
from tests.sql.factories import Conn, value

DASHBOARD = REPO_ROOT / "deploy" / "grafana" / "queue-worker.json"
METRIC_NAME = re.compile(r"\bqueue_worker_[a-z0-9_]+\b")
SAMPLE_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def queries(node: Any) -> Iterator[str]:
    """Every PromQL string in the dashboard: panel targets and template variable queries."""
    if isinstance(node, dict):
        for key, child in node.items():
            if key in ("expr", "definition") and isinstance(child, str):
                yield child
            elif key == "query" and isinstance(child, dict) and isinstance(child.get("query"), str):
                yield child["query"]
            else:
                yield from queries(child)
    elif isinstance(node, list):
        for child in node:
            yield from queries(child)


def exposed(conn: Conn) -> dict[str, str]:
    """Each sample name the collector can answer with, and its family's type, from a real
    snapshot of the database (every family is present even without samples)."""
    text = render(value(conn, "select metrics_snapshot()")).decode()
    names: dict[str, str] = {}
    for family in text_string_to_metric_families(text):
        for suffix in SAMPLE_SUFFIXES[family.type]:
            names[family.name + suffix] = family.type
    return names


def used() -> set[str]:
    return {name for query in queries(dashboard()) for name in METRIC_NAME.findall(query)}


def test_every_metric_the_dashboard_queries_is_exposed(conn: Conn) -> None:
    missing = used() - set(exposed(conn))
    assert missing == set()


def test_the_dashboard_shows_what_an_operator_needs() -> None:
    assert used() >= {
        "queue_worker_up", "queue_worker_jobs", "queue_worker_oldest_ready_job_age_seconds",
        "queue_worker_jobs_completed_total", "queue_worker_job_attempts_failed_total",
        "queue_worker_jobs_dead_lettered_total", "queue_worker_job_run_seconds_bucket",
        "queue_worker_dead_letters", "queue_worker_circuit_breaker_state",
        "queue_worker_health_check_severity",
        "queue_worker_last_invocation_start_timestamp_seconds",
        "queue_worker_last_finished_invocation_duration_seconds"}
    expressions = list(queries(dashboard()))
    assert any("histogram_quantile(0.95" in e for e in expressions)
    assert any("histogram_quantile(0.5" in e for e in expressions)


def test_rate_is_taken_only_of_counters_and_histogram_series(conn: Conn) -> None:
    types = exposed(conn)
    for query in queries(dashboard()):
        for name in re.findall(r"rate\((queue_worker_[a-z0-9_]+)", query):
            assert types[name] in ("counter", "histogram"), (name, query)


def test_every_panel_reads_the_prometheus_datasource_variable() -> None:
    board = dashboard()
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert (variables["datasource"]["type"], variables["datasource"]["query"]) == ("datasource", "prometheus")
    panels = [p for p in board["panels"] if p["type"] != "row"]
    assert len({p["id"] for p in board["panels"]}) == len(board["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        assert all(t["datasource"]["uid"] == "${datasource}" for t in panel["targets"]), panel["title"]


def test_a_metric_name_that_is_not_exposed_would_be_caught(conn: Conn) -> None:
    assert "queue_worker_jobs_completed" not in exposed(conn)  # a counter is queried with _total
    assert "queue_worker_job_run_seconds" not in exposed(conn)  # a histogram by its series
