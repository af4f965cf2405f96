"""The processor registry: job type -> processor module.

Adding a job type: write `shared/processors/<type>.py` (JOB_TYPE, Payload, handle),
add it to `_MODULES` below, and insert its `job_types` row in a migration.
"""

from __future__ import annotations

import importlib
from types import ModuleType

_MODULES = ("noop", "email", "audio", "payout", "weekly_payouts", "analytics")


def load_registry() -> dict[str, ModuleType]:
    """Import every processor module and key it by its JOB_TYPE."""
    registry: dict[str, ModuleType] = {}
    for name in _MODULES:
        module = importlib.import_module(f"shared.processors.{name}")
        registry[module.JOB_TYPE] = module
    return registry
