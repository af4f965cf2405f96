"""The console's enqueue forms: one per registered job type, from its payload model.

Each processor module has a pydantic `Payload` (what `shared.queue.job_input.new_job`
validates an enqueued payload with); its JSON schema is what the page shows beside the
payload box. `enabled` is the type's `job_types` row (false when the row is missing:
such a type is registered in code but its jobs would never be claimed).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from shared.queue import QueueBackend


def job_schemas(backend: QueueBackend, registry: Mapping[str, ModuleType]) -> dict[str, Any]:
    """{types: [{type, schema, enabled}]}, sorted by type."""
    rows = backend.job_types()
    return {"types": [{"type": name, "schema": registry[name].Payload.model_json_schema(),
                       "enabled": bool(rows[name].enabled) if name in rows else False}
                      for name in sorted(registry)]}
