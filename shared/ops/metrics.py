"""Prometheus metrics computed from the database at scrape time, for `?action=metrics` and
`queue-worker metrics`.

A function that lives for one request keeps no counters, so every figure comes from one
`metrics_snapshot()` call (supabase/migrations/20260107000210_metrics_snapshot.sql): live
counts through job_queue's partial indexes, running totals from `queue.job_totals`, breakers,
the last worker invocation and `health_warnings()`. `SnapshotCollector` turns that snapshot
into metric families on a fresh registry per scrape; nothing is judged here, every number
is the database's. When the database cannot be read the answer is `queue_worker_up 0`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from shared.logs import log_event
from shared.ops.health import SEVERITY_RANK
from shared.queue.errors import QueueError
from shared.queue.protocol import QueueBackend

PREFIX = "queue_worker_"
CONTENT_TYPE = CONTENT_TYPE_LATEST
LIVE_STATUSES = ("ready", "scheduled", "running")
BREAKER_STATES = ("closed", "open", "half_open")
INVOCATION_OUTCOMES = ("claimed", "completed", "retried", "dead_lettered", "released", "lease_lost")
HEALTH_LABELS = ("check", "type", "table")  # a check's subject is a job type or a table, or neither


@dataclass(frozen=True)
class Scrape:
    """One scrape's text; `up` is False when the database could not be read."""

    up: bool
    text: bytes


def scrape(backend: QueueBackend) -> Scrape:
    """The metrics text from one `metrics_snapshot()` call; `queue_worker_up 0` when it fails."""
    try:
        snapshot: dict[str, Any] | None = backend.rpc("metrics_snapshot", {})
    except QueueError as exc:
        log_event(logging.WARNING, "metrics: the database could not be read", error=exc.message[:200])
        snapshot = None
    return Scrape(snapshot is not None, render(snapshot))


def render(snapshot: Mapping[str, Any] | None) -> bytes:
    """The Prometheus text format of `snapshot` (None: only `queue_worker_up 0`)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


class SnapshotCollector(Collector):
    """The metric families of one metrics_snapshot(). Every family is yielded even when it
    has no sample, so a dashboard's names always resolve."""

    def __init__(self, snapshot: Mapping[str, Any] | None) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        up = gauge("up", "1 when the metrics were read from the database, 0 when not.")
        up.add_metric([], 0 if self.snapshot is None else 1)
        yield up
        if self.snapshot is None:
            return
        yield from type_families(self.snapshot.get("types") or [])
        yield from breaker_families(self.snapshot.get("breakers") or [])
        yield from invocation_families(self.snapshot.get("last_invocation"),
                                       self.snapshot.get("last_finished_invocation"))
        yield from health_families((self.snapshot.get("health") or {}).get("checks") or [])


def gauge(name: str, documentation: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, documentation, labels=list(labels))


def counter(name: str, documentation: str, *labels: str) -> CounterMetricFamily:
    """A counter family; the exposition adds `_total` to `name`."""
    return CounterMetricFamily(PREFIX + name, documentation, labels=list(labels))


