"""job_types.concurrency_limit: at most N running jobs of a type, also with claimers racing.

Real: PostgreSQL, real concurrent connections. Faked: nothing.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.sql.factories import Conn, claim, connect, enqueue, value


def test_no_more_jobs_of_a_type_run_than_its_limit(conn: Conn) -> None:
    for _ in range(5):
        enqueue(conn, "payout")  # seeded with concurrency_limit 2
    assert len(claim(conn, batch=10)) == 2
    assert claim(conn, batch=10) == []


def test_finishing_a_job_frees_a_slot(conn: Conn) -> None:
    for _ in range(3):
        enqueue(conn, "payout")
    first, _ = claim(conn, batch=10)
    conn.execute("select complete_job(%s, null, 'w1')", (first["id"],))
    assert len(claim(conn, batch=10)) == 1
    assert value(conn, "select count(*) from job_queue where type = 'payout' and status = 'running'") == 2


def test_a_full_type_does_not_hold_back_other_types(conn: Conn) -> None:
    for _ in range(4):
        enqueue(conn, "analytics", priority="critical")  # limit 1
    email = enqueue(conn, "email", priority="low")
    types = [row["type"] for row in claim(conn, batch=10)]
    assert sorted(types) == ["analytics", "email"]
    assert value(conn, "select status from job_queue where id = %s", (email,)) == "running"


def test_racing_claimers_together_respect_the_limit(conn: Conn, db_url: str) -> None:
    conn.execute("update job_types set concurrency_limit = 3 where name = 'email'")
    for _ in range(30):
        enqueue(conn, "email")
    racers = 6
    barrier = threading.Barrier(racers, timeout=30)

    def one(n: int) -> int:
        with connect(db_url) as c:
            barrier.wait()
            return sum(len(claim(c, worker=f"w{n}", batch=2, types=["email"])) for _ in range(3))

    with ThreadPoolExecutor(racers) as pool:
        total = sum(pool.map(one, range(racers), timeout=60))
    assert total == 3
    assert value(conn, "select count(*) from job_queue where status = 'running'") == 3
