"""The analytics rollup against real Postgres: jobs, dead letters, auth.users and the ledger
are real rows in a fresh migrated database. Nothing is faked."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from typing import Any

import psycopg
import pydantic
import pytest

from shared.config import Settings
from shared.processors import analytics
from shared.queue.errors import InvalidInput
from shared.queue.postgres import PostgresBackend
from tests.processors.conftest import MakeContext
from tests.processors.test_payout import add_entry, add_seller

Conn = psycopg.Connection[dict[str, Any]]
DAY = dt.date(2026, 11, 20)
NOON = dt.datetime(2026, 11, 20, 12, tzinfo=dt.UTC)


def completed_job(conn: Conn, job_type: str, ms: int, finished: dt.datetime = NOON) -> None:
    started = finished - dt.timedelta(milliseconds=ms)
    conn.execute("insert into job_queue (type, status, attempts, max_attempts, created_at, started_at, "
                 "finished_at) values (%s, 'completed', 1, 3, %s, %s, %s)",
                 (job_type, started, started, finished))


def pending_job(conn: Conn, job_type: str, created: dt.datetime) -> None:
    conn.execute("insert into job_queue (type, max_attempts, created_at, run_at) values (%s, 3, %s, %s)",
                 (job_type, created, created))


def dead_letter(conn: Conn, job_type: str, failed: dt.datetime = NOON) -> None:
    conn.execute("insert into job_dead_letter (job_id, type, payload, priority, attempts, max_attempts, "
                 "job_created_at, failed_at) values (%s, %s, '{}', 'normal', 3, 3, %s, %s)",
                 (uuid.uuid4(), job_type, failed, failed))


def rows(conn: Conn, grp: str | None = None) -> dict[tuple[str, str], float]:
    found = conn.execute("select metric, dimension, value from analytics_daily where day = %s "
                         "and (%s::text is null or grp = %s)", (DAY, grp, grp)).fetchall()
    return {(r["metric"], r["dimension"]): float(r["value"]) for r in found}


def rollup(make_ctx: MakeContext, **payload: Any) -> dict[str, Any]:
    ctx = make_ctx(Settings(), job_type="analytics")
    return analytics.handle(analytics.Payload.model_validate({"date": DAY, **payload}), ctx)


def test_queue_metrics_per_type_and_in_total(conn: Conn, make_ctx: MakeContext) -> None:
    for ms in (100, 200, 300):
        completed_job(conn, "email", ms)
    completed_job(conn, "audio", 1000)
    dead_letter(conn, "email")
    pending_job(conn, "email", NOON)
    completed_job(conn, "email", 50, finished=NOON + dt.timedelta(days=1))  # another day

    result = rollup(make_ctx, metrics=["queue"])

    got = rows(conn)
    assert result["groups"] == ["queue"]
    assert result["rows"] == len(got)
    assert got[("jobs_completed", "email")] == 3
    assert got[("jobs_dead_lettered", "email")] == 1
    assert got[("success_rate", "email")] == 0.75
    assert got[("failure_rate", "email")] == 0.25
    assert got[("processing_ms_avg", "email")] == 200
    assert got[("processing_ms_p95", "email")] == 290
    assert got[("jobs_enqueued", "email")] == 5
    assert got[("queue_depth_end_of_day", "email")] == 1  # the pending one
    assert got[("jobs_completed", "")] == 4
    assert got[("success_rate", "audio")] == 1


def test_running_a_day_twice_gives_the_same_rows(conn: Conn, make_ctx: MakeContext) -> None:
    completed_job(conn, "email", 120)
    dead_letter(conn, "payout")
    rollup(make_ctx)
    first = rows(conn)
    rollup(make_ctx)
    assert rows(conn) == first
    assert first


def test_a_day_without_jobs_rolls_up_to_zero_totals_not_to_a_gap(conn: Conn, make_ctx: MakeContext) -> None:
    completed_job(conn, "email", 50, finished=NOON + dt.timedelta(days=2))  # another day's activity
    assert rollup(make_ctx, metrics=["queue"])["rows"] == 4
    assert rows(conn) == {("jobs_enqueued", ""): 0, ("jobs_completed", ""): 0, ("jobs_dead_lettered", ""): 0,
                          ("queue_depth_end_of_day", ""): 0}


def test_a_quiet_day_writes_zero_money_for_every_currency_the_ledger_knows(
        conn: Conn, make_ctx: MakeContext) -> None:
    seller = add_seller(conn, [("sale", 5000)])
    add_entry(conn, seller, "sale", 900, "eur")
    conn.execute("update ledger_entries set created_at = %s", (NOON - dt.timedelta(days=3),))
    rollup(make_ctx, metrics=["marketplace"])
    metrics = ("sales_cents", "refunds_cents", "payouts_cents", "platform_fees_cents", "payouts_paid")
    assert rows(conn, "marketplace") == {(m, c): 0 for m in metrics for c in ("usd", "eur")}


def test_user_metrics_are_skipped_cleanly_where_auth_users_does_not_exist(
        conn: Conn, make_ctx: MakeContext) -> None:
    result = rollup(make_ctx, metrics=["users", "queue"])
    assert result["skipped"] == {"users": "auth.users does not exist"}
    assert result["groups"] == ["queue"]


def test_user_growth_comes_from_auth_users_where_it_exists(conn: Conn, make_ctx: MakeContext) -> None:
    conn.execute("create table auth.users (id uuid primary key, created_at timestamptz)")
    hours = (-72, 0, 1, 24)  # before, twice on the day, after
    for created in (NOON + dt.timedelta(hours=h) for h in hours):
        conn.execute("insert into auth.users values (%s, %s)", (uuid.uuid4(), created))
    result = rollup(make_ctx, metrics=["users"])
    assert result["skipped"] == {}
    assert rows(conn, "users") == {("users_new", ""): 2, ("users_total", ""): 3}


def test_marketplace_money_per_currency_comes_from_the_ledger(conn: Conn, make_ctx: MakeContext) -> None:
    seller = add_seller(conn, [])
    for kind, cents, currency in (("sale", 5000, "usd"), ("sale", 2500, "usd"), ("refund", -500, "usd"),
                                  ("sale", 900, "eur")):
        add_entry(conn, seller, kind, cents, currency)
    conn.execute("update ledger_entries set created_at = %s", (NOON,))
    conn.execute("insert into payouts (seller_id, currency, status, gross_cents, fee_cents, amount_cents, "
                 "fee_bps, transfer_id, paid_at) "
                 "values (%s, 'usd', 'paid', 7000, 700, 6300, 1000, 'tr_1', %s)", (seller, NOON))
    rollup(make_ctx, metrics=["marketplace"])
    assert rows(conn, "marketplace") == {
        ("sales_cents", "usd"): 7500, ("sales_cents", "eur"): 900, ("refunds_cents", "usd"): 500,
        ("payouts_cents", "usd"): 6300, ("platform_fees_cents", "usd"): 700, ("payouts_paid", "usd"): 1,
        ("refunds_cents", "eur"): 0, ("payouts_cents", "eur"): 0, ("platform_fees_cents", "eur"): 0,
        ("payouts_paid", "eur"): 0}


def test_rolling_up_one_group_leaves_the_other_groups_rows_alone(conn: Conn, make_ctx: MakeContext) -> None:
    conn.execute("insert into analytics_daily (day, metric, dimension, grp, value) "
                 "values (%s, 'sales_cents', 'usd', 'marketplace', 42)", (DAY,))
    completed_job(conn, "email", 10)
    rollup(make_ctx, metrics=["queue"])
    assert rows(conn, "marketplace") == {("sales_cents", "usd"): 42}


def test_the_default_day_is_yesterday_in_utc() -> None:
    assert analytics.Payload().date == dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


@pytest.mark.parametrize(("body", "field"), [
    ({"date": "2026-13-01"}, "date"),
    ({"date": (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()}, "future"),
    ({"metrics": ["queue", "revenue"]}, "metrics"),
    ({"metrics": []}, "metrics"),
    ({"day": "2026-11-20"}, "day"),
])
def test_a_bad_payload_is_rejected_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        analytics.Payload.model_validate(body)
    assert field in str(caught.value)


def test_the_sql_function_refuses_unknown_groups_and_future_days(make_ctx: MakeContext) -> None:
    backend = make_ctx(Settings(), job_type="analytics").backend
    with pytest.raises(InvalidInput, match="unknown metric group"):
        backend.rpc("analytics_rollup", {"p_day": DAY.isoformat(), "p_groups": ["revenue"]})
    with pytest.raises(InvalidInput, match="has not started"):
        backend.rpc("analytics_rollup", {"p_day": "2999-01-01", "p_groups": None})


def test_concurrent_rollups_of_one_day_both_succeed_with_the_same_rows(
        conn: Conn, make_ctx: MakeContext) -> None:
    completed_job(conn, "email", 120)
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def one() -> None:
        ctx = make_ctx(Settings(), job_type="analytics", backend_=PostgresBackend(conn.info.dsn, max_size=1))
        barrier.wait(10)
        try:
            analytics.handle(analytics.Payload(date=DAY), ctx)
        except BaseException as exc:
            errors.append(exc)
        finally:
            ctx.backend.close()

    threads = [threading.Thread(target=one) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert rows(conn)[("jobs_completed", "email")] == 1
