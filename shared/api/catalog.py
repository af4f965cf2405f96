"""Every HTTP action the function answers: the worker's (`shared.api.actions`), the
operator console's (`shared.api.console_*`) and the metrics (`shared.api.metrics`), one
dict keyed by `?action=`."""

from __future__ import annotations

from shared.api import (
    console_admin,
    console_dead_letters,
    console_enqueue,
    console_jobs,
    console_overview,
    metrics,
)
from shared.api.actions import ACTIONS as WORKER_ACTIONS
from shared.api.actions import Action

ACTIONS: dict[str, Action] = {
    **WORKER_ACTIONS,
    **console_overview.ACTIONS,
    **console_jobs.ACTIONS,
    **console_dead_letters.ACTIONS,
    **console_admin.ACTIONS,
    **console_enqueue.ACTIONS,
    **metrics.ACTIONS,
}
