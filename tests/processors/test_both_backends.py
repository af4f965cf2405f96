"""The data-bound processors (payout ledger, weekly fan-out, analytics, circuit breakers)
work the same through both database paths: direct Postgres and supabase-py's rpc.

Real: PostgreSQL, psycopg, supabase-py. Stand-ins: PostgREST (tests/support/postgrest.py,
over the same database) and Stripe (tests/processors/fake_stripe.py), local HTTP servers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from shared.config import Settings
from shared.processors import analytics, payout, weekly_payouts
from shared.processors.base import RateLimitedError
from shared.processors.circuit_breaker import breaker_states
from shared.queue.postgres import PostgresBackend
from shared.queue.protocol import QueueBackend
from shared.queue.supabase import SupabaseBackend
from tests.processors.conftest import MakeContext
from tests.processors.fake_stripe import StripeState, fake_stripe
from tests.processors.test_payout import SALES, CrashBeforeSettle, add_seller
from tests.support.postgrest import serve_postgrest

Conn = psycopg.Connection[dict[str, Any]]


@pytest.fixture(params=["postgres", "supabase"])
def any_backend(request: pytest.FixtureRequest, db_url: str,
                backend: PostgresBackend) -> Iterator[QueueBackend]:
    if request.param == "postgres":
        yield backend
        return
    with serve_postgrest(db_url) as endpoint:
        client = SupabaseBackend(endpoint.url, endpoint.service_role_key, timeout=10)
        yield client
        client.close()


@pytest.fixture
def stripe() -> Iterator[tuple[str, StripeState]]:
    with fake_stripe() as served:
        yield served


def test_a_payout_crashed_before_settling_pays_once_on_either_path(
        any_backend: QueueBackend, conn: Conn, make_ctx: MakeContext,
        stripe: tuple[str, StripeState]) -> None:
    settings = Settings(stripe_api_base=stripe[0], stripe_secret_key=stripe[1].key)
    seller = add_seller(conn, SALES)
    crashing = make_ctx(settings, job_type="payout", backend_=CrashBeforeSettle(any_backend))
    with pytest.raises(SystemExit):
        payout.handle(payout.Payload(seller_id=seller), crashing)
    result = payout.handle(payout.Payload(seller_id=seller),
                           make_ctx(settings, job_type="payout", backend_=any_backend))
    assert (result["status"], result["amount_cents"]) == ("paid", 10080)
    assert len(stripe[1].transfers) == 1
    emails = conn.execute("select count(*) as n from job_queue where type = 'email'").fetchone()
    assert emails == {"n": 1}


def test_weekly_fan_out_on_either_path(any_backend: QueueBackend, conn: Conn, make_ctx: MakeContext) -> None:
    seller = add_seller(conn, SALES)
    ctx = make_ctx(Settings(), job_type="weekly_payouts", backend_=any_backend)
    result = weekly_payouts.handle(weekly_payouts.Payload(week="2026-W48"), ctx)
    assert result["sellers"] == 1
    job = conn.execute("select payload from job_queue where type = 'payout'").fetchone()
    assert job is not None
    assert job["payload"]["seller_id"] == str(seller)


def test_analytics_rollup_on_either_path(any_backend: QueueBackend, make_ctx: MakeContext) -> None:
    ctx = make_ctx(Settings(), job_type="analytics", backend_=any_backend)
    day = dt.date.today() - dt.timedelta(days=1)
    result = analytics.handle(analytics.Payload(date=day, metrics=["queue", "users"]), ctx)
    assert result["day"] == day.isoformat()
    assert result["skipped"] == {"users": "auth.users does not exist"}


def test_an_open_breaker_puts_jobs_back_on_either_path(
        any_backend: QueueBackend, conn: Conn, make_ctx: MakeContext) -> None:
    settings = Settings(stripe_api_base="http://127.0.0.1:9", stripe_secret_key="sk_test_fake",
                        circuit_breaker_threshold=1)
    seller = add_seller(conn, SALES)
    ctx = make_ctx(settings, job_type="payout", backend_=any_backend)
    with pytest.raises(Exception, match="unreachable"):
        payout.handle(payout.Payload(seller_id=seller), ctx)
    with pytest.raises(RateLimitedError, match="circuit breaker for stripe is open"):
        payout.handle(payout.Payload(seller_id=seller), ctx)
    assert breaker_states(any_backend)["stripe"]["state"] == "open"
