"""job_minute_stats, queue.record_minute_stats and console_overview: the console's overview.

Real: PostgreSQL, jobs made through the SQL API (enqueue, claim, complete, fail). Faked:
run times and lock deadlines are set by updating the rows, and old stats rows are inserted
directly, so nothing sleeps.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, connect, enqueue, make_job, value


def _record(conn: Conn) -> Any:
    """Record everything finished up to now (no settle margin)."""
    return value(conn, "select queue.record_minute_stats(null, interval '0')")


def _overview(conn: Conn) -> dict[str, Any]:
    result = value(conn, "select console_overview()")
    assert isinstance(result, dict)
    return result


def _type(overview: dict[str, Any], name: str) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [t for t in overview["types"] if t["type"] == name]
    assert len(entries) == 1
    return entries[0]


def _stats(conn: Conn) -> dict[str, int]:
    row = conn.execute("select coalesce(sum(completed), 0)::int as completed,"
                       " coalesce(sum(failed), 0)::int as failed,"
                       " coalesce(sum(dead_lettered), 0)::int as dead_lettered"
                       " from job_minute_stats").fetchone()
    assert row is not None
    return dict(row)


def _old_stats(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("select * from job_minute_stats where minute < now() - '25 h'::interval").fetchall()


def _fail(conn: Conn, job_id: Any, retryable: bool = True) -> str:
    outcome: str = value(conn, "select fail_job(%s, 'boom', %s, null, 'w1')", (job_id, retryable))
    return outcome


def test_an_empty_queue_lists_every_type_with_zero_counts_and_full_series(conn: Conn) -> None:
    overview = _overview(conn)
    names = [row["name"] for row in conn.execute("select name from job_types order by name")]
    assert [t["type"] for t in overview["types"]] == names
    counts = ("pending", "ready", "scheduled", "running", "completed_1h", "failed_1h", "dead_lettered_1h",
              "dead_letters")
    for entry in overview["types"]:
        assert {k: entry[k] for k in counts} == dict.fromkeys(counts, 0)
        assert entry["run_ms_p50"] is None
        assert entry["run_ms_p95"] is None
        assert entry["oldest_ready_age_seconds"] == 0
    assert len(overview["series"]["minute"]) == 60
    assert len(overview["series"]["quarter_hour"]) == 96
    assert overview["series"]["minute"][-1]["ready"] == 0  # sampled just now
    assert overview["series"]["minute"][0]["ready"] is None  # nothing sampled an hour ago
    assert overview["recent_runs"] == []
    assert overview["stale_claims"] == []
    assert overview["dead_letters_1h"] == 0


def test_live_counts_split_pending_into_ready_and_scheduled(conn: Conn) -> None:
    enqueue(conn, "noop")
    enqueue(conn, "noop", run_at=value(conn, "select now() - interval '10 minutes'"))
    enqueue(conn, "noop", run_at=value(conn, "select now() + interval '1 hour'"))
    make_job(conn, "running", "email")
    noop, email = (_type(_overview(conn), name) for name in ("noop", "email"))
    assert (noop["pending"], noop["ready"], noop["scheduled"], noop["running"]) == (3, 2, 1, 0)
    assert 590 < noop["oldest_ready_age_seconds"] < 700
    assert (email["pending"], email["running"]) == (0, 1)


def test_finished_work_of_the_last_hour_comes_from_the_minute_stats(conn: Conn) -> None:
    for _ in range(3):
        make_job(conn, "completed", "noop")
    retried = make_job(conn, "running", "email")
    assert _fail(conn, retried) == "retried"
    make_job(conn, "dead", "email")
    conn.execute("update job_queue set started_at = finished_at - interval '100 milliseconds' "
                 "where status = 'completed'")
    enqueue(conn, "audio")
    _record(conn)
    overview = _overview(conn)
    noop, email = _type(overview, "noop"), _type(overview, "email")
    assert (noop["completed_1h"], noop["failed_1h"]) == (3, 0)
    # 100 ms falls in bucket [2^6.5, 2^7) = [90.5, 128): the estimate stays inside it.
    assert 90 <= noop["run_ms_p50"] <= noop["run_ms_p95"] <= 128
    assert (email["completed_1h"], email["failed_1h"], email["dead_lettered_1h"]) == (0, 2, 1)
    assert email["dead_letters"] == 1
    assert overview["dead_letters_1h"] == 1
    last = overview["series"]["minute"][-1]
    assert sum(p["completed"] for p in overview["series"]["minute"]) == 3
    assert sum(p["failed"] for p in overview["series"]["quarter_hour"]) == 2
    assert last["ready"] == 1  # the audio job; the retried email job waits for its backoff


def test_a_replayed_dead_letter_no_longer_counts_as_waiting(conn: Conn) -> None:
    make_job(conn, "dead", "email")
    dead_letter_id = value(conn, "select id from job_dead_letter")
    conn.execute("select retry_dead_letter_job(%s)", (dead_letter_id,))
    email = _type(_overview(conn), "email")
    assert email["dead_letters"] == 0
    assert email["pending"] == 1


def test_recording_twice_counts_each_finished_job_once(conn: Conn) -> None:
    make_job(conn, "completed", "noop")
    make_job(conn, "dead", "email")
    assert _record(conn) >= 1
    first = _stats(conn)
    assert first == {"completed": 1, "failed": 1, "dead_lettered": 1}
    assert _record(conn) == 0
    _overview(conn)
    assert _stats(conn) == first
    make_job(conn, "completed", "noop")
    _record(conn)
    assert _stats(conn)["completed"] == 2


def test_a_concurrent_recording_skips_instead_of_counting_again(db_url: str, conn: Conn) -> None:
    for _ in range(5):
        make_job(conn, "completed", "noop")
    holder = connect(db_url)
    holder.autocommit = False
    try:
        assert value(holder, "select queue.record_minute_stats(null, interval '0')") >= 1
        # While the first call's transaction is open, a second returns null at once.
        assert _record(conn) is None
        holder.commit()
    finally:
        holder.close()
    assert _record(conn) == 0
    assert _stats(conn)["completed"] == 5


def test_many_concurrent_recordings_count_exactly_once(db_url: str, conn: Conn) -> None:
    for _ in range(20):
        make_job(conn, "completed", "noop")
    barrier = threading.Barrier(6)
    errors: list[BaseException] = []

    def record() -> None:
        try:
            with connect(db_url) as other:
                barrier.wait()
                for _ in range(5):
                    other.execute("select queue.record_minute_stats(null, interval '0')")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=record) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _stats(conn)["completed"] == 20


def test_the_settle_margin_leaves_the_last_seconds_for_the_next_call(conn: Conn) -> None:
    make_job(conn, "completed", "noop")
    assert value(conn, "select queue.record_minute_stats(null, interval '1 hour')") == 0
    assert _stats(conn)["completed"] == 0
    _record(conn)
    assert _stats(conn)["completed"] == 1


def test_cleanup_stuck_jobs_records_the_minute_stats(conn: Conn) -> None:
    make_job(conn, "completed", "noop")
    conn.execute("update queue.minute_stats_watermark set recorded_through = now() - interval '1 hour'")
    conn.execute("update job_queue set finished_at = now() - interval '1 minute', "
                 "started_at = now() - interval '2 minutes' where status = 'completed'")
    conn.execute("select cleanup_stuck_jobs()")
    assert _stats(conn)["completed"] == 1


def test_minutes_older_than_a_day_become_hours_and_a_month_old_rows_go(conn: Conn) -> None:
    conn.execute("""
        insert into job_minute_stats (minute, type, completed, failed, dead_lettered, ready, run_ms_buckets)
        select date_trunc('hour', now()) - interval '30 hours' + m * interval '1 minute', 'noop', 2, 1, 0, m,
               array_fill(0, array[20]) || array[2] || array_fill(0, array[35])
          from generate_series(0, 59) m
        union all
        select date_trunc('hour', now()) - interval '32 days', 'noop', 1, 0, 0, 0,
               array_fill(0, array[56])""")
    conn.execute("update queue.minute_stats_watermark set recorded_through = now() - '2 hours'::interval")
    _record(conn)
    rows = _old_stats(conn)
    assert len(rows) == 1
    (hour,) = rows
    assert (hour["completed"], hour["failed"], hour["ready"]) == (120, 60, 59)
    assert hour["run_ms_buckets"][20] == 120
    assert hour["minute"] == value(conn, "select date_trunc('hour', now()) - interval '30 hours'")
    # Coarsening again changes nothing.
    conn.execute("select queue.coarsen_minute_stats(now() - interval '25 hours')")
    again = _old_stats(conn)
    assert again == rows


def test_recent_runs_and_stale_claims(conn: Conn) -> None:
    conn.execute("select worker_run_start('w-old', '{}')")
    conn.execute("select worker_run_finish('w-old', %s)",
                 (Jsonb({"claimed": 3, "completed": 2, "retried": 1}),))
    conn.execute("select worker_run_start('w-new', '{}')")
    conn.execute("update worker_runs set started_at = started_at - interval '1 minute' "
                 "where worker_id = 'w-old'")
    stale = make_job(conn, "running", "noop")
    make_job(conn, "running", "email")
    conn.execute("update job_queue set locked_until = now() - interval '1 second' where id = %s", (stale,))
    overview = _overview(conn)
    runs = overview["recent_runs"]
    assert [r["worker_id"] for r in runs] == ["w-new", "w-old"]
    assert (runs[0]["duration_ms"], runs[0]["finished_at"]) == (None, None)
    assert runs[1]["duration_ms"] > 0
    assert [runs[1][k] for k in ("claimed", "completed", "retried", "dead_lettered")] == [3, 2, 1, 0]
    claims = [(c["id"], c["type"], c["locked_by"]) for c in overview["stale_claims"]]
    assert claims == [(str(stale), "noop", "w1")]


def test_the_overview_needs_the_service_role(conn: Conn) -> None:
    for role in ("anon", "authenticated"):
        conn.execute(f"set role {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select console_overview()")
        conn.execute("reset role")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(f"set role {role}; select * from job_minute_stats")
        conn.execute("reset role")


@pytest.mark.parametrize(("ms", "bucket"),
                         [(0.2, 0), (1, 1), (1.5, 2), (2, 3), (1000, 20), (1e12, 55), (None, 0)])
def test_run_time_buckets_are_half_powers_of_two(conn: Conn, ms: float | None, bucket: int) -> None:
    assert value(conn, "select queue.run_ms_bucket(%s)", (ms,)) == bucket


def test_percentiles_of_an_empty_histogram_are_null(conn: Conn) -> None:
    assert value(conn, "select queue.run_ms_percentile(array_fill(0, array[56]), 0.5)") is None


# --- dead letters waiting: counters kept by triggers on job_dead_letter ---------------------

def _waiting(conn: Conn) -> dict[str, int]:
    rows = conn.execute("select type, waiting from queue.dead_letters_waiting where waiting <> 0").fetchall()
    return {r["type"]: r["waiting"] for r in rows}


def _actual(conn: Conn) -> dict[str, int]:
    rows = conn.execute("select type, count(*)::int as n from job_dead_letter where replayed_job_id is null "
                        "group by 1").fetchall()
    return {r["type"]: r["n"] for r in rows}


def test_the_waiting_counters_follow_dead_lettering_replays_and_deletes(conn: Conn) -> None:
    for job_type in ("email", "email", "noop", "audio"):
        make_job(conn, "dead", job_type)
    assert _waiting(conn) == {"email": 2, "noop": 1, "audio": 1} == _actual(conn)
    conn.execute("select retry_dead_letter_job(id) from job_dead_letter where type = 'email' limit 1")
    assert _waiting(conn) == {"email": 1, "noop": 1, "audio": 1} == _actual(conn)
    as_of = value(conn, "select clock_timestamp()")
    conn.execute("select dead_letters_act('replay', %s, %s, 1, 'sql', null)",
                 (Jsonb({"filter": {"type": "noop"}}), as_of))
    conn.execute("select dead_letters_act('delete', %s, %s, 1, 'sql', null)",
                 (Jsonb({"filter": {"type": "audio"}}), as_of))
    assert _waiting(conn) == {"email": 1} == _actual(conn)
    conn.execute("delete from job_dead_letter where replayed_job_id is not null")
    assert _waiting(conn) == {"email": 1} == _actual(conn)
    assert _type(_overview(conn), "email")["dead_letters"] == 1
    conn.execute("truncate job_dead_letter cascade")
    assert _waiting(conn) == {}


def test_concurrent_dead_lettering_keeps_the_counters_exact(db_url: str, conn: Conn) -> None:
    ids = [make_job(conn, "running", job_type, worker=f"w{n}")
           for n, job_type in enumerate(["email", "noop"] * 10)]
    barrier = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def fail(n: int) -> None:
        try:
            with connect(db_url) as other:
                barrier.wait()
                other.execute("select fail_job(%s, 'boom', false, null, %s)", (ids[n], f"w{n}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fail, args=(n,)) for n in range(len(ids))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _waiting(conn) == {"email": 10, "noop": 10} == _actual(conn)


def test_a_quarter_hour_point_sums_its_minutes_and_keeps_their_largest_backlog(conn: Conn) -> None:
    at = value(conn, "select date_trunc('hour', now()) - interval '3 hours'")
    conn.execute("""
        insert into job_minute_stats (minute, type, completed, failed, ready)
        values (%(at)s, 'noop', 2, 1, 5), (%(at)s + interval '14 minutes', 'noop', 3, 0, 9),
               (%(at)s + interval '14 minutes', 'email', 1, 1, 4),
               (%(at)s + interval '15 minutes', 'noop', 7, 0, 1)
        """, {"at": at})
    quarters = {p["at"]: p for p in _overview(conn)["series"]["quarter_hour"]}
    first = quarters[at.isoformat()]
    assert (first["completed"], first["failed"], first["ready"]) == (6, 2, 13)
    assert [p["at"][14:] for p in list(quarters.values())[:4]] in (
        ["00:00+00:00", "15:00+00:00", "30:00+00:00", "45:00+00:00"],
        ["15:00+00:00", "30:00+00:00", "45:00+00:00", "00:00+00:00"],
        ["30:00+00:00", "45:00+00:00", "00:00+00:00", "15:00+00:00"],
        ["45:00+00:00", "00:00+00:00", "15:00+00:00", "30:00+00:00"])
    second = quarters[(at + timedelta(minutes=15)).isoformat()]
    assert (second["completed"], second["ready"]) == (7, 1)


def _seq_scans(conn: Conn) -> dict[str, int]:
    conn.execute("select pg_stat_force_next_flush()")
    conn.execute("select pg_stat_clear_snapshot()")
    rows = conn.execute("select relname, seq_scan from pg_stat_user_tables where relname in "
                        "('job_queue', 'job_dead_letter', 'job_status_events')").fetchall()
    return {r["relname"]: r["seq_scan"] for r in rows}


def test_the_overview_scans_no_big_table_whole(conn: Conn) -> None:
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
    make_job(conn, "running", "email")
    conn.execute("analyze job_queue, job_dead_letter, job_status_events")
    _record(conn)  # the first call counts the last day; afterwards only what is new
    before = _seq_scans(conn)
    overview = _overview(conn)
    assert _seq_scans(conn) == before
    assert _type(overview, "noop")["pending"] == 3
