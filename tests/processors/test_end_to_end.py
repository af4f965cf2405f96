"""End to end: an app enqueues one job of each type through supabase-py's `rpc`, the
worker function (functions-framework's app) processes them, and each effect is visible.

Real: PostgreSQL, supabase-py, the worker function and its loop, the local outbox and
audio folder, HTTP to local servers. Stand-ins: PostgREST (tests/support/postgrest.py,
over the same database), Stripe (tests/processors/fake_stripe.py) and the TTS API
(tests/processors/fake_tts.py), each a local HTTP server.
"""

from __future__ import annotations

import datetime as dt
import email
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from supabase import create_client

from shared.api import actions as http_api
from shared.config import REPO_ROOT
from tests.processors.fake_stripe import StripeState, fake_stripe
from tests.processors.fake_tts import fake_tts
from tests.processors.test_payout import add_seller
from tests.support.postgrest import PostgrestEndpoint, postgrest

__all__ = ["postgrest"]  # the stand-in fixture, used by name below

Conn = psycopg.Connection[dict[str, Any]]
SECRET = "e2e-secret"
SOURCE = str(REPO_ROOT / "functions" / "queue_worker" / "main.py")


@pytest.fixture
def services() -> Iterator[tuple[str, StripeState, str, list[str]]]:
    with fake_stripe() as (stripe_url, stripe), fake_tts() as (tts_url, tts_inputs):
        yield stripe_url, stripe, tts_url, tts_inputs


@pytest.fixture
def function_env(db_url: str, tmp_path: Path, services: tuple[str, StripeState, str, list[str]],
                 monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    stripe_url, _, tts_url, _ = services
    env = {"DATABASE_URL": db_url, "QUEUE_WORKER_SECRET": SECRET, "LOCAL_DIR": str(tmp_path),
           "STRIPE_API_BASE": stripe_url, "STRIPE_SECRET_KEY": "sk_test_fake",
           "TTS_API_BASE": tts_url, "TTS_API_KEY": "tts_key", "PAYOUT_MIN_CENTS": "100"}
    for name in ("SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "EMAIL_PROVIDER", "RESEND_API_KEY",
                 "SMTP_HOST", "S3_BUCKET", "QUEUE_WORKER_TIME_BUDGET_SECONDS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    http_api.reset()
    yield
    http_api.reset()


def process_until_idle(rounds: int = 5) -> list[dict[str, Any]]:
    """POST / to the worker function until an invocation claims nothing (bounded)."""
    import functions_framework

    app = functions_framework.create_app(target="queue_worker", source=SOURCE)  # type: ignore[no-untyped-call]
    reports = []
    for _ in range(rounds):
        response = app.test_client().post("/?batch=20", headers={"Authorization": f"Bearer {SECRET}"})
        assert response.status_code == 200, response.get_data(as_text=True)
        reports.append(response.get_json())
        if reports[-1]["claimed"] == 0:
            return reports
    raise AssertionError(f"still claiming after {rounds} invocations: {reports}")


def test_one_job_of_each_type_enqueued_through_supabase_rpc_completes_with_its_effect(
        function_env: None, postgrest: PostgrestEndpoint, conn: Conn, tmp_path: Path,
        services: tuple[str, StripeState, str, list[str]]) -> None:
    seller = add_seller(conn, [("sale", 10000)], email="seller@example.com")
    app = create_client(postgrest.url, postgrest.service_role_key)
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    payloads = {
        "email": {"to": "jane@example.com", "template": "welcome", "template_data": {"name": "Jane"}},
        "audio": {"track_id": "t1", "text": "Hello there. This is a track.", "voice": "alloy",
                  "notify_email": "owner@example.com"},
        "payout": {"seller_id": str(seller)},
        "analytics": {"date": yesterday},
        "weekly_payouts": {"week": "2026-W01", "currency": "eur"},  # no eur sellers: fans out nothing
    }
    ids = [app.rpc("enqueue_job", {"p_type": t, "p_payload": p}).execute().data for t, p in payloads.items()]

    process_until_idle()

    statuses = conn.execute("select id, type, status::text, result from job_queue").fetchall()
    assert {s["type"]: s["status"] for s in statuses} == dict.fromkeys(payloads, "completed")
    results = {r["type"]: r["result"] for r in statuses if r["type"] != "email"}
    _, stripe, _, tts_inputs = services
    assert len(stripe.transfers) == 1
    assert results["payout"]["amount_cents"] == 9000
    assert Path(results["audio"]["location"]).read_bytes() == b"[Hello there. This is a track.]"
    assert tts_inputs == ["Hello there. This is a track."]
    assert results["weekly_payouts"]["sellers"] == 0
    assert results["analytics"]["groups"] == ["queue", "marketplace"]  # no auth.users here
    assert results["analytics"]["skipped"] == {"users": "auth.users does not exist"}
    files = (tmp_path / "outbox").iterdir()
    outbox = sorted(email.message_from_bytes(p.read_bytes())["Subject"] for p in files)
    assert outbox == ["Welcome to Queue Worker, Jane!", "You have been paid USD 90.00",
                      'Your track "t1" is ready']
    assert {str(r["id"]) for r in statuses} >= {str(i) for i in ids}


def test_a_bad_payload_enqueued_through_rpc_is_dead_lettered_with_the_field_message(
        function_env: None, postgrest: PostgrestEndpoint, conn: Conn) -> None:
    app = create_client(postgrest.url, postgrest.service_role_key)
    app.rpc("enqueue_job", {"p_type": "payout", "p_payload": {"seller_id": "nope"}}).execute()
    process_until_idle()
    [letter] = conn.execute("select type, last_error from job_dead_letter").fetchall()
    assert letter["type"] == "payout"
    assert "seller_id" in letter["last_error"]
