"""The console's Overview: one SQL call (`console_overview`) answers the whole view.

Live counts come from job_queue's pending/running partial indexes; what finished comes from
`job_minute_stats` (kept by `queue.record_minute_stats`, which the call runs first), so the
answer costs the same with a million finished jobs as with none.
"""

from __future__ import annotations

from typing import Any

from shared.queue import QueueBackend


def overview(backend: QueueBackend) -> dict[str, Any]:
    """{generated_at, types, series: {minute (60), quarter_hour (96)}, recent_runs (20),
    stale_claims, dead_letters_1h}; the shapes are in the migration's contract."""
    result: dict[str, Any] = backend.rpc("console_overview", {})
    return result
