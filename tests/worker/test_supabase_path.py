"""The worker loop over the supabase-py path: the same invocation through SupabaseBackend.

Real: PostgreSQL, supabase-py, the worker loop. Stand-in: tests/support/postgrest.py, a
small PostgREST-compatible RPC endpoint over the same database (PostgREST itself cannot be
installed here); it says so in its own docstring.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from shared.config import Settings
from shared.processors.base import CheckpointAndContinue, JobContext, PermanentError
from shared.queue.models import NewJob
from shared.queue.supabase import SupabaseBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.support.postgrest import PostgrestEndpoint, postgrest
from tests.worker.conftest import AddType, Conn, job_row
from tests.worker.procs import Counted, processor

__all__ = ["postgrest"]


@pytest.fixture
def supabase_backend(postgrest: PostgrestEndpoint) -> Iterator[SupabaseBackend]:
    chosen = SupabaseBackend(postgrest.url, postgrest.service_role_key, timeout=10)
    yield chosen
    chosen.close()


def test_an_invocation_through_supabase_settles_every_kind_of_outcome(
        supabase_backend: SupabaseBackend, add_type: AddType, conn: Conn, settings: Settings) -> None:
    add_type("t_sb")

    def handle(payload: Any, ctx: JobContext) -> Any:
        if payload.label == "bad":
            raise PermanentError("rejected")
        if payload.label == "later" and ctx.previous_result is None:
            raise CheckpointAndContinue({"page": 2})
        ctx.progress(50, "half")
        return {"n": payload.n, "resumed": ctx.previous_result}

    ids = supabase_backend.jobs_enqueue([NewJob(type="t_sb", payload=p) for p in (
        {"n": 1}, {"n": 2, "label": "bad"}, {"n": 3, "label": "later"}, {"n": 99})])
    report = run_invocation(supabase_backend, settings, InvocationOptions(time_budget_seconds=60),
                            registry={"t_sb": processor("t_sb", handle, Counted)})
    outcomes = {j.id: j.outcome for j in report.jobs if j.outcome != "released"}
    assert [outcomes[i] for i in ids] == ["completed", "dead_lettered", "completed", "dead_lettered"]
    later = job_row(conn, ids[2])
    assert later is not None
    assert later["result"] == {"n": 3, "resumed": {"page": 2}}
    assert report.released == 1
    run = conn.execute("select completed, dead_lettered, released from worker_runs where worker_id = %s",
                       (report.worker_id,)).fetchone()
    assert run == {"completed": 2, "dead_lettered": 2, "released": 1}
