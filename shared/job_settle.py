"""Reporting a round's settlements to the database: one complete_jobs, one fail_jobs and
one release_jobs call per round (never one per job), then the next claim.

When the backend offers `jobs_settle_and_claim` (PostgresBackend pipelines the four
statements in one network round trip) the worker uses it; otherwise four calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from uuid import UUID

from shared.backend.protocol import QueueBackend
from shared.job_runner import Settlement
from shared.models import Completion, FailOutcome, Failure, Job, Release
from shared.worker_report import JobOutcome


class CheckpointRelease(Release):
    """A release that also saves the job's checkpoint (release_jobs stores it in result).
    Kept here until shared.models.Release has the field itself."""

    checkpoint: Any = None


@dataclass(frozen=True)
class ClaimRequest:
    types: list[str]
    batch_size: int


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
                batch.completions.append(Completion(id=s.job.id, result=s.result))
            elif s.kind == "fail":
                batch.failures.append(Failure(id=s.job.id, error=s.error or "failed", retryable=s.retryable,
                                              retry_after_seconds=s.retry_after))
            elif s.kind == "release":
                batch.releases.append(CheckpointRelease(
                    id=s.job.id, retry_after_seconds=s.retry_after or 0, reason=s.reason or "released",
                    checkpoint=s.checkpoint))
        return batch


@dataclass
class SettleResult:
    """What the database said: ids completed, each failure's outcome, ids released."""

    completed: set[UUID]
    failed: dict[UUID, FailOutcome]
    released: set[UUID]


class PipelinedBackend(Protocol):
    def jobs_settle_and_claim(self, worker_id: str, completions: Sequence[Completion],
                              failures: Sequence[Failure], releases: Sequence[Release],
                              types: Sequence[str] | None, batch_size: int
                              ) -> tuple[set[UUID], dict[UUID, FailOutcome], set[UUID], list[Job]]: ...


def settle_and_claim(backend: QueueBackend, worker_id: str, settled: Sequence[Settlement],
                     claim: ClaimRequest | None) -> tuple[list[JobOutcome], list[Job]]:
    """Settle the round, then (when `claim` is given) claim the next batch."""
    batch = SettleBatch.of(settled)
    pipelined: PipelinedBackend | None = getattr(backend, "jobs_settle_and_claim", None) and backend  # type: ignore[assignment]
    if pipelined is not None and claim is not None:
        done, failed, released, jobs = pipelined.jobs_settle_and_claim(
            worker_id, batch.completions, batch.failures, batch.releases, claim.types, claim.batch_size)
        result = SettleResult(done, failed, released)
    else:
        result = SettleResult(backend.jobs_complete(worker_id, batch.completions),
                              backend.jobs_fail(worker_id, batch.failures),
                              backend.jobs_release(worker_id, batch.releases))
        jobs = backend.jobs_claim(worker_id, claim.types, claim.batch_size) if claim else []
    return [outcome_of(s, result) for s in settled], jobs


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
