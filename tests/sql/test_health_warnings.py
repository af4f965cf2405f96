"""health_warnings(): every check provoked for real, with its value, threshold, severity and hint.

Real: PostgreSQL with the migrations (a fresh database per test), its statistics collector
(dead tuples made by updates with autovacuum off on the test table, flushed with
pg_stat_force_next_flush), pg_stat_activity (a second connection holding a snapshot open).
Faked: pg_net, which this server lacks: a stand-in `net` schema with pg_net's two tables
(`net.http_request_queue`, `net._http_response`, same columns). pg_cron's checks run against
the real pg_cron in tests/sql/test_pg_cron.py (CI's second pass).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, connect, enqueue, make_job, sqlstate_of, value

TYPES = {"analytics", "audio", "email", "noop", "payout", "weekly_payouts"}


def warnings(conn: Conn, at: str | None = None) -> dict[str, Any]:
    if at is None:
        report: dict[str, Any] = value(conn, "select health_warnings()")
    else:
        report = value(conn, f"select health_warnings(now() + interval '{at}')")
    return report


def check(report: dict[str, Any], name: str, subject: str | None = None) -> dict[str, Any]:
    found = [c for c in report["checks"] if c["check"] == name
             and subject in (None, c.get("type"), c.get("table"))]
    assert len(found) == 1, f"{name} {subject}: {found}"
    one: dict[str, Any] = found[0]
    return one


def set_setting(conn: Conn, key: str, setting: Any) -> None:
    conn.execute("update queue.settings set value = %s where key = %s", (Jsonb(setting), key))


def record_worker_run(conn: Conn) -> None:
    conn.execute("select worker_run_start('w-health', '{}')")


def test_a_fresh_queue_reports_every_check_and_warns_only_that_no_worker_ran(conn: Conn) -> None:
    report = warnings(conn)
    names = [c["check"] for c in report["checks"]]
    for per_type in ("backlog_age", "stuck_jobs", "dead_letter_spike"):
        assert {c["type"] for c in report["checks"] if c["check"] == per_type} == TYPES
    assert {c["table"] for c in report["checks"] if c["check"] == "table_bloat"} == {
        "public.job_queue", "public.job_status_events", "public.job_dead_letter", "public.job_kicks"}
    assert {"xmin_horizon", "replication_slot_xmin", "last_worker_run", "unanswered_kicks"} <= set(names)
    for c in report["checks"]:
        assert {"severity", "value", "threshold", "critical_above", "unit", "hint"} <= set(c), c
        assert c["hint"], c
    assert [c["check"] for c in report["checks"] if c["severity"] != "ok"] == ["last_worker_run"]
    assert check(report, "last_worker_run")["value"] is None
    assert "no worker has run yet" in check(report, "last_worker_run")["hint"]
    assert (report["severity"], report["warnings"]) == ("warning", 1)
    assert {n["check"] for n in report["not_checked"]} >= {"pg_net_backlog", "pg_net_failures"}
    assert all(n["reason"] for n in report["not_checked"])

    record_worker_run(conn)
    assert (warnings(conn)["severity"], warnings(conn)["warnings"]) == ("ok", 0)


def test_a_worker_silent_past_its_threshold_warns_then_is_critical(conn: Conn) -> None:
    record_worker_run(conn)
    silent = check(warnings(conn, "10 minutes"), "last_worker_run")
    assert (silent["severity"], silent["threshold"]) == ("warning", 300)
    assert silent["details"]["worker_id"] == "w-health"
    assert 599 < silent["value"] < 700
    assert check(warnings(conn, "16 minutes"), "last_worker_run")["severity"] == "critical"


def test_a_backlog_older_than_its_types_threshold_warns_for_that_type_only(conn: Conn) -> None:
    record_worker_run(conn)
    enqueue(conn, "email", payload={"to": "a@example.com", "template": "welcome"})
    report = warnings(conn, "6 minutes")
    email = check(report, "backlog_age", "email")
    assert (email["severity"], email["threshold"], email["critical_above"], email["details"]["ready"]) == (
        "warning", 300, 900, 1)
    assert 359 < email["value"] < 460
    assert check(report, "backlog_age", "noop")["severity"] == "ok"

    conn.execute("update job_types set max_backlog_age_seconds = 3600 where name = 'email'")
    assert check(warnings(conn, "6 minutes"), "backlog_age", "email")["severity"] == "ok"
    assert check(warnings(conn, "4 hours"), "backlog_age", "email")["severity"] == "critical"


def test_a_paused_type_is_not_warned_about_its_waiting_jobs(conn: Conn) -> None:
    enqueue(conn, "noop")
    conn.execute("update job_types set enabled = false where name = 'noop'")
    paused = check(warnings(conn, "1 hour"), "backlog_age", "noop")
    assert paused["severity"] == "ok"
    assert paused["value"] > 3600
    assert paused["details"]["enabled"] is False
    assert "paused" in paused["hint"]


def test_a_job_whose_lease_expired_past_the_grace_is_stuck(conn: Conn) -> None:
    job_id = make_job(conn, "running", "email", payload={"to": "a@example.com", "template": "welcome"})
    conn.execute("update job_queue set locked_until = now() - interval '1 minute' where id = %s", (job_id,))
    assert check(warnings(conn), "stuck_jobs", "email")["severity"] == "ok"  # within the 120 s grace
    conn.execute("update job_queue set locked_until = now() - interval '5 minutes' where id = %s", (job_id,))
    stuck = check(warnings(conn), "stuck_jobs", "email")
    assert (stuck["severity"], stuck["value"], stuck["threshold"]) == ("warning", 1, 0)
    assert "cleanup_stuck_jobs" in stuck["hint"]
    conn.execute("update job_types set max_stuck_jobs = 1 where name = 'email'")
    assert check(warnings(conn), "stuck_jobs", "email")["severity"] == "ok"


def test_a_dead_letter_spike_counts_the_last_hour_against_the_types_limit(conn: Conn) -> None:
    conn.execute("update job_types set max_dead_letters_per_hour = 2 where name = 'noop'")
    for _ in range(3):
        make_job(conn, "dead")
    spike = check(warnings(conn), "dead_letter_spike", "noop")
    assert (spike["severity"], spike["value"], spike["threshold"]) == ("warning", 3, 2)
    assert "dlq groups" in spike["hint"]
    assert check(warnings(conn), "dead_letter_spike", "email")["severity"] == "ok"
    assert check(warnings(conn, "61 minutes"), "dead_letter_spike", "noop")["value"] == 0
    conn.execute("update job_types set max_dead_letters_per_hour = 0 where name = 'noop'")
    assert check(warnings(conn), "dead_letter_spike", "noop")["severity"] == "warning"  # 3 is not above 3


def test_dead_tuples_with_autovacuum_off_show_as_bloat_until_vacuum(conn: Conn) -> None:
    conn.execute("alter table job_queue set (autovacuum_enabled = off)")
    set_setting(conn, "health_dead_tuples_min", 100)
    conn.execute("select count(*) from enqueue_jobs(%s)",
                 (Jsonb([{"type": "noop", "payload": {"i": i}} for i in range(400)]),))
    conn.execute("update job_queue set progress = 1")
    conn.execute("select pg_stat_force_next_flush()")
    bloat = check(warnings(conn), "table_bloat", "public.job_queue")
    assert bloat["severity"] == "warning", bloat
    assert bloat["details"]["dead_tuples"] >= 400
    assert bloat["details"]["autovacuum_enabled"] is False
    assert 0.4 <= bloat["value"] <= 0.6
    assert "RESET (autovacuum_enabled)" in bloat["hint"]

    conn.execute("update job_queue set progress = 2")
    conn.execute("update job_queue set progress = 3")
    conn.execute("select pg_stat_force_next_flush()")
    assert check(warnings(conn), "table_bloat", "public.job_queue")["severity"] == "critical"

    conn.execute("vacuum job_queue")
    conn.execute("select pg_stat_force_next_flush()")
    after = check(warnings(conn), "table_bloat", "public.job_queue")
    assert after["severity"] == "ok"
    assert after["details"]["last_vacuum"] is not None


def test_few_dead_tuples_are_not_bloat_whatever_their_share(conn: Conn) -> None:
    conn.execute("alter table job_queue set (autovacuum_enabled = off)")
    enqueue(conn)
    conn.execute("update job_queue set progress = 1")
    conn.execute("select pg_stat_force_next_flush()")
    small = check(warnings(conn), "table_bloat", "public.job_queue")
    assert small["value"] >= 0.5
    assert small["severity"] == "ok"


@pytest.fixture
def snapshot_holder(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A second session with a repeatable-read snapshot open: it holds the xmin horizon."""
    with psycopg.connect(db_url) as holder:
        holder.execute("set application_name = 'long-report'")
        holder.execute("begin isolation level repeatable read")
        holder.execute("select count(*) from job_queue")
        yield holder
        holder.rollback()


