"""job_rate_limits: at most N starts per window per key, also with claimers racing.

Real: PostgreSQL, real concurrent connections. Faked: nothing; the window is moved by
ageing started_at instead of sleeping.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from tests.sql.factories import Conn, claim, connect, enqueue, value


def _limit(conn: Conn, key: str, n: int, window: int) -> None:
    conn.execute(
        "insert into job_rate_limits (key, max_per_window, window_seconds) values (%s, %s, %s)",
        (key, n, window),
    )


def test_no_more_than_n_jobs_of_a_key_start_per_window(conn: Conn) -> None:
    _limit(conn, "stripe", 3, 60)
    for _ in range(5):
        enqueue(conn, rate_limit_key="stripe")
    assert len(claim(conn, batch=10)) == 3
    assert claim(conn, batch=10) == []


def test_the_next_window_allows_more(conn: Conn) -> None:
    _limit(conn, "stripe", 2, 60)
    for _ in range(3):
        enqueue(conn, rate_limit_key="stripe")
    assert len(claim(conn, batch=10)) == 2
    conn.execute("update job_queue set started_at = started_at - interval '61 seconds'")
    assert len(claim(conn, batch=10)) == 1


def test_a_limited_key_does_not_hold_back_other_work(conn: Conn) -> None:
    _limit(conn, "slow", 1, 60)
    for _ in range(3):
        enqueue(conn, rate_limit_key="slow", priority="critical")
    free = [enqueue(conn, rate_limit_key="other") for _ in range(2)] + [enqueue(conn)]
    claimed = [row["id"] for row in claim(conn, batch=10)]
    assert len(claimed) == 4
    assert set(free) < set(claimed)


def test_racing_claimers_together_respect_the_limit(conn: Conn, db_url: str) -> None:
    _limit(conn, "k", 5, 3600)
    for _ in range(40):
        enqueue(conn, rate_limit_key="k")
    racers = 6
    barrier = threading.Barrier(racers, timeout=30)

    def one(n: int) -> int:
        with connect(db_url) as c:
            barrier.wait()
            return sum(len(claim(c, worker=f"w{n}", batch=3)) for _ in range(3))

    with ThreadPoolExecutor(racers) as pool:
        total = sum(pool.map(one, range(racers), timeout=60))
    assert total == 5
    assert value(conn, "select count(*) from job_queue where status = 'running'") == 5
