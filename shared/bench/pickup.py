"""Pickup latency per wake-up mode: enqueue commit -> job start (`created_at` ->
`started_at`, both on the database's clock), one job at a time from an idle worker.

- invoked at once: enqueue one job, then call `run_invocation` (what a kick's POST does);
- resident: a `ResidentWorker` idles in its LISTEN wait (poll 30 s, so only a NOTIFY can
  wake it in time); each trial enqueues one job and waits until it ran and the worker is
  idle again. The NOTIFY comes from the enqueue trigger when the schema has one
  (`job_queue_kick%`), else the benchmark sends it right after the enqueue commits.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from types import ModuleType
from typing import Any
from uuid import UUID

import psycopg

from shared.config import Settings
from shared.processors import noop
from shared.processors.base import JobContext
from shared.queue.models import NewJob
from shared.queue.notifications import CHANNEL
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from shared.worker.resident import ResidentOptions, ResidentWorker

RESIDENT_POLL_SECONDS = 30.0
TRIAL_TIMEOUT_SECONDS = 10.0
KICK_TRIGGER = ("select 1 from pg_trigger where tgrelid = 'public.job_queue'::regclass "
                "and tgname like 'job_queue_kick%'")


def invoked_at_once(backend: Any, settings: Settings, trials: int) -> list[UUID]:
    """Enqueue one job then invoke the worker, `trials` times; returns the jobs."""
    ids: list[UUID] = []
    options = InvocationOptions(types=["noop"], batch_size=1, time_budget_seconds=600)
    for i in range(trials):
        ids.extend(backend.jobs_enqueue([NewJob(type="noop", payload={"i": i})]))
        run_invocation(backend, settings, options)
    return ids


class _Started:
    """A noop processor that says when each job ran (the bench waits for it)."""

    def __init__(self) -> None:
        self.ran = threading.Event()

    def module(self) -> ModuleType:
        module = ModuleType("bench_noop")
        for name in ("JOB_TYPE", "Payload", "run_inline"):
            setattr(module, name, getattr(noop, name))
        module.handle = self.handle  # type: ignore[attr-defined]
        return module

    def handle(self, payload: noop.Payload, ctx: JobContext) -> dict[str, Any]:
        result = noop.handle(payload, ctx)
        self.ran.set()
        return result


def resident(backend: Any, url: str, trials: int) -> tuple[list[UUID], str]:
    """`trials` wake-ups of an idle resident worker; returns the jobs and who sent the
    NOTIFY ("trigger" or "bench")."""
    settings = Settings(database_url=url, _env_file=None)
    started = _Started()
    options = ResidentOptions(InvocationOptions(types=["noop"], time_budget_seconds=600),
                              poll_interval=RESIDENT_POLL_SECONDS, listen_url=url)
    worker_backend = PostgresBackend(url, max_size=4)
    worker = ResidentWorker(worker_backend, settings, options, registry={"noop": started.module()})
    thread = threading.Thread(target=worker.run, name="bench-resident", daemon=True)
    with psycopg.connect(url, autocommit=True) as conn:
        by_trigger = conn.execute(KICK_TRIGGER).fetchone() is not None
        thread.start()
        try:
            ids = [_trial(backend, conn, worker, started, i, by_trigger) for i in range(trials)]
        finally:
            worker.stop.set()
            thread.join(TRIAL_TIMEOUT_SECONDS)
            worker_backend.close()
    return ids, "trigger" if by_trigger else "bench"


def _trial(backend: Any, conn: psycopg.Connection[Any], worker: ResidentWorker, started: _Started, i: int,
           by_trigger: bool) -> UUID:
    if not worker.waiting.wait(TRIAL_TIMEOUT_SECONDS):
        raise TimeoutError("the resident worker did not go idle")
    started.ran.clear()
    job_id: UUID = backend.jobs_enqueue([NewJob(type="noop", payload={"i": i})])[0]
    if not by_trigger:
        conn.execute("select pg_notify(%s, %s)", (CHANNEL, '{"types": ["noop"]}'))
    if not started.ran.wait(TRIAL_TIMEOUT_SECONDS):  # the next trial waits until it is idle again
        raise TimeoutError("the resident worker did not run the job")
    return job_id


def waits_ms(url: str, ids: Sequence[UUID]) -> list[float]:
    """created_at -> started_at of each job, in ms."""
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute("select extract(epoch from started_at - created_at) * 1000 from job_queue "
                            "where id = any(%s) and started_at is not null", (list(ids),)).fetchall()
    return [float(row[0]) for row in rows]
