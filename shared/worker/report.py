"""What one worker invocation did: per-job outcomes and the counts the HTTP response,
the CLI and `worker_runs` report. Re-exported by shared.worker.invocation."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

OUTCOMES = ("completed", "retried", "dead_lettered", "released", "lease_lost")


@dataclass
class JobOutcome:
    """How one claimed job ended in this invocation. outcome: one of OUTCOMES."""

    id: UUID
    type: str
    attempt: int
    outcome: str
    duration_ms: float
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": str(self.id), "type": self.type, "attempt": self.attempt, "outcome": self.outcome,
                "duration_ms": round(self.duration_ms, 3), "error": self.error}


@dataclass
class InvocationReport:
    """Counts (claimed = the sum of the five outcomes), per-type counts
    (`{"email": {"completed": 3, "retried": 1}}`), and every job's outcome."""

    worker_id: str
    claimed: int = 0
    completed: int = 0
    retried: int = 0
    dead_lettered: int = 0
    released: int = 0
    lease_lost: int = 0
    by_type: dict[str, dict[str, int]] = field(default_factory=dict)
    duration_seconds: float = 0.0
    jobs: list[JobOutcome] = field(default_factory=list)

    def add(self, outcomes: list[JobOutcome]) -> None:
        """Count a round's outcomes."""
        self.jobs.extend(outcomes)
        for (job_type, outcome), n in Counter((o.type, o.outcome) for o in outcomes).items():
            setattr(self, outcome, getattr(self, outcome) + n)
            self.claimed += n
            per_type = self.by_type.setdefault(job_type, {})
            per_type[outcome] = per_type.get(outcome, 0) + n

    def counts(self) -> dict[str, int]:
        """The totals, as `worker_run_finish` takes them."""
        return {"claimed": self.claimed, **{name: getattr(self, name) for name in OUTCOMES}}

    def to_dict(self) -> dict[str, Any]:
        return {"worker_id": self.worker_id, **self.counts(), "by_type": self.by_type,
                "duration_seconds": round(self.duration_seconds, 3),
                "jobs": [job.to_dict() for job in self.jobs]}
