"""What a scheduler tick does besides invoking the worker: give back the jobs of workers
that vanished (`cleanup_stuck_jobs`) and enqueue the recurring jobs that are due
(`enqueue_due_schedules`). pg_cron runs both every minute in production; the local
scheduler of `queue-worker dev` and the resident worker run them here."""

from __future__ import annotations

from dataclasses import dataclass

from shared.queue import QueueBackend


@dataclass(frozen=True)
class Maintenance:
    recovered: int  # stuck jobs given back
    scheduled: int  # recurring jobs enqueued


def maintain(backend: QueueBackend) -> Maintenance:
    """Run both; raises QueueError when the database fails."""
    recovered = backend.jobs_cleanup_stuck()
    scheduled = backend.rpc("enqueue_due_schedules", {})
    return Maintenance(int(recovered or 0), int(scheduled or 0))
