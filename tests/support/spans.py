"""The OpenTelemetry SDK for tests: a real TracerProvider whose spans go to the SDK's
InMemorySpanExporter, set as the process's provider for one test only.

The API lets a process set its provider once; tests need some with it and some without
(the default: no SDK), so the fixture puts the provider in the API's global for the test
and takes it out after, as opentelemetry-python's own test utilities do.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


class Spans:
    """What a test reads of the spans that ended."""

    def __init__(self, exporter: InMemorySpanExporter, provider: TracerProvider) -> None:
        self.exporter, self.provider = exporter, provider

    def all(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.all() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"{len(found)} spans named {name!r} in {[s.name for s in self.all()]}"
        return found[0]


def _provider_and_exporter() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider, exporter


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[Spans]:
    """An SDK configured for this test (what a deployment does at start-up)."""
    provider, exporter = _provider_and_exporter()
    monkeypatch.setattr(trace, "_TRACER_PROVIDER", provider)
    yield Spans(exporter, provider)
    provider.shutdown()