def test_an_open_transaction_holding_xmin_is_named_with_its_pid(conn: Conn, snapshot_holder: Any) -> None:
    pid = snapshot_holder.info.backend_pid
    horizon = check(warnings(conn, "10 minutes"), "xmin_horizon")
    assert (horizon["severity"], horizon["threshold"]) == ("warning", 300)
    assert horizon["value"] >= 600
    holder = next(h for h in horizon["details"]["holders"] if h["pid"] == pid)
    assert (holder["application"], holder["state"]) == ("long-report", "idle in transaction")
    assert "idle_in_transaction_session_timeout" in horizon["hint"]
    assert check(warnings(conn, "16 minutes"), "xmin_horizon")["severity"] == "critical"

    snapshot_holder.rollback()
    after = check(warnings(conn, "10 minutes"), "xmin_horizon")
    assert pid not in [h["pid"] for h in after["details"].get("holders", [])]


def test_the_callers_own_transaction_is_not_counted(conn: Conn, db_url: str) -> None:
    with connect(db_url) as other, other.transaction():
        other.execute("select count(*) from job_queue")
        own = other.info.backend_pid
        horizon = check(warnings(other, "1 hour"), "xmin_horizon")
        assert own not in [h["pid"] for h in horizon.get("details", {}).get("holders", [])]


