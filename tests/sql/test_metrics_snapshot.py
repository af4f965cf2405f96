"""metrics_snapshot() and queue.job_totals: what ?action=metrics exposes, in one SQL call.

Real: PostgreSQL, jobs made through the SQL API (enqueue, claim, complete, fail, cancel),
breakers through circuit_breaker_record, worker runs through worker_run_start/finish.
Faked: run times are set by updating started_at/finished_at of completed jobs, and old
job_minute_stats rows are inserted directly, so nothing sleeps.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, enqueue, make_job, value

# le of each cumulative bucket: 2^k ms for k = 0..20.
BOUNDS = [2**k / 1000 for k in range(21)]


def _record(conn: Conn) -> None:
    """Record everything finished up to now (no settle margin)."""
    conn.execute("select queue.record_minute_stats(null, interval '0')")


def _snapshot(conn: Conn) -> dict[str, Any]:
    result = value(conn, "select metrics_snapshot()")
    assert isinstance(result, dict)
    return result


def _type(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [t for t in snapshot["types"] if t["type"] == name]
    assert len(entries) == 1
    return entries[0]


def _complete_in(conn: Conn, job_type: str, seconds: float) -> None:
    """A completed job whose (last) attempt ran `seconds`, finished a minute ago."""
    job_id = make_job(conn, "completed", job_type)
    conn.execute("update job_queue set finished_at = now() - interval '1 minute', "
                 "started_at = now() - interval '1 minute' - make_interval(secs => %s) where id = %s",
                 (seconds, job_id))


def test_an_empty_database_has_every_type_at_zero_and_nothing_else(conn: Conn) -> None:
    snapshot = _snapshot(conn)
    names = [row["name"] for row in conn.execute("select name from job_types order by name")]
    assert [t["type"] for t in snapshot["types"]] == names
    for entry in snapshot["types"]:
        counts = {k: entry[k] for k in ("ready", "scheduled", "running", "oldest_ready_age_seconds",
                                         "dead_letters", "completed_total", "failed_attempts_total",
                                         "dead_lettered_total")}
        assert counts == dict.fromkeys(counts, 0)
        assert entry["enabled"] is True
        assert entry["run_seconds"] == {"buckets": [[le, 0] for le in BOUNDS], "sum": 0, "count": 0}
    assert snapshot["breakers"] == []
    assert snapshot["last_invocation"] is None
    assert snapshot["last_finished_invocation"] is None
    checks = {c["check"] for c in snapshot["health"]["checks"]}
    assert checks >= {"backlog_age", "xmin_horizon", "last_worker_run"}


def test_live_jobs_by_status_and_the_oldest_ready_age(conn: Conn) -> None:
    enqueue(conn, "noop")
    enqueue(conn, "noop", run_at=value(conn, "select now() - interval '10 minutes'"))
    enqueue(conn, "noop", run_at=value(conn, "select now() + interval '1 hour'"))
    make_job(conn, "running", "email")
    make_job(conn, "completed", "email")
    make_job(conn, "cancelled", "email")
    make_job(conn, "dead", "audio")
    snapshot = _snapshot(conn)
    noop, email, audio = (_type(snapshot, name) for name in ("noop", "email", "audio"))
    assert (noop["ready"], noop["scheduled"], noop["running"]) == (2, 1, 0)
    assert 590 < noop["oldest_ready_age_seconds"] < 700
    # Finished and cancelled jobs are not live: only the counters count what finished.
    assert (email["ready"], email["scheduled"], email["running"]) == (0, 0, 1)
    assert (audio["ready"], audio["running"], audio["dead_letters"]) == (0, 0, 1)


def test_the_totals_count_completions_failed_attempts_and_dead_letters(conn: Conn) -> None:
    for _ in range(3):
        make_job(conn, "completed", "noop")
    retried = make_job(conn, "running", "email")
    assert value(conn, "select fail_job(%s, 'boom', true, null, 'w1')", (retried,)) == "retried"
    make_job(conn, "dead", "email")
    _record(conn)
    snapshot = _snapshot(conn)
    noop, email = _type(snapshot, "noop"), _type(snapshot, "email")
    totals = ("completed_total", "failed_attempts_total", "dead_lettered_total")
    assert [noop[k] for k in totals] == [3, 0, 0]
    assert [email[k] for k in totals] == [0, 2, 1]
    assert email["dead_letters"] == 1
    # Scraping again counts nothing twice.
    assert _type(_snapshot(conn), "noop")["completed_total"] == 3


def test_the_snapshot_itself_records_what_finished_before_the_settle_margin(conn: Conn) -> None:
    _complete_in(conn, "noop", 0.01)
    assert _type(_snapshot(conn), "noop")["completed_total"] == 1


def test_the_run_time_histogram_is_cumulative_over_fixed_bounds_with_sum_and_count(conn: Conn) -> None:
    for seconds in (0.005, 0.1, 0.1, 3.0, 2000.0):
        _complete_in(conn, "noop", seconds)
    _complete_in(conn, "email", 0.0005)
    runs = _type(_snapshot(conn), "noop")["run_seconds"]
    cumulative = dict((le, n) for le, n in runs["buckets"])
    assert [le for le, _ in runs["buckets"]] == BOUNDS
    assert (cumulative[0.004], cumulative[0.008]) == (0, 1)
    assert (cumulative[0.064], cumulative[0.128]) == (1, 3)
    assert (cumulative[2.048], cumulative[4.096]) == (3, 4)
    assert cumulative[1048.576] == 4  # the 2000 s run is only in +Inf, that is count
    assert runs["count"] == 5
    assert runs["sum"] == pytest.approx(2003.205)
    email = _type(_snapshot(conn), "email")["run_seconds"]
    assert [n for _, n in email["buckets"]] == [1] * 21  # under 1 ms: in every bucket


def test_the_totals_never_go_down_when_history_is_deleted_or_coarsened(conn: Conn) -> None:
    make_job(conn, "completed", "noop")
    make_job(conn, "dead", "email")
    _record(conn)
    before = {name: _type(_snapshot(conn), name) for name in ("noop", "email")}
    conn.execute("delete from job_queue")
    conn.execute("delete from job_dead_letter")
    conn.execute("delete from job_minute_stats")
    # A month-old stats row goes when the minute stats are coarsened: the totals stay.
    conn.execute("insert into job_minute_stats (minute, type, completed) "
                 "values (now() - interval '40 days', 'noop', 7)")
    conn.execute("select queue.coarsen_minute_stats(now() - interval '25 hours')")
    after = _snapshot(conn)
    for name, entry in before.items():
        totals = ("completed_total", "failed_attempts_total", "dead_lettered_total", "run_seconds")
        assert {k: _type(after, name)[k] for k in totals} == {k: entry[k] for k in totals}
    assert _type(after, "email")["dead_letters"] == 0  # the gauge follows the table


def test_the_totals_agree_with_the_minute_stats_they_are_recorded_with(conn: Conn) -> None:
    for job_type in ("noop", "noop", "email"):
        make_job(conn, "completed", job_type)
    make_job(conn, "dead", "audio")
    _record(conn)
    stats = conn.execute("select type, sum(completed)::bigint as completed, sum(failed)::bigint as failed, "
                         "sum(dead_lettered)::bigint as dead_lettered from job_minute_stats "
                         "group by type having sum(completed) + sum(failed) > 0 order by type").fetchall()
    totals = conn.execute("select type, completed, failed, dead_lettered from queue.job_totals "
                          "order by type").fetchall()
    assert totals == stats
    assert len(totals) == 3


def test_breakers_are_listed_with_their_state(conn: Conn) -> None:
    conn.execute("select circuit_breaker_record('resend', false, 1)")
    conn.execute("select circuit_breaker_record('stripe', true)")
    conn.execute("select circuit_breaker_record('tts', false, 1, 1, 'down', now() - interval '1 hour')")
    conn.execute("select circuit_breaker_allow('tts', 1)")  # cool-down over: one probe, half open
    breakers = {b["provider"]: b for b in _snapshot(conn)["breakers"]}
    assert [(p, b["state"], b["consecutive_failures"]) for p, b in breakers.items()] == [
        ("resend", "open", 1), ("stripe", "closed", 0), ("tts", "half_open", 1)]
    assert breakers["resend"]["open_until"] is not None


def test_the_last_invocation_and_the_last_finished_one(conn: Conn) -> None:
    conn.execute("select worker_run_start('w-old', '{}')")
    conn.execute("select worker_run_finish('w-old', %s)",
                 (Jsonb({"claimed": 3, "completed": 2, "retried": 1}),))
    conn.execute("update worker_runs set started_at = finished_at - interval '2 seconds'")
    snapshot = _snapshot(conn)
    assert snapshot["last_invocation"]["worker_id"] == "w-old"
    assert snapshot["last_invocation"]["running"] is False
    finished = snapshot["last_finished_invocation"]
    assert finished["duration_seconds"] == pytest.approx(2)
    assert finished["finished_at"] - finished["started_at"] == pytest.approx(2)
    assert [finished[k] for k in ("claimed", "completed", "retried", "dead_lettered", "released",
                                  "lease_lost")] == [3, 2, 1, 0, 0, 0]
    conn.execute("select worker_run_start('w-new', '{}')")
    snapshot = _snapshot(conn)
    latest = snapshot["last_invocation"]
    assert (latest["worker_id"], latest["running"]) == ("w-new", True)
    assert snapshot["last_finished_invocation"]["worker_id"] == "w-old"


def test_the_health_warnings_come_with_the_snapshot(conn: Conn) -> None:
    conn.execute("update job_types set max_backlog_age_seconds = 60 where name = 'noop'")
    enqueue(conn, "noop", run_at=value(conn, "select now() - interval '2 minutes'"))
    checks = _snapshot(conn)["health"]["checks"]
    backlog = next(c for c in checks if c["check"] == "backlog_age" and c.get("type") == "noop")
    assert (backlog["severity"], backlog["threshold"]) == ("warning", 60)
    assert backlog["value"] > 100


def test_a_paused_type_says_so(conn: Conn) -> None:
    conn.execute("update job_types set enabled = false where name = 'audio'")
    assert _type(_snapshot(conn), "audio")["enabled"] is False


def test_the_snapshot_needs_the_service_role(conn: Conn) -> None:
    for role in ("anon", "authenticated"):
        conn.execute(f"set role {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select metrics_snapshot()")
        conn.execute("reset role")
    conn.execute("set role service_role")
    assert value(conn, "select metrics_snapshot() is not null") is True
    conn.execute("reset role")


def _seq_scans(conn: Conn) -> dict[str, int]:
    conn.execute("select pg_stat_force_next_flush()")
    conn.execute("select pg_stat_clear_snapshot()")
    rows = conn.execute("select relname, seq_scan from pg_stat_user_tables where relname in ('job_queue', "
                        "'job_dead_letter', 'job_status_events', 'job_minute_stats')").fetchall()
    return {r["relname"]: r["seq_scan"] for r in rows}


def test_the_snapshot_scans_no_big_table_whole(conn: Conn) -> None:
    conn.execute("""
        insert into job_queue (type, status, attempts, max_attempts, started_at, finished_at, claimed_by)
        select 'noop', 'completed', 1, 5, now() - g * interval '1 second' - interval '5 ms',
               now() - g * interval '1 second', 'w' from generate_series(1, 20000) g""")
    conn.execute("""
        insert into job_dead_letter (job_id, type, payload, priority, attempts, max_attempts, last_error,
                                     job_created_at, failed_at)
        select gen_random_uuid(), 'email', '{}', 'normal', 5, 5, 'boom ' || g, now(),
               now() - g * interval '1 minute'
          from generate_series(1, 5000) g""")
    for _ in range(3):
        enqueue(conn, "noop")
    conn.execute("analyze job_queue, job_dead_letter, job_status_events, job_minute_stats")
    _record(conn)  # the first call counts the last day; afterwards only what is new
    before = _seq_scans(conn)
    snapshot = _snapshot(conn)
    assert _seq_scans(conn) == before
    noop = _type(snapshot, "noop")
    assert (noop["ready"], noop["completed_total"]) == (3, 20000)
    assert _type(snapshot, "email")["dead_letters"] == 5000
