"""Recurring jobs: job_schedules and enqueue_due_schedules(p_now).

Real: PostgreSQL, two real connections ticking at once. Faked: nothing; p_now moves the
clock.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import partial

from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, connect, sqlstate_of, value

MONDAY_9 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _schedule(conn: Conn, name: str = "every_minute", cron: str = "* * * * *") -> None:
    conn.execute("select set_job_schedule(%s, %s, 'noop', '{\"s\": 1}', 'high')", (name, cron))


def _due(conn: Conn, name: str, at: datetime) -> None:
    conn.execute("update job_schedules set next_run_at = %s where name = %s", (at, name))


def test_the_seeded_schedules_exist_and_are_disabled(conn: Conn) -> None:
    rows = conn.execute(
        "select name, cron, type, enabled, next_run_at from job_schedules order by name"
    ).fetchall()
    assert [(r["name"], r["cron"], r["type"], r["enabled"]) for r in rows] == [
        ("daily_analytics", "0 2 * * *", "analytics", False),
        ("weekly_payouts", "0 9 * * 1", "weekly_payouts", False),
    ]
    assert value(conn, "select enqueue_due_schedules(now() + interval '30 days')") == 0


def test_a_due_schedule_enqueues_one_job_and_moves_to_its_next_slot(conn: Conn) -> None:
    _schedule(conn, "weekly", "0 9 * * 1")
    _due(conn, "weekly", MONDAY_9)
    assert value(conn, "select enqueue_due_schedules(%s)", (MONDAY_9 + timedelta(seconds=5),)) == 1
    row = conn.execute("select * from job_schedules where name = 'weekly'").fetchone()
    assert row is not None
    assert row["next_run_at"] == MONDAY_9 + timedelta(days=7)
    assert row["last_run_at"] == MONDAY_9
    job = conn.execute("select * from job_queue where id = %s", (row["last_job_id"],)).fetchone()
    assert job is not None
    assert (job["type"], job["payload"], job["priority"]) == ("noop", {"s": 1}, "high")
    assert job["idempotency_key"] == "schedule:weekly:2026-01-05T09:00Z"
    assert value(conn, "select enqueue_due_schedules(%s)", (MONDAY_9 + timedelta(days=1),)) == 0


def test_missed_slots_are_coalesced_into_one_run(conn: Conn) -> None:
    _schedule(conn)
    start = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    _due(conn, "every_minute", start)
    assert value(conn, "select enqueue_due_schedules(%s)", (start + timedelta(minutes=30, seconds=1),)) == 1
    assert value(
        conn, "select next_run_at from job_schedules where name = 'every_minute'"
    ) == start + timedelta(minutes=31)


def test_two_concurrent_ticks_enqueue_one_job_per_due_slot(conn: Conn, db_url: str) -> None:
    for n in range(5):
        _schedule(conn, f"s{n}")
        _due(conn, f"s{n}", MONDAY_9)
    barrier = threading.Barrier(2, timeout=30)

    def tick(_: int) -> int:
        with connect(db_url) as c:
            barrier.wait()
            ticked: int = value(c, "select enqueue_due_schedules(%s)", (MONDAY_9 + timedelta(seconds=1),))
            return ticked

    with ThreadPoolExecutor(2) as pool:
        counts = list(pool.map(tick, range(2), timeout=60))
    assert sum(counts) == 5
    assert value(conn, "select count(*) from job_queue") == 5
    assert value(conn, "select count(distinct idempotency_key) from job_queue") == 5


def test_a_slot_already_enqueued_is_not_enqueued_again(conn: Conn) -> None:
    _schedule(conn)
    _due(conn, "every_minute", MONDAY_9)
    value(conn, "select enqueue_due_schedules(%s)", (MONDAY_9,))
    _due(conn, "every_minute", MONDAY_9)  # as if a racing tick had not seen the move
    value(conn, "select enqueue_due_schedules(%s)", (MONDAY_9,))
    assert value(conn, "select count(*) from job_queue") == 1


def test_enabling_a_schedule_computes_its_next_slot_from_now(conn: Conn) -> None:
    conn.execute("update job_schedules set enabled = true where name = 'daily_analytics'")
    row = conn.execute(
        "select next_run_at, now() as now from job_schedules where name = 'daily_analytics'"
    ).fetchone()
    assert row is not None
    assert row["now"] < row["next_run_at"] <= row["now"] + timedelta(days=1)
    assert row["next_run_at"].astimezone(UTC).time().isoformat() == "02:00:00"


def test_a_disabled_schedule_is_not_enqueued(conn: Conn) -> None:
    _schedule(conn)
    conn.execute("update job_schedules set enabled = false where name = 'every_minute'")
    assert value(conn, "select enqueue_due_schedules(now() + interval '1 day')") == 0


def test_a_schedule_with_a_bad_cron_or_type_is_refused_and_nothing_changes(conn: Conn) -> None:
    before = conn.execute("select * from job_schedules order by name").fetchall()
    for query, state in (
        ("insert into job_schedules (name, cron, type) values ('x', '* *', 'noop')", "22QC1"),
        ("update job_schedules set cron = 'often'", "22QC1"),
        ("select set_job_schedule('x', '* * * * *', 'nope')", "22QT1"),
    ):
        assert sqlstate_of(partial(conn.execute, query)).sqlstate == state
    assert conn.execute("select * from job_schedules order by name").fetchall() == before


def test_a_broken_schedule_does_not_stop_the_others(conn: Conn) -> None:
    _schedule(conn, "fine")
    conn.execute("select set_job_schedule('broken', '* * * * *', 'noop', %s)", (Jsonb({"x": "y" * 200}),))
    for name in ("fine", "broken"):
        _due(conn, name, MONDAY_9)
    conn.execute("update queue.settings set value = '100' where key = 'payload_max_bytes'")
    warnings: list[str] = []
    conn.add_notice_handler(lambda diag: warnings.append(diag.message_primary or ""))
    assert value(conn, "select enqueue_due_schedules(%s)", (MONDAY_9,)) == 1
    assert value(conn, "select count(*) from job_queue") == 1
    assert any("schedule broken failed" in w and "22QJ2" in w for w in warnings)
    assert value(conn, "select next_run_at from job_schedules where name = 'broken'") == MONDAY_9
