"""How much an invocation claims and how soon outcomes reach the database: claims adapt
(no-op jobs reach claims of 1,000, slow jobs are claimed no further ahead than the pool can
start them), and a job's outcome is written while slower jobs of its claim still run.

Real: PostgreSQL, PostgresBackend, the worker loop, its threads and its claims. Faked:
nothing; the recording backend only notes the claim sizes it passes on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from shared.config import Settings
from shared.processors.base import JobContext, PermanentError
from shared.queue.models import Job
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.worker.conftest import AddType, Conn, enqueue
from tests.worker.procs import Counted, ok, processor


class RecordingBackend(PostgresBackend):
    """The real backend, noting each claim's size."""

    sizes: list[int]

    def jobs_claim(self, worker_id: str, types: Sequence[str] | None, batch_size: int,
                   lock_seconds: int | None = None, *, with_traceparent: bool = False) -> list[Job]:
        self.sizes.append(batch_size)
        return super().jobs_claim(worker_id, types, batch_size, lock_seconds,
                                  with_traceparent=with_traceparent)


def _recording(db_url: str) -> RecordingBackend:
    backend = RecordingBackend(db_url)
    backend.sizes = []
    return backend


def test_claims_of_quick_jobs_grow_to_a_thousand(db_url: str, settings: Settings, add_type: AddType,
                                                  conn: Conn) -> None:
    add_type("t_quick")
    conn.execute("select enqueue_jobs((select jsonb_agg(jsonb_build_object('type', 't_quick')) "
                 "from generate_series(1, 4000)))")
    backend = _recording(db_url)
    try:
        report = run_invocation(backend, settings, InvocationOptions(concurrency=8),
                                registry={"t_quick": processor("t_quick", ok, run_inline=lambda _: True)})
    finally:
        backend.close()
    assert report.completed == 4000
    assert backend.sizes[0] == 8  # the pool's size first
    assert max(backend.sizes) == 1000
    # Doubling per quick full round (7 steps from 8), each step seen after at most the two
    # claims already prefetched at the old size: 1,000 within 1 + 7 * 3 claims.
    assert backend.sizes.index(1000) <= 22
    assert backend.sizes == sorted(backend.sizes)  # it never shrank: every round was quick


def test_slow_jobs_are_claimed_no_further_ahead_than_the_pool_starts_them(
        db_url: str, settings: Settings, add_type: AddType) -> None:
    add_type("t_slow", timeout_seconds=10)
    running = 0
    most = 0
    lock = threading.Lock()

    def slow(payload: Any, ctx: JobContext) -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        time.sleep(0.3)
        with lock:
            running -= 1

    backend = _recording(db_url)
    try:
        enqueue(backend, "t_slow", *[{} for _ in range(24)])
        report = run_invocation(backend, settings, InvocationOptions(concurrency=8, time_budget_seconds=60),
                                registry={"t_slow": processor("t_slow", slow)})
    finally:
        backend.close()
    assert report.completed == 24
    assert max(backend.sizes) == 8  # never more than can start at once
    assert most == 8  # and the pool was used in full


def test_a_job_that_fails_at_once_is_settled_while_a_slow_one_of_its_claim_runs(
        db_url: str, settings: Settings, add_type: AddType, conn: Conn) -> None:
    add_type("t_mixed", timeout_seconds=20)
    seen: dict[str, Any] = {}

    def handle(payload: Counted, ctx: JobContext) -> None:
        if payload.n == 0:
            raise PermanentError("bad at once")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # the slow job watches for its sibling's outcome
            row = conn.execute("select count(*) as n from job_dead_letter").fetchone()
            if row is not None and row["n"] == 1:
                seen["after"] = time.monotonic() - seen["failed_at"]
                return
            time.sleep(0.05)

    backend = _recording(db_url)
    try:
        enqueue(backend, "t_mixed", {"n": 1}, {"n": 0})
        seen["failed_at"] = time.monotonic()
        report = run_invocation(backend, settings, InvocationOptions(time_budget_seconds=60),
                                registry={"t_mixed": processor("t_mixed", handle, Counted)})
    finally:
        backend.close()
    assert (report.completed, report.dead_lettered) == (1, 1)
    assert backend.sizes[0] >= 2  # one claim held both
    assert "after" in seen, "the failure was not in the database while the slow job ran (5 s)"
    assert seen["after"] < 1.0  # target: outcomes reach the database within 1 s
