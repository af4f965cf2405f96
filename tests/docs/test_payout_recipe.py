"""The README's "Pay a seller locally" recipe, its three blocks as printed: the SQL makes a
seller, a sale and a payout job; the shell line runs `queue-worker process --once` with a
Stripe test key; the check query shows the row the README shows, and one transfer was made.
Running another payout for the same seller pays nothing more.

Real: PostgreSQL with the migrations, the `queue-worker` command in a subprocess (the
repo's .venv, as the README invokes it), the payout and email processors, httpx over a real
socket. Faked: Stripe, by tests/processors/fake_stripe.py (form bodies, bearer key,
Stripe's idempotency rules); its key is set to the README's literal `sk_test_...`.
The email goes to the local outbox.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import psycopg

from shared.config import REPO_ROOT
from tests.processors.fake_stripe import fake_stripe
from tests.support.readme import example

Conn = psycopg.Connection[dict[str, Any]]
SECRET_PREFIXES = ("STRIPE_", "RESEND_", "SMTP_", "EMAIL_", "TTS_", "S3_", "AWS_", "QUEUE_WORKER_",
                   "SUPABASE_")


def _run_shell_block(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                          timeout=120, check=False)


def _expected_row(check: str) -> list[str]:
    """The row the README prints under the query, as its cells."""
    comments = [line.removeprefix("--").strip() for line in check.splitlines() if line.startswith("--")]
    return [cell.strip() for cell in comments[1].split("|")]


def test_the_payout_recipe_pays_once(conn: Conn, db_url: str, tmp_path: Path) -> None:
    conn.execute(example("payout-recipe-sql"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(SECRET_PREFIXES)}
    with fake_stripe() as (stripe_url, stripe):
        stripe.key = "sk_test_..."  # the README's literal key: the stand-in accepts exactly it
        env.update(DATABASE_URL=db_url, STRIPE_API_BASE=stripe_url, LOCAL_DIR=str(tmp_path))
        ran = _run_shell_block(example("payout-recipe-run"), env)
        assert ran.returncode == 0, ran.stderr

        row = conn.execute(example("payout-recipe-check").split(";")[0]).fetchone()
        assert row is not None
        status, amount, fee, transfer = _expected_row(example("payout-recipe-check"))
        assert (row["status"], str(row["amount_cents"]), str(row["fee_cents"])) == (status, amount, fee)
        assert re.fullmatch(transfer.replace("...", r"\w+"), row["transfer_id"])
        assert len(stripe.transfers) == 1
        assert stripe.transfers[0]["amount"] == int(amount)
        assert stripe.transfers[0]["destination"] == "acct_1SellerTest42"
        outbox = list((tmp_path / "outbox").iterdir())
        assert len(outbox) == 1, "the payout_confirmation email"

        # Again: a second payout job for the seller finds nothing unpaid.
        enqueue = next(line for line in example("payout-recipe-sql").splitlines() if "enqueue_job" in line)
        conn.execute(enqueue)
        again = _run_shell_block(example("payout-recipe-run"), env)
        assert again.returncode == 0, again.stderr
        assert len(stripe.transfers) == 1
    paid = conn.execute("select count(*) as n from payouts where status = 'paid'").fetchone()
    assert paid == {"n": 1}
