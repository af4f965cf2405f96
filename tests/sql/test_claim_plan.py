"""Query plans: with a million finished rows, get_next_job reads the partial index
job_queue_claim_idx and never seq-scans job_queue; settling a batch of 1,000 looks each
job up by id, not through a join to the JSON array, even when the statistics say
nothing is running.

Real: PostgreSQL; the plan is the one the function itself runs, captured with auto_explain
(shipped with PostgreSQL 15 and with the embedded 18) and sent to the client as LOG
messages. Faked: nothing.
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, enqueue, value

FINISHED_ROWS = 1_000_000


def _fill(conn: Conn) -> None:
    """A million completed jobs in one INSERT ... SELECT, a little ready work, fresh statistics."""
    # Skip the million foreign-key trigger calls (every row names the seeded 'noop' type).
    conn.execute("set session_replication_role = replica")
    conn.execute(
        """
        insert into job_queue (type, status, attempts, max_attempts, run_at,
                               started_at, finished_at, progress)
        select 'noop', 'completed', 1, 3, now() - interval '2 days', now() - interval '2 days',
               now() - interval '1 day', 100
          from generate_series(1, %s)""",
        (FINISHED_ROWS,),
    )
    conn.execute("reset session_replication_role")
    for n in range(50):
        enqueue(conn, "email" if n % 2 else "payout", rate_limit_key="k" if n % 5 == 0 else None)
    conn.execute("insert into job_rate_limits (key, max_per_window, window_seconds) values ('k', 100, 60)")
    conn.execute("analyze job_queue")


def _plans_of(conn: Conn, query: str, params: Any = ()) -> str:
    """Every plan auto_explain logs while `query` runs, nested statements included."""
    return "\n".join(_plan_list(conn, query, params))


def _plan_list(conn: Conn, query: str, params: Any = ()) -> list[str]:
    """Each plan auto_explain logs while `query` runs, nested statements included."""
    logged: list[str] = []
    conn.add_notice_handler(lambda diag: logged.append(diag.message_primary or ""))
    conn.execute("load 'auto_explain'")
    for setting, val in (
        ("auto_explain.log_min_duration", "0"),
        ("auto_explain.log_nested_statements", "on"),
        ("client_min_messages", "log"),
    ):
        conn.execute("select set_config(%s, %s, false)", (setting, val))
    conn.execute(query, params).fetchall()
    conn.execute("set client_min_messages = notice")
    return logged


@pytest.mark.slow
def test_claiming_uses_the_partial_claim_index_with_a_million_finished_rows(conn: Conn) -> None:
    _fill(conn)
    try:
        plans = _plans_of(conn, "select * from get_next_job('w', null, 10)")
    except psycopg.errors.UndefinedFile:
        pytest.fail("auto_explain is missing from this PostgreSQL build")
    assert "job_queue_claim_idx" in plans, plans
    assert not re.search(r"Seq Scan on job_queue\b", plans), plans
    assert value(conn, "select count(*) from job_queue where status = 'running'") == 10


def _running_jobs_behind_idle_statistics(conn: Conn, count: int) -> list[str]:
    """`count` claimed jobs, with table statistics taken while nothing was running (the
    state autovacuum leaves after an idle spell, the one that misled the first settle
    functions)."""
    conn.execute(
        "insert into job_queue (type, status, max_attempts, run_at)"
        " select 'noop', 'pending', 3, now() from generate_series(1, %s)",
        (count,),
    )
    conn.execute("analyze job_queue")
    ids: list[str] = []
    while len(ids) < count:
        rows = conn.execute("select id from get_next_job('w', array['noop'], 1000)").fetchall()
        ids += [str(r["id"]) for r in rows]
    return ids


@pytest.mark.parametrize(
    ("call", "element"),
    [
        ("select * from complete_jobs(%s, 'w')", {"result": {"ok": True}}),
        ("select * from fail_jobs(%s, 'w')", {"error": "boom"}),
        ("select * from release_jobs(%s, 'w')", {"reason": "later"}),
    ],
)
def test_settling_a_batch_finds_its_jobs_by_id_not_by_joining_the_json_array(
    conn: Conn, call: str, element: dict[str, Any]
) -> None:
    """The planner guesses 100 rows for jsonb_array_elements; joined to job_queue while the
    statistics say nothing runs, that made a nested loop scanning every running job per
    element (a 1,000-job settle took seconds). Looking jobs up by an id array reads each
    candidate once whatever index the planner picks."""
    ids = _running_jobs_behind_idle_statistics(conn, 2000)
    batch = Jsonb([{"id": job_id, **element} for job_id in ids[:1000]])
    updates = [plan for plan in _plan_list(conn, call, (batch,)) if "Update on job_queue" in plan]
    assert updates, "no plan of the settle statement was logged"
    for plan in updates:
        assert "jsonb_array_elements" not in plan, plan
        assert not re.search(r"Seq Scan on job_queue\b", plan), plan
    assert value(conn, "select count(*) from job_queue where status = 'running'") == 1000
