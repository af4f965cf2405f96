"""Checking a job before it is enqueued: HTTP `?action=enqueue` and `queue-worker enqueue`.

The processor's own `Payload` model judges the payload, so a job that could never run
is refused at the door (422 naming each bad field) instead of dead-lettered later.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Any

from pydantic import ValidationError

from shared.queue.errors import InvalidInput
from shared.queue.models import NewJob


class JobRejected(InvalidInput):
    """The job or its payload failed validation; `fields` names each bad field."""

    def __init__(self, fields: list[dict[str, str]]) -> None:
        summary = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
        super().__init__(f"invalid job: {summary}", hint="fix the fields named in `fields`")
        self.fields = fields

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "fields": self.fields}


def field_errors(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """One {field, message} per pydantic error; fields are dotted paths under `prefix`."""
    return [{"field": ".".join([prefix, *(str(part) for part in error["loc"])]).strip("."),
             "message": error["msg"]} for error in exc.errors()]


def _type_errors(job_type: Any, registry: Mapping[str, ModuleType]) -> list[dict[str, str]]:
    if isinstance(job_type, str) and job_type in registry:
        return []
    known = ", ".join(sorted(registry))
    return [{"field": "type", "message": f"unknown job type {job_type!r}; known types: {known}"}]


def payload_errors(module: ModuleType, payload: Any) -> list[dict[str, str]]:
    """What the processor's Payload model says about `payload` (empty when valid)."""
    if not isinstance(payload, dict):
        return [{"field": "payload", "message": "must be a JSON object"}]
    try:
        module.Payload.model_validate(payload)
    except ValidationError as exc:
        return field_errors(exc, "payload")
    return []


def new_job(body: Mapping[str, Any], registry: Mapping[str, ModuleType]) -> NewJob:
    """The NewJob `body` describes, or JobRejected listing every bad field at once."""
    errors = _type_errors(body.get("type"), registry)
    if not errors:
        errors += payload_errors(registry[body["type"]], body.get("payload", {}))
    try:
        job = NewJob.model_validate(dict(body))
    except ValidationError as exc:
        seen = {error["field"] for error in errors}
        errors += [e for e in field_errors(exc) if e["field"] not in seen]
    if errors:
        raise JobRejected(errors)
    return job
