"""`crashy`: the processor the crash test's worker subprocess runs. The first attempt
reports progress (so the test knows it started) and then sleeps until the process is
killed; later attempts finish at once."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict

from shared.processors.base import JobContext

JOB_TYPE = "crashy"


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    i: int


def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    if ctx.attempt == 1:
        ctx.progress(10, "started")
        time.sleep(60)
    return {"i": payload.i, "attempt": ctx.attempt}
