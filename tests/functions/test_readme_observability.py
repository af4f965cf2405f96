"""The README's metrics and tracing set-up blocks, run as printed.

Real: functions-framework's app (its test client), PostgreSQL with the migrations, the
worker loop, the OpenTelemetry SDK (TracerProvider, BatchSpanProcessor), PyYAML for the
Prometheus config. Faked: the OTLP exporter package the README installs (not a dependency
here, and it would need a collector): a stand-in module whose OTLPSpanExporter keeps the
spans in memory. Prometheus itself is not run; its scrape is the request the config makes.
"""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest
import yaml
from flask.testing import FlaskClient
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once
from prometheus_client.parser import text_string_to_metric_families

from shared.config import Settings
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.functions.conftest import READONLY_SECRET
from tests.support.readme import example


def test_the_readmes_scrape_config_scrapes_the_function(client: FlaskClient) -> None:
    """The request Prometheus makes from the config: GET metrics_path?action=metrics with
    `Authorization: Bearer <credentials>` (the test client serves the function at `/`)."""
    job = yaml.safe_load(example("metrics-scrape-yaml"))["scrape_configs"][0]
    assert job["params"] == {"action": ["metrics"]}
    assert job["authorization"]["type"] == "Bearer"
    assert "credentials_file" in job["authorization"]
    response = client.get("/", query_string={"action": job["params"]["action"][0]},
                          headers={"Authorization": f"{job['authorization']['type']} {READONLY_SECRET}"})
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.get_data(as_text=True))}
    assert {"queue_worker_up", "queue_worker_jobs"} <= names


class _Collected(InMemorySpanExporter):
    """What OTLPSpanExporter would send, kept here."""

    made: list[InMemorySpanExporter] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.made.append(self)


@pytest.fixture
def otlp_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """`opentelemetry.exporter.otlp.proto.http.trace_exporter` as a stand-in module, and the
    API's set-once provider reset for this test only (restored after)."""
    names = ["opentelemetry.exporter", "opentelemetry.exporter.otlp", "opentelemetry.exporter.otlp.proto",
             "opentelemetry.exporter.otlp.proto.http",
             "opentelemetry.exporter.otlp.proto.http.trace_exporter"]
    for name in names:
        module = types.ModuleType(name)
        module.__path__ = []  # a package, so the next name imports under it
        monkeypatch.setitem(sys.modules, name, module)
    sys.modules[names[-1]].OTLPSpanExporter = _Collected  # type: ignore[attr-defined]
    _Collected.made = []
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())


def test_the_readmes_sdk_setup_exports_a_span_per_job(otlp_package: None, db_url: str, conn: Any) -> None:
    scope: dict[str, Any] = {}
    exec(compile(example("tracing-sdk-python"), "README.md:tracing-sdk-python", "exec"), scope)  # noqa: S102
    try:
        conn.execute("select enqueue_job('noop')")
        backend = PostgresBackend(db_url, max_size=2)
        try:
            report = run_invocation(backend, Settings(_env_file=None), InvocationOptions(types=["noop"]))
        finally:
            backend.close()
        assert report.counts()["completed"] == 1
        scope["provider"].force_flush()
        (exporter,) = _Collected.made
        names = [span.name for span in exporter.get_finished_spans()]
        assert names.count("process noop") == 1
        assert "queue_worker invocation" in names
        (span,) = [s for s in exporter.get_finished_spans() if s.name == "process noop"]
        assert span.resource.attributes["service.name"] == "queue-worker"
    finally:
        scope["provider"].shutdown()
