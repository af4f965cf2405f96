"""The payout processor against the real ledger in Postgres and a local Stripe-shaped server.

Real: PostgreSQL (migrations, payout_prepare/settle/fail, the job queue), the HTTP
client and a real HTTP server. Faked: Stripe itself (tests/processors/fake_stripe.py,
which honours idempotency keys and counts the transfers it creates).
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg
import pydantic
import pytest

from shared.config import Settings
from shared.processors import payout
from shared.processors.base import PermanentError, RateLimitedError, RetryableError
from shared.queue.postgres import PostgresBackend
from shared.queue.protocol import QueueBackend
from tests.processors.conftest import MakeContext
from tests.processors.fake_stripe import StripeState

Conn = psycopg.Connection[dict[str, Any]]


def add_seller(conn: Conn, entries: list[tuple[str, int]], *, email: str | None = "seller@example.com",
               currency: str = "usd") -> uuid.UUID:
    seller = uuid.uuid4()
    conn.execute("insert into seller_accounts (seller_id, stripe_account_id, email) values (%s, %s, %s)",
                 (seller, f"acct_{seller.hex[:16]}", email))
    for kind, cents in entries:
        add_entry(conn, seller, kind, cents, currency)
    return seller


def add_entry(conn: Conn, seller: uuid.UUID, kind: str, cents: int, currency: str = "usd") -> None:
    conn.execute("insert into ledger_entries (seller_id, kind, amount_cents, currency) "
                 "values (%s, %s, %s, %s)", (seller, kind, cents, currency))


def payouts_of(conn: Conn, seller: uuid.UUID) -> list[dict[str, Any]]:
    query = "select * from payouts where seller_id = %s order by created_at"
    return conn.execute(query, (seller,)).fetchall()


def reserved_entries(conn: Conn) -> int:
    row = conn.execute("select count(*) as n from ledger_entries where payout_id is not null").fetchone()
    assert row is not None
    return int(row["n"])


SALES = [("sale", 10000), ("sale", 2550), ("refund", -1050), ("fee", -300)]  # gross 11200


def test_a_seller_is_paid_their_balance_minus_the_fee_and_the_ledger_reconciles_to_the_cent(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    result = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))

    assert (result["status"], result["gross_cents"], result["fee_cents"], result["amount_cents"]) == \
        ("paid", 11200, 1120, 10080)
    [transfer] = stripe[1].transfers
    assert transfer["amount"] == 10080
    assert transfer["destination"] == f"acct_{seller.hex[:16]}"
    assert result["transfer_id"] == transfer["id"]
    request = stripe[1].requests[0]
    assert request["headers"]["idempotency-key"] == str(result["payout_id"])
    assert request["form"]["transfer_group"] == f"payout_{result['payout_id']}"
    ledger = conn.execute("select sum(amount_cents) as total, count(*) filter (where paid_at is null) "
                          "as unpaid, count(*) as n from ledger_entries where seller_id = %s",
                          (seller,)).fetchone()
    assert ledger == {"total": 0, "unpaid": 0, "n": 6}
    kinds = conn.execute("select kind, amount_cents from ledger_entries where seller_id = %s and id > 0 "
                         "order by id desc limit 2", (seller,)).fetchall()
    assert {(k["kind"], k["amount_cents"]) for k in kinds} == {("fee", -1120), ("payout", -10080)}


def test_a_paid_payout_enqueues_one_payout_confirmation_email(
        conn: Conn, make_ctx: MakeContext, settings: Settings) -> None:
    seller = add_seller(conn, SALES)
    result = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))
    emails = conn.execute("select payload, idempotency_key from job_queue where type = 'email'").fetchall()
    assert len(emails) == 1
    assert emails[0]["idempotency_key"] == f"payout_confirmation:{result['payout_id']}"
    assert emails[0]["payload"]["template"] == "payout_confirmation"
    assert emails[0]["payload"]["template_data"]["amount_cents"] == 10080


def test_a_seller_without_an_email_is_paid_without_a_confirmation(
        conn: Conn, make_ctx: MakeContext, settings: Settings) -> None:
    seller = add_seller(conn, SALES, email=None)
    result = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))
    assert result["status"] == "paid"
    assert conn.execute("select count(*) as n from job_queue where type = 'email'").fetchone() == {"n": 0}


def test_a_balance_below_the_minimum_is_skipped_with_the_reason_and_nothing_is_reserved(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, [("sale", 1100)])  # 1100 - 110 fee = 990 < 1000
    result = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))
    assert result["status"] == "skipped"
    assert "990 usd" in result["reason"]
    assert "minimum of 1000" in result["reason"]
    assert stripe[1].requests == []
    assert reserved_entries(conn) == 0


class CrashBeforeSettle:
    """Wraps the backend; the first payout_settle "kills the worker" before the DB write."""

    def __init__(self, inner: QueueBackend) -> None:
        self.inner = inner
        self.crashed = False

    def rpc(self, function: str, args: dict[str, Any]) -> Any:
        if function == "payout_settle" and not self.crashed:
            self.crashed = True
            raise SystemExit("worker died between Stripe's answer and the database write")
        return self.inner.rpc(function, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize("same_job", [True, False], ids=["same job retried", "replayed as a new job"])
def test_a_worker_that_dies_after_stripe_answered_pays_exactly_once_on_retry(
        same_job: bool, conn: Conn, backend: PostgresBackend, make_ctx: MakeContext, settings: Settings,
        stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    job_id = uuid.uuid4()
    crashing = CrashBeforeSettle(backend)
    with pytest.raises(SystemExit):
        payout.handle(payout.Payload(seller_id=seller),
                      make_ctx(settings, job_type="payout", job_id=job_id, backend_=crashing))
    assert payouts_of(conn, seller)[0]["status"] == "pending"

    retry_id = job_id if same_job else uuid.uuid4()
    result = payout.handle(payout.Payload(seller_id=seller),
                           make_ctx(settings, job_type="payout", job_id=retry_id, attempt=2))
    assert result["status"] == "paid"
    assert len(stripe[1].requests) == 2
    assert len(stripe[1].transfers) == 1
    assert [p["status"] for p in payouts_of(conn, seller)] == ["paid"]
    total = conn.execute("select sum(amount_cents) as t from ledger_entries where seller_id = %s", (seller,))
    assert total.fetchone() == {"t": 0}


def test_running_a_finished_payout_job_again_returns_its_payout_and_sends_nothing(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    job_id = uuid.uuid4()
    ctx = make_ctx(settings, job_type="payout", job_id=job_id)
    first = payout.handle(payout.Payload(seller_id=seller), ctx)
    add_entry(conn, seller, "sale", 50000)
    again = payout.handle(payout.Payload(seller_id=seller), ctx)
    assert again == first
    assert len(stripe[1].requests) == 1


def test_a_new_sale_during_an_open_payout_waits_for_the_next_payout(
        conn: Conn, backend: PostgresBackend, make_ctx: MakeContext, settings: Settings) -> None:
    seller = add_seller(conn, SALES)
    with pytest.raises(SystemExit):
        payout.handle(payout.Payload(seller_id=seller),
                      make_ctx(settings, job_type="payout", backend_=CrashBeforeSettle(backend)))
    add_entry(conn, seller, "sale", 5000)
    resumed = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))
    assert resumed["gross_cents"] == 11200
    following = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))
    assert (following["status"], following["gross_cents"], following["amount_cents"]) == ("paid", 5000, 4500)


def test_stripe_rate_limiting_is_retried_after_its_retry_after_and_the_payout_stays_open(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    stripe[1].script.append((429, {"error": {"type": "rate_limit_error", "message": "Too many requests"}},
                             {"Retry-After": "7"}))
    with pytest.raises(RateLimitedError) as caught:
        payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))
    assert caught.value.retry_after == 7
    assert payouts_of(conn, seller)[0]["status"] == "pending"


def test_a_stripe_server_error_is_retryable(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    stripe[1].script.append((500, {"error": {"type": "api_error", "message": "Something went wrong"}}, {}))
    with pytest.raises(RetryableError, match="Something went wrong"):
        payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))


def test_stripe_unreachable_is_retryable(conn: Conn, make_ctx: MakeContext, settings: Settings) -> None:
    seller = add_seller(conn, SALES)
    unreachable = settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})
    with pytest.raises(RetryableError, match="stripe unreachable"):
        payout.handle(payout.Payload(seller_id=seller), make_ctx(unreachable, job_type="payout"))


def test_an_account_error_fails_permanently_with_stripes_message_and_releases_the_entries(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    message = "Your destination account needs to have at least one of the following capabilities enabled"
    error = {"type": "invalid_request_error", "code": "insufficient_capabilities_for_transfer",
             "message": message}
    stripe[1].script.append((400, {"error": error}, {}))
    with pytest.raises(PermanentError, match="at least one of the following capabilities"):
        payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))
    [failed] = payouts_of(conn, seller)
    assert failed["status"] == "failed"
    assert message in failed["reason"]
    assert reserved_entries(conn) == 0


def test_an_unknown_seller_fails_permanently(make_ctx: MakeContext, settings: Settings) -> None:
    with pytest.raises(PermanentError, match="no seller account"):
        payout.handle(payout.Payload(seller_id=uuid.uuid4()), make_ctx(settings, job_type="payout"))


@pytest.mark.parametrize(("body", "field"), [
    ({"seller_id": "not-a-uuid"}, "seller_id"),
    ({}, "seller_id"),
    ({"seller_id": str(uuid.uuid4()), "currency": "USD"}, "currency"),
    ({"seller_id": str(uuid.uuid4()), "amount": 5}, "amount"),
])
def test_a_bad_payload_is_rejected_naming_the_field(body: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        payout.Payload.model_validate(body)
    assert field in str(caught.value)


def test_health_names_the_missing_stripe_key() -> None:
    assert payout.missing_settings(Settings(stripe_secret_key=None)) == ["STRIPE_SECRET_KEY"]
    assert payout.missing_settings(Settings(stripe_secret_key="sk_x")) == []


def test_a_sent_payout_resumed_after_stripes_key_window_finds_its_transfer_by_group(
        conn: Conn, backend: PostgresBackend, make_ctx: MakeContext, settings: Settings,
        stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    with pytest.raises(SystemExit):
        payout.handle(payout.Payload(seller_id=seller),
                      make_ctx(settings, job_type="payout", backend_=CrashBeforeSettle(backend)))
    conn.execute("update payouts set created_at = now() - interval '2 days', "
                 "sent_at = now() - interval '2 days'")
    stripe[1].by_idempotency_key.clear()  # Stripe has forgotten the key

    result = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))

    assert result["status"] == "paid"
    assert len(stripe[1].transfers) == 1
    assert result["transfer_id"] == stripe[1].transfers[0]["id"]
    assert [r["method"] for r in stripe[1].requests] == ["POST", "GET"]


def test_a_payout_never_sent_is_sent_without_a_lookup_however_old(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALES)
    conn.execute("select payout_prepare(%s, 'usd', 1000, 1000)", (seller,))
    conn.execute("update payouts set created_at = now() - interval '2 days'")

    result = payout.handle(payout.Payload(seller_id=seller), make_ctx(settings, job_type="payout"))

    assert result["status"] == "paid"
    assert [r["method"] for r in stripe[1].requests] == ["POST"]
