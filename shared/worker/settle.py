"""Reporting a round's settlements to the database: one complete_jobs, one fail_jobs and
one release_jobs call per round, never one per job."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

from shared.queue.models import Completion, FailOutcome, Failure, Release
from shared.queue.protocol import QueueBackend
from shared.worker.report import JobOutcome
from shared.worker.runner import Settlement


@dataclass
class SettleBatch:
    """A round's settlements as the three batch calls take them."""

    completions: list[Completion] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    releases: list[Release] = field(default_factory=list)

    @classmethod
    def of(cls, settled: Sequence[Settlement]) -> SettleBatch:
        batch = cls()
        for s in settled:
            if s.kind == "complete":
                # Built, not validated: the id came from the database, the result is JSON data already.
                batch.completions.append(Completion.model_construct(id=s.job.id, result=s.result))
            elif s.kind == "fail":
                batch.failures.append(Failure(id=s.job.id, error=s.error or "failed", retryable=s.retryable,
                                              retry_after_seconds=s.retry_after))
            elif s.kind == "release":
                batch.releases.append(Release(
                    id=s.job.id, retry_after_seconds=s.retry_after or 0, reason=s.reason or "released",
                    checkpoint=s.checkpoint))
        return batch


@dataclass
class SettleResult:
    """What the database said: ids completed, each failure's outcome, ids released."""

    completed: set[UUID]
    failed: dict[UUID, FailOutcome]
    released: set[UUID]


def settle(backend: QueueBackend, worker_id: str, settled: Sequence[Settlement]) -> list[JobOutcome]:
    """Report a round: at most one complete_jobs, one fail_jobs and one release_jobs call."""
    batch = SettleBatch.of(settled)
    result = SettleResult(backend.jobs_complete(worker_id, batch.completions),
                          backend.jobs_fail(worker_id, batch.failures),
                          backend.jobs_release(worker_id, batch.releases))
    return [outcome_of(s, result) for s in settled]


def outcome_of(s: Settlement, result: SettleResult) -> JobOutcome:
    """The JobOutcome of one settlement given what the database did."""
    job = s.job
    if s.kind == "complete":
        outcome = "completed" if job.id in result.completed else "lease_lost"
    elif s.kind == "fail":
        outcome = result.failed.get(job.id, FailOutcome.lease_lost).value
    elif s.kind == "release":
        outcome = "released" if job.id in result.released else "lease_lost"
    else:
        outcome = "lease_lost"
    error = s.error if s.kind != "release" else s.reason
    return JobOutcome(id=job.id, type=job.type, attempt=job.attempts, outcome=outcome,
                      duration_ms=s.duration_ms, error=error)
