"""A payout whose Stripe answer was lost is never paid twice, and its entries are released
only when Stripe provably made nothing.

Each scenario counts the transfers the Stripe stand-in really made and checks that the
seller's ledger sums to zero cents once paid.

Real: PostgreSQL (the payout ledger functions, the job queue, dead letters and replay),
the worker's invocation loop, httpx and a real HTTP server. Faked: Stripe
(tests/processors/fake_stripe.py: same key + same parameters replays the first answer,
same key + other parameters answers 400 idempotency_error, transfers are listed by
transfer_group, and it can make a transfer and then drop the connection unanswered).
A day passing is simulated by moving the payout's timestamps back and having the
stand-in forget its idempotency keys.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from shared.config import Settings
from shared.ops.health import payouts_check
from shared.processors import payout
from shared.processors.base import PermanentError, RetryableError
from shared.queue.models import NewJob
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.processors.conftest import MakeContext
from tests.processors.fake_stripe import StripeState
from tests.processors.test_payout import Conn, add_entry, add_seller, payouts_of, reserved_entries
from tests.sql.factories import sqlstate_of

SALE = [("sale", 100_000)]  # 10% fee: one transfer of 90,000 cents is all this seller is owed


def pay(seller: uuid.UUID, ctx_settings: Settings, make_ctx: MakeContext, job_id: uuid.UUID,
        attempt: int = 1) -> dict[str, Any]:
    return payout.handle(payout.Payload(seller_id=seller),
                         make_ctx(ctx_settings, job_type="payout", job_id=job_id, attempt=attempt))


def lose_first_answer(seller: uuid.UUID, settings: Settings, make_ctx: MakeContext, stripe: StripeState,
                      job_id: uuid.UUID) -> None:
    """Attempt 1: Stripe makes the transfer, the answer never arrives."""
    stripe.drop_answers = 1
    with pytest.raises(RetryableError, match="unreachable"):
        pay(seller, settings, make_ctx, job_id)
    assert len(stripe.transfers) == 1


def assert_paid_once(conn: Conn, seller: uuid.UUID, stripe: StripeState, destination: str) -> None:
    """Exactly one transfer of 90,000 cents, to `destination`, and a ledger at zero."""
    assert [(t["amount"], t["destination"]) for t in stripe.transfers] == [(90_000, destination)]
    paid = [p for p in payouts_of(conn, seller) if p["status"] == "paid"]
    assert [(p["amount_cents"], p["transfer_id"]) for p in paid] == [(90_000, stripe.transfers[0]["id"])]
    ledger = conn.execute("select sum(amount_cents) as total, count(*) filter (where paid_at is null) "
                          "as unpaid from ledger_entries where seller_id = %s", (seller,)).fetchone()
    assert ledger == {"total": 0, "unpaid": 0}


def account_of(conn: Conn, seller: uuid.UUID) -> str:
    query = "select stripe_account_id from seller_accounts where seller_id = %s"
    row = conn.execute(query, (seller,)).fetchone()
    assert row is not None
    return str(row["stripe_account_id"])


def test_a_seller_who_changes_account_after_a_lost_answer_is_paid_once_to_the_first_account(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller, job_id = add_seller(conn, SALE), uuid.uuid4()
    first_account = account_of(conn, seller)
    lose_first_answer(seller, settings, make_ctx, stripe[1], job_id)
    conn.execute("update seller_accounts set stripe_account_id = 'acct_changedbeforeretry'")

    result = pay(seller, settings, make_ctx, job_id, attempt=2)
    later = pay(seller, settings, make_ctx, uuid.uuid4())  # the next week's payout finds nothing to pay

    assert result["status"] == "paid"
    assert later["status"] == "skipped"
    assert_paid_once(conn, seller, stripe[1], first_account)


def test_a_retry_that_must_send_again_sends_exactly_the_first_parameters(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    """Stripe's list does not show the transfer (say it lags): the retry resends, and
    because destination, amount and currency were fixed, Stripe replays its answer."""
    seller, job_id = add_seller(conn, SALE), uuid.uuid4()
    first_account = account_of(conn, seller)
    lose_first_answer(seller, settings, make_ctx, stripe[1], job_id)
    hidden, stripe[1].transfers[:] = list(stripe[1].transfers), []
    conn.execute("update seller_accounts set stripe_account_id = 'acct_changedbeforeretry'")

    result = pay(seller, settings, make_ctx, job_id, attempt=2)

    stripe[1].transfers[:] = hidden
    posts = [r["form"] for r in stripe[1].requests if r["method"] == "POST"]
    assert len(posts) == 2
    assert posts[0] == posts[1]
    assert result["transfer_id"] == hidden[0]["id"]
    assert_paid_once(conn, seller, stripe[1], first_account)


def test_a_retry_without_the_stripe_key_holds_the_payout_until_stripe_can_be_asked(
        conn: Conn, backend: PostgresBackend, make_ctx: MakeContext, settings: Settings,
        stripe: tuple[str, StripeState]) -> None:
    seller, job_id = add_seller(conn, SALE), uuid.uuid4()
    lose_first_answer(seller, settings, make_ctx, stripe[1], job_id)
    keyless = settings.model_copy(update={"stripe_secret_key": None})

    with pytest.raises(RetryableError, match=r"entries stay reserved.*STRIPE_SECRET_KEY is not set"):
        pay(seller, keyless, make_ctx, job_id, attempt=2)
    with pytest.raises(RetryableError, match="held"):
        pay(seller, keyless, make_ctx, uuid.uuid4())  # another job for the seller changes nothing

    [held] = payouts_of(conn, seller)
    assert (held["status"], reserved_entries(conn)) == ("pending", 1)
    check = payouts_check(backend)
    assert (check["ok"], check["on_hold"]) == (False, 1)
    assert "STRIPE_SECRET_KEY is not set" in check["payouts"][0]["reason"]

    assert pay(seller, settings, make_ctx, job_id, attempt=3)["status"] == "paid"
    assert_paid_once(conn, seller, stripe[1], account_of(conn, seller))
    assert payouts_check(backend)["ok"] is True


def test_a_payout_that_never_reached_stripe_is_failed_and_released_when_the_key_is_missing(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALE)
    keyless = settings.model_copy(update={"stripe_secret_key": None})
    with pytest.raises(PermanentError, match="entries released: STRIPE_SECRET_KEY is not set"):
        pay(seller, keyless, make_ctx, uuid.uuid4())
    assert [p["status"] for p in payouts_of(conn, seller)] == ["failed"]
    assert reserved_entries(conn) == 0
    assert stripe[1].requests == []


def test_stripe_unreachable_while_reconciling_holds_the_payout_and_a_later_attempt_settles_it(
        conn: Conn, backend: PostgresBackend, make_ctx: MakeContext, settings: Settings,
        stripe: tuple[str, StripeState]) -> None:
    seller, job_id = add_seller(conn, SALE), uuid.uuid4()
    lose_first_answer(seller, settings, make_ctx, stripe[1], job_id)
    down = settings.model_copy(update={"stripe_api_base": "http://127.0.0.1:9"})

    with pytest.raises(RetryableError, match="could not be asked about transfer group"):
        pay(seller, down, make_ctx, job_id, attempt=2)
    assert reserved_entries(conn) == 1
    assert payouts_check(backend)["on_hold"] == 1

    pay(seller, settings, make_ctx, job_id, attempt=3)
    assert_paid_once(conn, seller, stripe[1], account_of(conn, seller))


def test_an_idempotency_error_with_no_transfer_listed_holds_the_payout_and_releases_nothing(
        conn: Conn, backend: PostgresBackend, make_ctx: MakeContext, settings: Settings,
        stripe: tuple[str, StripeState]) -> None:
    """Stripe saw this payout's key with other parameters (say, from a release before
    parameters were fixed) and lists no transfer: the outcome is unknowable, so wait."""
    seller = add_seller(conn, SALE)
    prepared = conn.execute("select payout_prepare(%s, 'usd', 1000, 1000) as p", (seller,)).fetchone()
    assert prepared is not None
    payout_id = prepared["p"]["payout_id"]
    conn.execute("select payout_mark_sent(%s)", (payout_id,))
    stripe[1].by_idempotency_key[payout_id] = ({"amount": "1"}, (200, {"id": "tr_elsewhere"}, {}))

    with pytest.raises(RetryableError, match=r"idempotency key.*an operator must decide"):
        pay(seller, settings, make_ctx, uuid.uuid4())

    [held] = payouts_of(conn, seller)
    assert held["status"] == "pending"
    assert "idempotency_error" in held["hold_reason"]
    assert reserved_entries(conn) == 1
    assert stripe[1].transfers == []


def test_a_refusal_releases_the_entries_only_after_stripe_lists_no_transfer(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALE)
    error = {"type": "invalid_request_error", "code": "account_invalid", "message": "No such destination"}
    stripe[1].script.append((400, {"error": error}, {}))
    with pytest.raises(PermanentError, match=r"entries released.*No such destination"):
        pay(seller, settings, make_ctx, uuid.uuid4())
    assert [r["method"] for r in stripe[1].requests] == ["POST", "GET"]
    assert reserved_entries(conn) == 0


def test_a_dead_lettered_payout_replayed_a_day_later_settles_the_transfer_it_made(
        conn: Conn, backend: PostgresBackend, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller = add_seller(conn, SALE)
    backend.jobs_enqueue([NewJob(type="payout", payload={"seller_id": str(seller)}, max_attempts=1)])
    options = InvocationOptions(types=["payout"], time_budget_seconds=60)
    stripe[1].drop_answers = 1
    assert run_invocation(backend, settings, options).dead_lettered == 1
    assert reserved_entries(conn) == 1

    conn.execute("update payouts set created_at = created_at - interval '1 day', "
                 "sent_at = sent_at - interval '1 day'")
    stripe[1].by_idempotency_key.clear()  # a day on, Stripe has forgotten the key
    [dead] = backend.dead_letters_list()
    backend.dead_letter_replay(dead.id)
    assert run_invocation(backend, settings, options).completed == 1

    assert_paid_once(conn, seller, stripe[1], account_of(conn, seller))
    emails = conn.execute("select count(*) as n from job_queue where type = 'email'").fetchone()
    assert emails == {"n": 1}
    assert payouts_check(backend)["ok"] is True


def test_a_new_sale_after_a_held_payout_waits_for_the_next_payout(
        conn: Conn, make_ctx: MakeContext, settings: Settings, stripe: tuple[str, StripeState]) -> None:
    seller, job_id = add_seller(conn, SALE), uuid.uuid4()
    lose_first_answer(seller, settings, make_ctx, stripe[1], job_id)
    add_entry(conn, seller, "sale", 10_000)
    assert pay(seller, settings, make_ctx, job_id, attempt=2)["amount_cents"] == 90_000
    following = pay(seller, settings, make_ctx, uuid.uuid4())
    assert (following["status"], following["amount_cents"]) == ("paid", 9_000)
    assert [t["amount"] for t in stripe[1].transfers] == [90_000, 9_000]


def error_of(conn: Conn, query: str, params: tuple[Any, ...]) -> str | None:
    """The SQLSTATE `query` fails with."""
    return sqlstate_of(lambda: conn.execute(query, params)).sqlstate


def prepared_payout(conn: Conn, seller: uuid.UUID) -> str:
    row = conn.execute("select payout_prepare(%s, 'usd', 1000, 1000) as p", (seller,)).fetchone()
    assert row is not None
    return str(row["p"]["payout_id"])


def test_sql_refuses_to_release_a_sent_payout_unless_stripe_was_asked(conn: Conn) -> None:
    seller = add_seller(conn, SALE)
    payout_id = prepared_payout(conn, seller)
    conn.execute("select payout_mark_sent(%s)", (payout_id,))

    assert error_of(conn, "select payout_fail(%s, 'refused')", (payout_id,)) == "22QY7"
    assert reserved_entries(conn) == 1
    released = conn.execute("select payout_fail(%s, 'refused', p_absent_at_stripe => true) as ok",
                            (payout_id,)).fetchone()
    assert released == {"ok": True}
    assert reserved_entries(conn) == 0


def test_sql_fixes_the_destination_when_the_payout_is_prepared(conn: Conn) -> None:
    seller = add_seller(conn, SALE)
    first_account = account_of(conn, seller)
    prepared_payout(conn, seller)
    conn.execute("update seller_accounts set stripe_account_id = 'acct_new' where seller_id = %s", (seller,))
    resumed = conn.execute("select payout_prepare(%s, 'usd', 1000, 1000) as p", (seller,)).fetchone()
    assert resumed is not None
    assert (resumed["p"]["destination"], resumed["p"]["resumed"]) == (first_account, True)


def test_sql_payout_functions_reject_bad_calls_with_a_clear_sqlstate(conn: Conn) -> None:
    seller = add_seller(conn, SALE)
    payout_id = prepared_payout(conn, seller)
    assert error_of(conn, "select payout_mark_sent(%s)", (uuid.uuid4(),)) == "PT404"
    assert error_of(conn, "select payout_hold(%s, ' ')", (payout_id,)) == "22QY6"
    conn.execute("select payout_fail(%s, 'never sent')", (payout_id,))
    assert error_of(conn, "select payout_mark_sent(%s)", (payout_id,)) == "22QY2"
    held = conn.execute("select payout_hold(%s, 'why') as ok", (payout_id,)).fetchone()
    assert held == {"ok": False}


class FailedMeanwhile:
    """Wraps the backend: another job fails the payout just before this one does."""

    def __init__(self, inner: PostgresBackend) -> None:
        self.inner = inner

    def rpc(self, function: str, args: dict[str, Any]) -> Any:
        if function == "payout_fail":
            self.inner.rpc(function, {**args, "p_reason": "failed by the other job"})
        return self.inner.rpc(function, args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_payout_failed_meanwhile_by_another_job_is_not_reported_as_released_here(
        conn: Conn, backend: PostgresBackend, make_ctx: MakeContext, settings: Settings) -> None:
    seller = add_seller(conn, SALE)
    keyless = settings.model_copy(update={"stripe_secret_key": None})
    ctx = make_ctx(keyless, job_type="payout", backend_=FailedMeanwhile(backend))
    with pytest.raises(PermanentError, match="no longer pending; not failed here"):
        payout.handle(payout.Payload(seller_id=seller), ctx)
    [failed] = payouts_of(conn, seller)
    assert (failed["status"], failed["reason"]) == ("failed", "failed by the other job")
