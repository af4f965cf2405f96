"""queue_stats() and queue_health(): their shape and their values on a known queue.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, make_job, value

STATS_KEYS = {
    "generated_at",
    "by_status",
    "by_type",
    "by_priority",
    "dead_letter_count",
    "oldest_pending_age_seconds",
    "completed_last_5m",
    "completed_last_1h",
    "failed_last_5m",
    "failed_last_1h",
    "run_time_p50_ms",
    "run_time_p95_ms",
}
HEALTH_KEYS = {
    "checked_at",
    "unanswered_kicks",
    "stuck_jobs",
    "pending_ready",
    "oldest_pending_age_seconds",
    "dead_letters_last_1h",
    "last_worker_run",
    "seconds_since_last_worker_run",
}


def _stats(conn: Conn) -> dict[str, Any]:
    stats: dict[str, Any] = value(conn, "select queue_stats()")
    return stats


def _health(conn: Conn) -> dict[str, Any]:
    health: dict[str, Any] = value(conn, "select queue_health()")
    return health


def test_stats_of_an_empty_queue_have_every_key_and_zero_counts(conn: Conn) -> None:
    stats = _stats(conn)
    assert set(stats) == STATS_KEYS
    assert (stats["by_status"], stats["by_type"], stats["by_priority"]) == ({}, {}, {})
    assert (stats["dead_letter_count"], stats["completed_last_1h"], stats["oldest_pending_age_seconds"]) == (
        0,
        0,
        0,
    )
    assert stats["run_time_p50_ms"] is None


def test_stats_count_jobs_by_status_type_and_priority(conn: Conn) -> None:
    make_job(conn, "pending", "email", priority="high")
    make_job(conn, "pending", "email")
    make_job(conn, "running", "noop")
    make_job(conn, "completed", "noop")
    make_job(conn, "dead", "email")
    retried = make_job(conn, "running", "email")
    value(conn, "select fail_job(%s, 'again', true, null, 'w1')", (retried,))
    released = make_job(conn, "running", "audio")  # given back: neither completed nor failed
    conn.execute("select release_jobs(%s, 'w1')", (Jsonb([{"id": str(released), "reason": "shutdown"}]),))
    conn.execute("update job_queue set run_at = now() - interval '90 seconds' where priority = 'high'")
    stats = _stats(conn)
    assert stats["by_status"] == {"pending": 4, "running": 1, "completed": 1}
    assert stats["by_type"] == {
        "email": {"pending": 3},
        "noop": {"running": 1, "completed": 1},
        "audio": {"pending": 1},
    }
    assert stats["by_priority"] == {"high": 1, "normal": 1, "critical": 3}
    assert stats["dead_letter_count"] == 1
    assert (stats["completed_last_5m"], stats["completed_last_1h"]) == (1, 1)
    assert (stats["failed_last_5m"], stats["failed_last_1h"]) == (2, 2)
    assert 89 <= stats["oldest_pending_age_seconds"] < 150
    assert stats["run_time_p50_ms"] >= 0
    assert stats["run_time_p95_ms"] >= stats["run_time_p50_ms"]


def test_stats_report_run_time_percentiles_of_the_last_hour(conn: Conn) -> None:
    for ms in (100, 200, 300, 400, 500):
        job_id = make_job(conn, "completed")
        conn.execute(
            "update job_queue set finished_at = started_at + make_interval(secs => %s / 1000.0) "
            "where id = %s",
            (ms, job_id),
        )
    stats = _stats(conn)
    assert round(stats["run_time_p50_ms"]) == 300
    assert round(stats["run_time_p95_ms"]) == 480


def test_health_of_an_empty_queue_has_every_key(conn: Conn) -> None:
    health = _health(conn)
    assert set(health) == HEALTH_KEYS
    assert (health["stuck_jobs"], health["pending_ready"], health["dead_letters_last_1h"]) == (0, 0, 0)
    assert health["last_worker_run"] is None
    assert health["seconds_since_last_worker_run"] is None


def test_health_reports_stuck_jobs_backlog_dead_letters_and_the_last_worker_run(conn: Conn) -> None:
    stuck = make_job(conn, "running")
    conn.execute("update job_queue set locked_until = now() - interval '1 minute' where id = %s", (stuck,))
    make_job(conn, "pending")
    make_job(conn, "dead")
    conn.execute("select worker_run_start('old', '{}')")
    conn.execute("update worker_runs set started_at = now() - interval '1 hour'")
    conn.execute("select worker_run_start('new', '{}')")
    conn.execute("select worker_run_finish('new', %s)", (Jsonb({"claimed": 3, "completed": 2}),))
    health = _health(conn)
    assert (health["stuck_jobs"], health["pending_ready"], health["dead_letters_last_1h"]) == (1, 1, 1)
    last = health["last_worker_run"]
    assert (last["worker_id"], last["claimed"], last["completed"]) == ("new", 3, 2)
    assert last["finished_at"] is not None
    assert 0 <= health["seconds_since_last_worker_run"] < 60
