"""queue.retry_delay (exponential, capped, equal jitter) and the run_at fail_job sets from it.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.sql.factories import Conn, job, make_job, value


def _delay(conn: Conn, attempt: int, base: int, cap: int, jitter: float) -> float:
    seconds: float = value(
        conn,
        "select extract(epoch from queue.retry_delay(%s, %s, %s, %s))::float8",
        (attempt, base, cap, jitter),
    )
    return seconds


@pytest.mark.parametrize(("attempt", "full"), [(1, 10), (2, 20), (3, 40), (4, 80), (6, 320)])
def test_the_delay_doubles_with_each_attempt(conn: Conn, attempt: int, full: float) -> None:
    assert _delay(conn, attempt, 10, 100_000, 1.0) == pytest.approx(full)
    assert _delay(conn, attempt, 10, 100_000, 0.0) == pytest.approx(full / 2)


def test_the_delay_never_exceeds_the_cap(conn: Conn) -> None:
    assert _delay(conn, 30, 10, 3600, 1.0) == pytest.approx(3600)
    assert _delay(conn, 1000, 10, 3600, 1.0) == pytest.approx(3600)
    assert _delay(conn, 1000, 10, 3600, 0.0) == pytest.approx(1800)


def test_jitter_outside_zero_to_one_is_clamped(conn: Conn) -> None:
    assert _delay(conn, 1, 10, 100, 5.0) == pytest.approx(10)
    assert _delay(conn, 1, 10, 100, -5.0) == pytest.approx(5)


def test_random_jitter_stays_within_half_to_full_delay_and_varies(conn: Conn) -> None:
    rows = conn.execute(
        "select extract(epoch from queue.retry_delay(3, 10, 3600, random()))::float8 as s "
        "from generate_series(1, 500)"
    ).fetchall()
    delays = [row["s"] for row in rows]
    assert all(20 <= d <= 40 for d in delays)
    assert max(delays) - min(delays) > 5


def test_fail_job_schedules_the_retry_within_the_backoff_bounds(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email", worker="w")  # base 10, cap 3600
    for attempt in (1, 2, 3):
        before = value(conn, "select clock_timestamp()")
        assert value(conn, "select fail_job(%s, 'transient', true, null, 'w')", (job_id,)) == "retried"
        after = value(conn, "select clock_timestamp()")
        full = timedelta(seconds=10 * 2 ** (attempt - 1))
        run_at = job(conn, job_id)["run_at"]
        assert before + full / 2 <= run_at <= after + full
        conn.execute("update job_queue set run_at = now() - interval '1 second' where id = %s", (job_id,))
        assert value(conn, "select count(*) from get_next_job('w', array['email'])") == 1


def test_a_retry_after_replaces_the_backoff(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email")
    before = value(conn, "select clock_timestamp()")
    assert value(conn, "select fail_job(%s, 'slow down', true, 900, 'w1')", (job_id,)) == "retried"
    delay = job(conn, job_id)["run_at"] - before
    assert timedelta(seconds=900) <= delay < timedelta(seconds=905)


def test_a_negative_retry_after_is_refused(conn: Conn) -> None:
    job_id = make_job(conn, "running")
    with pytest.raises(Exception, match="retry_after_seconds must be 0 or more"):
        conn.execute("select fail_job(%s, 'x', true, -1)", (job_id,))
    assert job(conn, job_id)["status"] == "running"
