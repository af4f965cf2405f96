"""Eight claimers on eight real connections drain 10,000 jobs: each completed exactly once.

Real: PostgreSQL, eight connections in eight threads. Faked: nothing.
"""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, connect, value

JOBS = 10_000
CLAIMERS = 8
BATCH = 100


def _drain(db_url: str, worker: str, barrier: threading.Barrier) -> tuple[list[UUID], list[UUID]]:
    """Claim and complete until a claim comes back empty; returns (claimed, completed)."""
    claimed: list[UUID] = []
    completed: list[UUID] = []
    with connect(db_url) as c:
        barrier.wait()
        for _ in range(JOBS):  # bounded: can never need more rounds than jobs
            rows = c.execute("select id from get_next_job(%s, null, %s)", (worker, BATCH)).fetchall()
            if not rows:
                break
            ids = [row["id"] for row in rows]
            claimed += ids
            done = c.execute(
                "select complete_jobs as id from complete_jobs(%s, %s)",
                (Jsonb([{"id": str(i), "result": {"by": worker}} for i in ids]), worker),
            ).fetchall()
            completed += [row["id"] for row in done]
    return claimed, completed


@pytest.mark.slow
def test_eight_claimers_complete_ten_thousand_jobs_each_exactly_once(conn: Conn, db_url: str) -> None:
    conn.execute(
        "select enqueue_jobs(jsonb_agg(jsonb_build_object('type', 'noop', 'payload', "
        "jsonb_build_object('n', g)))) from generate_series(1, %s) g",
        (JOBS,),
    )
    barrier = threading.Barrier(CLAIMERS, timeout=30)
    with ThreadPoolExecutor(CLAIMERS) as pool:
        results = list(pool.map(lambda n: _drain(db_url, f"w{n}", barrier), range(CLAIMERS), timeout=240))
    claimed = Counter(i for got, _ in results for i in got)
    completed = Counter(i for _, done in results for i in done)
    assert len(claimed) == JOBS
    assert max(claimed.values()) == 1
    assert completed == claimed
    assert sum(1 for got, _ in results if got) > 1, "one claimer did all the work"
    assert value(conn, "select count(*) from job_queue where status = 'completed' and attempts = 1") == JOBS
    # The worker that completed each job is the one that claimed it.
    assert (
        value(
            conn,
            "select count(*) from job_queue j join job_status_history r on r.job_id = j.id "
            "and r.to_status = 'running' where j.result ->> 'by' = r.worker_id",
        )
        == JOBS
    )
    counts = conn.execute(
        "select to_status, count(*) as n, count(distinct job_id) as jobs "
        "from job_status_history group by 1 order by 1"
    ).fetchall()
    assert {r["to_status"]: (r["n"], r["jobs"]) for r in counts} == {
        "pending": (JOBS, JOBS),
        "running": (JOBS, JOBS),
        "completed": (JOBS, JOBS),
    }
