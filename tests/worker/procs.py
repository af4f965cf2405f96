"""Small processor modules for worker tests, built per test (so state never leaks)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from shared.processors.base import JobContext

Handle = Callable[[Any, JobContext], Any]


class Empty(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Anything(BaseModel):
    model_config = ConfigDict(extra="allow")


class Counted(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(ge=0, le=20)
    label: str = "x"


def processor(job_type: str, handle: Handle, payload: type[BaseModel] = Empty,
              run_inline: Callable[[Any], bool] | None = None) -> ModuleType:
    """A processor module: JOB_TYPE, Payload, handle (and run_inline when given)."""
    module = ModuleType(f"tests.worker.procs.{job_type}")
    setattr(module, "JOB_TYPE", job_type)  # noqa: B010 - a module built at run time
    setattr(module, "Payload", payload)  # noqa: B010
    setattr(module, "handle", handle)  # noqa: B010
    if run_inline is not None:
        setattr(module, "run_inline", run_inline)  # noqa: B010
    return module


def ok(payload: Any, ctx: JobContext) -> dict[str, Any]:
    return {"ok": True, "attempt": ctx.attempt}
