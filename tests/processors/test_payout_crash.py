"""Never pays twice: a worker process killed between Stripe creating the transfer and
the database recording it, then the next invocation, makes exactly one transfer; and
two payout jobs of one seller running at once make one transfer.

Real: PostgreSQL, a worker in a separate Python process running the real payout
processor through run_invocation, a real SIGKILL, cleanup_stuck_jobs, and a second
invocation in this process. Faked: Stripe (tests/processors/fake_stripe.py, a local
HTTP server that honours idempotency keys; it kills the worker as it creates the
transfer). Lock expiry is not waited for: cleanup_stuck_jobs gets p_now an hour ahead.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from typing import Any

import psycopg

from shared.config import REPO_ROOT, Settings
from shared.processors import payout
from shared.queue.models import NewJob
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.processors.conftest import MakeContext
from tests.processors.fake_stripe import fake_stripe
from tests.processors.test_payout import SALES, add_seller

Conn = psycopg.Connection[dict[str, Any]]
WORKER = """
import sys
from shared.queue.postgres import PostgresBackend
from shared.config import Settings
from shared.processors import payout
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.processors.conftest import MakeContext

run_invocation(PostgresBackend(sys.argv[1]), Settings(_env_file=None),
               InvocationOptions(types=["payout"], batch_size=1, time_budget_seconds=120),
               worker_id="doomed:payout")
"""


def test_a_worker_killed_after_stripe_made_the_transfer_pays_once_after_the_retry(
        db_url: str, backend: PostgresBackend, conn: Conn) -> None:
    seller = add_seller(conn, SALES)
    [job_id] = backend.jobs_enqueue([NewJob(type="payout", payload={"seller_id": str(seller)})])
    with fake_stripe() as (stripe_url, stripe):
        started = threading.Event()
        worker: dict[str, subprocess.Popen[bytes]] = {}

        def kill_worker(transfer: dict[str, Any]) -> None:
            started.wait(10)
            os.kill(worker["proc"].pid, signal.SIGKILL)

        stripe.on_transfer = kill_worker
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "DATABASE_URL": db_url,
               "STRIPE_API_BASE": stripe_url, "STRIPE_SECRET_KEY": stripe.key}
        worker["proc"] = subprocess.Popen([sys.executable, "-c", WORKER, db_url], cwd=REPO_ROOT, env=env,
                                          stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        started.set()
        assert worker["proc"].wait(60) == -signal.SIGKILL
        stripe.on_transfer = None

        [payout] = conn.execute("select id, status from payouts").fetchall()
        assert payout["status"] == "pending"
        assert len(stripe.transfers) == 1
        conn.execute("select cleanup_stuck_jobs(now() + interval '1 hour')")

        settings = Settings(_env_file=None, database_url=db_url, stripe_api_base=stripe_url,
                            stripe_secret_key=stripe.key)
        options = InvocationOptions(types=["payout"], time_budget_seconds=120)
        report = run_invocation(backend, settings, options)

    assert report.completed == 1
    # The retry asks Stripe by transfer group and settles what it finds: no second POST.
    assert [r["method"] for r in stripe.requests] == ["POST", "GET"]
    assert stripe.requests[1]["form"] == {"transfer_group": f"payout_{payout['id']}"}
    assert len(stripe.transfers) == 1
    assert stripe.requests[0]["headers"]["idempotency-key"] == str(payout["id"])
    job = conn.execute("select status::text, result from job_queue where id = %s", (job_id,)).fetchone()
    assert job is not None
    assert job["status"] == "completed"
    assert (job["result"]["status"], job["result"]["transfer_id"]) == ("paid", "tr_fake1")
    ledger = conn.execute("select sum(amount_cents) as total from ledger_entries where seller_id = %s",
                          (seller,))
    assert ledger.fetchone() == {"total": 0}
    emails = conn.execute("select count(*) as n from job_queue where type = 'email'").fetchone()
    assert emails == {"n": 1}


def test_two_payout_jobs_for_one_seller_at_the_same_time_make_one_transfer(
        conn: Conn, make_ctx: MakeContext) -> None:
    seller = add_seller(conn, SALES)
    with fake_stripe() as (stripe_url, stripe):
        settings = Settings(stripe_api_base=stripe_url, stripe_secret_key=stripe.key)
        barrier, results = threading.Barrier(2), []

        def one_job() -> None:
            ctx = make_ctx(settings, job_type="payout")
            barrier.wait(10)
            results.append(payout.handle(payout.Payload(seller_id=seller), ctx))

        threads = [threading.Thread(target=one_job) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert len(results) == 2
    assert len(stripe.transfers) == 1
    [paid] = conn.execute("select id, transfer_id from payouts where status = 'paid'").fetchall()
    # Usually both resume the one payout; if one job finished before the other began,
    # the later one finds nothing left to pay. Either way: one payout, one transfer.
    allowed = {("paid", str(paid["id"])), ("skipped", None)}
    assert {(r["status"], str(r["payout_id"]) if r["status"] == "paid" else None) for r in results} <= allowed
    assert "paid" in {r["status"] for r in results}
