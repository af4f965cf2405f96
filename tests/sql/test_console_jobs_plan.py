"""Query plans of console_jobs with a million finished rows: a page, filtered or not, reads
an index (job_queue_seq_idx backwards, or the partial index of its status or owner) and
never seq-scans job_queue or sorts the table.

Real: PostgreSQL; the plan is the one the function's dynamic query runs, captured with
auto_explain (nested statements) and sent to the client as LOG messages. Faked: nothing.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, enqueue

FINISHED_ROWS = 1_000_000
OWNER = "11111111-1111-1111-1111-111111111111"


@pytest.fixture
def million(conn: Conn) -> Conn:
    """A million completed jobs (every 1000th an email, every 10,000th owned), 50 pending."""
    conn.execute("set session_replication_role = replica")  # skip a million FK trigger calls
    conn.execute(
        """
        insert into job_queue (type, status, attempts, max_attempts, run_at, started_at, finished_at,
                               progress, owner_id)
        select case when n %% 1000 = 0 then 'email' else 'noop' end, 'completed', 1, 3,
               now() - interval '2 days', now() - interval '2 days', now() - interval '1 day', 100,
               case when n %% 10000 = 0 then %s::uuid end
          from generate_series(1, %s) n""",
        (OWNER, FINISHED_ROWS),
    )
    conn.execute("reset session_replication_role")
    for _ in range(50):
        enqueue(conn)
    conn.execute("analyze job_queue")
    return conn


def plan_of_page(conn: Conn, filter_: dict[str, Any], after: int | None = None) -> str:
    """The plan auto_explain logs for the page query console_jobs runs."""
    logged: list[str] = []
    conn.add_notice_handler(lambda diag: logged.append(diag.message_primary or ""))
    conn.execute("load 'auto_explain'")
    for setting, val in (("auto_explain.log_min_duration", "0"), ("auto_explain.log_nested_statements", "on"),
                         ("client_min_messages", "log")):
        conn.execute("select set_config(%s, %s, false)", (setting, val))
    conn.execute("select console_jobs(%s, %s, 50)", (Jsonb(filter_), after)).fetchall()
    conn.execute("set client_min_messages = notice")
    pages = [plan for plan in logged if "job_queue j" in plan and "Limit" in plan]
    assert pages, "\n".join(logged)
    return pages[-1]


# (filter, after, the index its page must read): filled once, as the fill is the slow part.
PAGES: list[tuple[dict[str, Any], int | None, str]] = [
    ({}, None, "job_queue_seq_idx"),
    ({}, 500_000, "job_queue_seq_idx"),
    ({"status": "completed", "type": "noop"}, 300_000, "job_queue_seq_idx"),
    ({"type": "email"}, None, "job_queue_seq_idx"),
    ({"status": "pending"}, None, "job_queue_claim_idx"),
    ({"owner": OWNER}, None, "job_queue_owner_idx"),
]


@pytest.mark.slow
def test_a_page_reads_an_index_with_a_million_finished_rows(million: Conn) -> None:
    for filter_, after, index in PAGES:
        plan = plan_of_page(million, filter_, after)
        assert index in plan, (filter_, plan)
        assert not re.search(r"Seq Scan on job_queue\b", plan), (filter_, plan)