@pytest.fixture
def fake_pg_net(conn: Conn) -> Conn:
    """pg_net's two tables, as pg_net 0.x creates them (the columns the checks read)."""
    conn.execute("""
        create schema net;
        create table net.http_request_queue (id bigserial primary key, method text not null default 'POST',
          url text not null, headers jsonb, body bytea, timeout_milliseconds integer not null default 5000);
        create table net._http_response (id bigint, status_code integer, content_type text, headers jsonb,
          content text, timed_out boolean, error_msg text, created timestamptz not null default now());
    """)
    return conn


def test_pg_net_backlog_and_failing_responses(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    record_worker_run(conn)
    report = warnings(conn)
    assert {"pg_net_backlog", "pg_net_failures"} <= {c["check"] for c in report["checks"]}
    assert not {"pg_net_backlog", "pg_net_failures"} & {n["check"] for n in report["not_checked"]}
    assert report["severity"] == "ok"

    conn.execute("insert into net.http_request_queue (url) "
                 "select 'https://fn.example' from generate_series(1, 1001)")
    conn.execute("""insert into net._http_response (id, status_code, error_msg, created) values
        (1, 200, null, now()), (2, 500, null, now()), (3, null, 'Timeout was reached', now()),
        (4, 401, null, now() - interval '2 hours')""")
    set_setting(conn, "health_pg_net_failures_max_per_hour", 1)
    report = warnings(conn)
    backlog = check(report, "pg_net_backlog")
    assert (backlog["severity"], backlog["value"], backlog["threshold"]) == ("warning", 1001, 1000)
    failures = check(report, "pg_net_failures")
    assert (failures["severity"], failures["value"]) == ("warning", 2)
    assert [f["id"] for f in failures["details"]["latest"]] in ([2, 3], [3, 2])
    assert "Timeout was reached" in [f["error_msg"] for f in failures["details"]["latest"]]
    assert report["severity"] == "warning"


@pytest.fixture
def health_owned_by_a_plain_role(fake_pg_net: Conn) -> Iterator[Conn]:
    """health_warnings() owned by a role that may read the queue but not pg_net's tables, as
    on a platform where another role owns pg_net (roles are cluster-wide: unique names, dropped)."""
    conn = fake_pg_net
    role = f"qw_health_{uuid4().hex[:8]}"
    conn.execute(f"create role {role} bypassrls")  # as the platform owner of our functions is
    conn.execute(f"grant usage on schema public, queue to {role}")
    conn.execute(f"grant select on all tables in schema public, queue to {role}")
    conn.execute(f"grant execute on all functions in schema public, queue to {role}")
    conn.execute(f"grant pg_read_all_stats to {role}")
    conn.execute(f"grant usage on schema net to {role}")  # the schema, not its tables
    conn.execute(f"alter function public.health_warnings(timestamptz) owner to {role}")
    try:
        yield conn
    finally:
        conn.execute("alter function public.health_warnings(timestamptz) owner to current_user")
        conn.execute(f"drop owned by {role}")
        conn.execute(f"drop role {role}")


def test_an_unreadable_pg_net_is_reported_as_not_checked_not_as_fine(
        health_owned_by_a_plain_role: Conn) -> None:
    report = warnings(health_owned_by_a_plain_role)
    skipped = {n["check"]: n["reason"] for n in report["not_checked"]}
    assert "permission denied" in skipped["pg_net_failures"]
    assert "permission denied" in skipped["pg_net_backlog"]
    assert not {"pg_net_failures", "pg_net_backlog"} & {c["check"] for c in report["checks"]}
    assert check(report, "backlog_age", "noop")["severity"] == "ok"  # the rest is still checked


@pytest.mark.parametrize(("key", "bad"), [
    ("health_critical_factor", 1), ("health_dead_tuple_ratio_max", 1.5), ("health_xmin_max_age_seconds", -1),
    ("health_pg_net_queue_max", "many"),
])
def test_a_bad_threshold_setting_is_refused_by_name(conn: Conn, key: str, bad: Any) -> None:
    error = sqlstate_of(lambda: set_setting(conn, key, bad))
    assert error.sqlstate == "23514"
    assert "settings_health_values" in str(error)


def test_a_bad_type_threshold_is_refused_by_name(conn: Conn) -> None:
    error = sqlstate_of(lambda: conn.execute(
        "update job_types set max_backlog_age_seconds = 0 where name = 'noop'"))
    assert (error.sqlstate, "job_types_health_thresholds" in str(error)) == ("23514", True)


def test_only_the_service_role_may_call_it(conn: Conn) -> None:
    for role in ("anon", "authenticated"):
        granted = value(conn, "select has_function_privilege(%s, 'public.health_warnings(timestamptz)', "
                              "'execute')", (role,))
        assert granted is False, role
    assert value(conn, "select has_function_privilege('service_role', 'public.health_warnings(timestamptz)', "
                       "'execute')") is True
