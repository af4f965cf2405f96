"""What one worker invocation did: per-job outcomes and the counts the HTTP response,
the CLI and `worker_runs` report. Re-exported by shared.worker.invocation."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

OUTCOMES = ("completed", "retried", "dead_lettered", "released", "lease_lost")
# Outcomes listed one by one: the first LISTED, and up to LISTED more that did not complete.
# An invocation drains tens of thousands of jobs a second; listing each would make the HTTP
# answer (and the memory holding it) grow with the backlog. The counts stay exact.
LISTED = 1000


@dataclass(slots=True)
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
    (`{"email": {"completed": 3, "retried": 1}}`), and the jobs' outcomes one by one (all of
    them up to LISTED, see there; `not_listed` counts the others)."""

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
    not_listed: int = 0
    _problems_past_limit: int = 0

    def add(self, outcomes: list[JobOutcome]) -> None:
        """Count a round's outcomes (and list them, within LISTED)."""
        room = LISTED - len(self.jobs)
        if room >= len(outcomes):
            self.jobs.extend(outcomes)
        else:
            self._list_past_limit(outcomes, max(room, 0))
        for (job_type, outcome), n in Counter((o.type, o.outcome) for o in outcomes).items():
            setattr(self, outcome, getattr(self, outcome) + n)
            self.claimed += n
            per_type = self.by_type.setdefault(job_type, {})
            per_type[outcome] = per_type.get(outcome, 0) + n

    def _list_past_limit(self, outcomes: list[JobOutcome], room: int) -> None:
        self.jobs.extend(outcomes[:room])
        for o in outcomes[room:]:
            if o.outcome != "completed" and self._problems_past_limit < LISTED:
                self.jobs.append(o)
                self._problems_past_limit += 1
            else:
                self.not_listed += 1

    def counts(self) -> dict[str, int]:
        """The totals, as `worker_run_finish` takes them."""
        return {"claimed": self.claimed, **{name: getattr(self, name) for name in OUTCOMES}}

    def to_dict(self) -> dict[str, Any]:
        return {"worker_id": self.worker_id, **self.counts(), "by_type": self.by_type,
                "duration_seconds": round(self.duration_seconds, 3),
                "jobs": [job.to_dict() for job in self.jobs], "jobs_not_listed": self.not_listed}