def type_families(types: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
    """Per job type: live jobs by status, oldest ready age, dead letters waiting, paused,
    the running totals and the run-time histogram."""
    jobs = gauge("jobs", "Live jobs by status: ready (pending and due), scheduled (pending, run_at in the "
                 "future), running. Finished jobs are counted by the _total counters.", "type", "status")
    oldest = gauge("oldest_ready_job_age_seconds",
                   "Seconds the oldest ready job has waited since its run_at (0 when none).", "type")
    dead = gauge("dead_letters", "Dead letters waiting (not replayed).", "type")
    enabled = gauge("job_type_enabled", "1 when the type is enabled, 0 when paused.", "type")
    completed = counter("jobs_completed", "Jobs completed, since recording began.", "type")
    failed = counter("job_attempts_failed", "Failed attempts (retried, lock expired or dead-lettered), "
                     "since recording began.", "type")
    dead_lettered = counter("jobs_dead_lettered", "Jobs dead-lettered, since recording began.", "type")
    runs = HistogramMetricFamily(PREFIX + "job_run_seconds", "Run time of completed jobs (their last "
                                 "attempt), since recording began.", labels=["type"])
    for entry in types:
        name = str(entry["type"])
        for status in LIVE_STATUSES:
            jobs.add_metric([name, status], float(entry[status]))
        oldest.add_metric([name], float(entry["oldest_ready_age_seconds"]))
        dead.add_metric([name], float(entry["dead_letters"]))
        enabled.add_metric([name], 1.0 if entry["enabled"] else 0.0)
        completed.add_metric([name], float(entry["completed_total"]))
        failed.add_metric([name], float(entry["failed_attempts_total"]))
        dead_lettered.add_metric([name], float(entry["dead_lettered_total"]))
        histogram = entry["run_seconds"]
        buckets = [(repr(float(le)), float(n)) for le, n in histogram["buckets"]]
        runs.add_metric([name], [*buckets, ("+Inf", float(histogram["count"]))], float(histogram["sum"]))
    yield from (jobs, oldest, dead, enabled, completed, failed, dead_lettered, runs)


def breaker_families(breakers: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
    """Each provider's circuit breaker: its state (1 for the current one) and failure streak."""
    state = gauge("circuit_breaker_state", "1 for the breaker's current state (closed, open, half_open), "
                  "0 for the others.", "provider", "state")
    failures = gauge("circuit_breaker_consecutive_failures", "Consecutive failures the breaker has counted.",
                     "provider")
    for breaker in breakers:
        provider = str(breaker["provider"])
        for name in BREAKER_STATES:
            state.add_metric([provider, name], 1.0 if breaker["state"] == name else 0.0)
        failures.add_metric([provider], float(breaker["consecutive_failures"]))
    yield from (state, failures)


def invocation_families(last: Mapping[str, Any] | None,
                        finished: Mapping[str, Any] | None) -> Iterator[Metric]:
    """The latest worker invocation (when it started, whether it still runs) and the latest
    finished one (when it ended, how long it took, what it did)."""
    started = gauge("last_invocation_start_timestamp_seconds",
                    "When the latest worker invocation started (Unix time).")
    running = gauge("last_invocation_running", "1 while the latest worker invocation has not finished.")
    ended = gauge("last_finished_invocation_end_timestamp_seconds",
                  "When the latest finished worker invocation ended (Unix time).")
    duration = gauge("last_finished_invocation_duration_seconds",
                     "How long the latest finished worker invocation ran.")
    jobs = gauge("last_finished_invocation_jobs", "Jobs the latest finished worker invocation claimed, "
                 "completed, retried, dead_lettered, released, lost (lease_lost).", "outcome")
    if last is not None:
        started.add_metric([], float(last["started_at"]))
        running.add_metric([], 1.0 if last["running"] else 0.0)
    if finished is not None:
        ended.add_metric([], float(finished["finished_at"]))
        duration.add_metric([], float(finished["duration_seconds"]))
        for outcome in INVOCATION_OUTCOMES:
            jobs.add_metric([outcome], float(finished[outcome]))
    yield from (started, running, ended, duration, jobs)


def health_families(checks: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
    """health_warnings()'s checks: severity (0 ok, 1 warning, 2 critical), value, threshold."""
    severity = gauge("health_check_severity", "Severity of each health_warnings() check: 0 ok, 1 warning, "
                     "2 critical.", *HEALTH_LABELS)
    value = gauge("health_check_value", "The value each health check measured, in the check's unit (absent "
                  "when there is none, e.g. no worker ever ran).", *HEALTH_LABELS)
    threshold = gauge("health_check_threshold", "The value above which a health check warns.", *HEALTH_LABELS)
    for check in checks:
        labels = [str(check.get(key) or "") for key in HEALTH_LABELS]
        severity.add_metric(labels, float(SEVERITY_RANK.get(str(check.get("severity")), 0)))
        if check.get("value") is not None:
            value.add_metric(labels, float(check["value"]))
        if check.get("threshold") is not None:
            threshold.add_metric(labels, float(check["threshold"]))
    yield from (severity, value, threshold)
