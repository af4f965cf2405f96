"""Upgrading a populated queue to compact history (20260105000000_compact_history): every
job's history reads the same after the upgrade as before, nothing is listed twice, and the
upgraded queue drains through the real worker loop with a complete trail.

Real: PostgreSQL; the migration files are executed as plain SQL in order, the jobs are written
by the previous head's own functions; the drain is run_invocation with the real noop
processor. Faked: nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from shared.config import REPO_ROOT, Settings
from shared.processors import noop
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.sql.factories import Conn, assert_history_matches_states, connect, value

MIGRATIONS = sorted((REPO_ROOT / "supabase" / "migrations").glob("*.sql"))
UPGRADE = "20260105000000"
BEFORE = [p for p in MIGRATIONS if p.name < UPGRADE]
AFTER = [p for p in MIGRATIONS if p.name >= UPGRADE]


def _claim(conn: Conn, worker: str) -> UUID:
    job_id: UUID = value(conn, "select id from get_next_job(%s, array['noop'], 1)", (worker,))
    assert job_id is not None
    return job_id


def _enqueue(conn: Conn, n: int = 1) -> list[UUID]:
    return [value(conn, "select enqueue_job('noop', '{}'::jsonb)") for _ in range(n)]


def _due(conn: Conn) -> None:
    conn.execute("update job_queue set run_at = now() - interval '1 second' where status = 'pending'")


def _every_state(conn: Conn) -> dict[str, UUID]:
    """Jobs in every state, written by the previous head; claimed one at a time, oldest first."""
    jobs: dict[str, UUID] = {}
    ids = _enqueue(conn, 7)
    # The claim order is enqueue order (same priority, run_at, seq).
    jobs["completed"] = _claim(conn, "old-1")
    assert value(conn, "select complete_job(%s, %s, 'old-1')", (jobs["completed"], Jsonb({"ok": 1})))
    jobs["running"] = _claim(conn, "old-2")
    jobs["retried"] = _claim(conn, "old-3")
    assert value(conn, "select fail_job(%s, 'flaky', true, 0, 'old-3')", (jobs["retried"],)) == "retried"
    jobs["dead"] = _claim(conn, "old-4")
    dead = value(conn, "select fail_job(%s, 'fatal', false, null, 'old-4')", (jobs["dead"],))
    assert dead == "dead_lettered"
    jobs["released"] = _claim(conn, "old-5")
    released = Jsonb([{"id": str(jobs["released"]), "reason": "later"}])
    conn.execute("select release_jobs(%s, 'old-5')", (released,))
    jobs["cancelled_running"] = _claim(conn, "old-6")
    assert value(conn, "select cancel_job(%s)", (jobs["cancelled_running"],))
    jobs["twice"] = _claim(conn, "old-7")  # fails once, then completes on its second claim
    assert value(conn, "select fail_job(%s, 'flaky', true, 0, 'old-7')", (jobs["twice"],)) == "retried"
    conn.execute("update job_queue set run_at = '2000-01-01' where id = %s", (jobs["twice"],))
    assert _claim(conn, "old-8") == jobs["twice"]
    assert value(conn, "select complete_job(%s, null, 'old-8')", (jobs["twice"],))
    assert sorted(map(str, jobs.values())) == sorted(map(str, ids))
    jobs["pending"] = _enqueue(conn)[0]
    return jobs


def _history(conn: Conn, order: str) -> dict[UUID, list[tuple[Any, ...]]]:
    rows = conn.execute(f"select job_id, from_status, to_status, worker_id, note from job_status_history "
                        f"order by job_id, {order}").fetchall()
    out: dict[UUID, list[tuple[Any, ...]]] = {}
    for r in rows:
        out.setdefault(r["job_id"], []).append((r["from_status"], r["to_status"], r["worker_id"], r["note"]))
    return out


def test_a_populated_queue_keeps_every_transition_and_drains_after_the_upgrade(empty_db_url: str) -> None:
    with connect(empty_db_url) as conn:
        for path in BEFORE:
            conn.execute(path.read_text())
        jobs = _every_state(conn)
        before = _history(conn, "id")
        stored_before = value(conn, "select count(*) from job_status_history")

        for path in AFTER:
            conn.execute(path.read_text())

        assert _history(conn, "id nulls last, at") == before
        # The claims and completions the row now tells were deleted as events, nothing else.
        stored_after = value(conn, "select count(*) from job_status_events")
        # completed and twice: their claim and completion; running: its claim.
        assert stored_after == stored_before - 2 * 2 - 1
        assert value(conn, "select claimed_by from job_queue where id = %s", (jobs["completed"],)) == "old-1"
        assert value(conn, "select claimed_by from job_queue where id = %s", (jobs["running"],)) == "old-2"
        assert_history_matches_states(conn)

        # The old worker still holds its running job and settles it through the new functions.
        assert value(conn, "select complete_job(%s, null, 'old-2')", (jobs["running"],))
        _due(conn)
        backend = PostgresBackend(empty_db_url)
        try:
            report = run_invocation(backend, Settings(database_url=empty_db_url, _env_file=None),
                                    InvocationOptions(types=["noop"]), registry={"noop": noop})
        finally:
            backend.close()
        assert report.claimed == 3  # retried, released and pending
        statuses = conn.execute("select status::text, count(*) as n from job_queue group by 1").fetchall()
        assert {r["status"]: r["n"] for r in statuses} == {"completed": 6, "cancelled": 1}
        assert value(conn, "select count(*) from job_dead_letter") == 1
        assert_history_matches_states(conn)
        retried = [(f, t) for f, t, _, _ in _history(conn, "id nulls last, at")[jobs["retried"]]]
        assert retried == [(None, "pending"), ("pending", "running"), ("running", "pending"),
                           ("pending", "running"), ("running", "completed")]
