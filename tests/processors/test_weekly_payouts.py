"""The weekly payout fan-out against the real ledger and job queue in Postgres. Nothing is faked."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pydantic
import pytest

from shared.config import Settings
from shared.processors import weekly_payouts
from tests.processors.conftest import MakeContext
from tests.processors.test_payout import add_seller

Conn = psycopg.Connection[dict[str, Any]]
SETTINGS = Settings(payout_fee_bps=1000, payout_min_cents=1000)


def test_one_payout_job_is_enqueued_per_eligible_seller_and_a_rerun_adds_none(
        conn: Conn, make_ctx: MakeContext) -> None:
    rich = add_seller(conn, [("sale", 5000)])
    also_rich = add_seller(conn, [("sale", 20000), ("refund", -1000)])
    add_seller(conn, [("sale", 1000)])  # 900 after the fee: below the minimum
    add_seller(conn, [("sale", 9000)], currency="eur")  # another currency
    payload = weekly_payouts.Payload(week="2026-W48")

    first = weekly_payouts.handle(payload, make_ctx(SETTINGS, job_type="weekly_payouts"))
    again = weekly_payouts.handle(payload, make_ctx(SETTINGS, job_type="weekly_payouts"))

    assert first["sellers"] == 2
    assert again["job_ids"] == first["job_ids"]
    jobs = conn.execute("select payload, idempotency_key from job_queue where type = 'payout'").fetchall()
    assert sorted(j["payload"]["seller_id"] for j in jobs) == sorted([str(rich), str(also_rich)])
    assert {j["idempotency_key"] for j in jobs} == {f"payout:{s}:usd:2026-W48" for s in (rich, also_rich)}


def test_next_week_fans_out_again(conn: Conn, make_ctx: MakeContext) -> None:
    add_seller(conn, [("sale", 5000)])
    for week in ("2026-W48", "2026-W49"):
        ctx = make_ctx(SETTINGS, job_type="weekly_payouts")
        weekly_payouts.handle(weekly_payouts.Payload(week=week), ctx)
    assert conn.execute("select count(*) as n from job_queue where type = 'payout'").fetchone() == {"n": 2}


def test_no_eligible_seller_enqueues_nothing(conn: Conn, make_ctx: MakeContext) -> None:
    result = weekly_payouts.handle(weekly_payouts.Payload(), make_ctx(SETTINGS, job_type="weekly_payouts"))
    assert result["job_ids"] == []
    assert result["week"] == weekly_payouts.current_week()


def test_the_default_week_is_the_iso_week_in_utc() -> None:
    assert weekly_payouts.current_week(datetime(2026, 1, 1, tzinfo=UTC)) == "2026-W01"
    assert weekly_payouts.current_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"


@pytest.mark.parametrize("body", [{"week": "2026-48"}, {"currency": "euro"}, {"sellers": []}])
def test_a_bad_payload_is_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        weekly_payouts.Payload.model_validate(body)
