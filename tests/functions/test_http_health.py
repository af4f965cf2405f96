"""`?action=health`: the checks behind ok / degraded / down.

Real: functions-framework's app (its test client), PostgreSQL with the migrations,
the processor registry. Nothing faked; the unreachable database is a closed local port.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask.testing import FlaskClient
from psycopg import sql

from shared.api import actions as http_api
from shared.config import REPO_ROOT
from shared.processors import load_registry
from tests.functions.conftest import AUTH, free_port
from tests.sql.factories import make_job

Conn = psycopg.Connection[dict[str, Any]]


def checks_of(client: FlaskClient) -> tuple[int, dict[str, Any]]:
    response = client.get("/?action=health", headers=AUTH)
    assert response.json is not None
    return response.status_code, response.json


def record_worker_run(conn: Conn) -> None:
    conn.execute("select worker_run_start('w-health', '{}')")
    conn.execute("select worker_run_finish('w-health', '{\"claimed\": 0}')")


def test_a_healthy_queue_reports_ok_with_every_check(client: FlaskClient, conn: Conn) -> None:
    record_worker_run(conn)
    status, body = checks_of(client)
    assert status == 200
    expected = {"database", "migrations", "processors", "last_worker_run", "circuit_breakers",
                "payouts_on_hold",
                "unanswered_kicks", "xmin_horizon", "replication_slot_xmin", "backlog_age:email",
                "stuck_jobs:email", "dead_letter_spike:email", "table_bloat:public.job_queue"}
    assert expected <= set(body["checks"])
    for name, check in body["checks"].items():
        assert check["severity"] in ("ok", "warning", "critical"), name
    failing = {name: check for name, check in body["checks"].items() if not check["ok"]}
    # Processors lacking provider keys are reported, not hidden; the rest must pass here.
    assert set(failing) <= {"processors"}
    assert body["status"] == ("ok" if not failing else "degraded")
    assert body["checks"]["database"]["round_trip_ms"] >= 0
    assert body["checks"]["migrations"]["missing"] == []
    assert body["checks"]["last_worker_run"]["details"]["worker_id"] == "w-health"
    assert body["severity"] == ("ok" if not failing else body["severity"])


def test_every_registered_processor_is_listed_as_configured_or_missing_what(client: FlaskClient) -> None:
    _, body = checks_of(client)
    types = body["checks"]["processors"]["types"]
    assert set(types) == set(load_registry())
    assert types["noop"] == {"configured": True, "missing": []}
    for check in types.values():
        assert check["configured"] == (not check["missing"])


def test_no_worker_run_yet_is_degraded(client: FlaskClient) -> None:
    status, body = checks_of(client)
    assert status == 200
    assert body["status"] == "degraded"
    last = body["checks"]["last_worker_run"]
    assert (last["ok"], last["severity"], last["value"], last["threshold"]) == (False, "warning", None, 300)
    assert "no worker has run yet" in last["hint"]
    assert body["severity"] == "warning"


def test_an_open_circuit_breaker_is_degraded_and_named(client: FlaskClient, conn: Conn) -> None:
    record_worker_run(conn)
    for _ in range(3):
        conn.execute("select circuit_breaker_record('resend', false, 3, 60, 'HTTP 503')")
    conn.execute("select circuit_breaker_record('stripe', true, 3, 60, null)")
    _, body = checks_of(client)
    breakers = body["checks"]["circuit_breakers"]
    assert body["status"] == "degraded"
    assert breakers["ok"] is False
    assert breakers["open"] == ["resend"]
    assert breakers["providers"]["resend"]["last_error"] == "HTTP 503"
    assert breakers["providers"]["stripe"]["state"] == "closed"


def test_stuck_jobs_and_dead_letters_are_counted(client: FlaskClient, conn: Conn) -> None:
    record_worker_run(conn)
    stuck = make_job(conn, "running")
    conn.execute("update job_queue set locked_until = now() - interval '5 minutes' where id = %s", (stuck,))
    make_job(conn, "dead")
    _, body = checks_of(client)
    assert body["status"] == "degraded"
    check = body["checks"]["stuck_jobs:noop"]
    assert (check["ok"], check["severity"], check["value"], check["threshold"]) == (False, "warning", 1, 0)
    assert body["checks"]["dead_letter_spike:noop"]["value"] == 1
    assert body["checks"]["dead_letter_spike:noop"]["ok"] is True  # 1 is within max_dead_letters_per_hour


def test_a_critical_check_makes_the_report_critical(client: FlaskClient, conn: Conn) -> None:
    """Severity is the database's: past 3 x the type's threshold a backlog is critical."""
    record_worker_run(conn)
    conn.execute("update job_types set max_backlog_age_seconds = 60 where name = 'noop'")
    make_job(conn, run_at="2000-01-01T00:00:00Z")
    status, body = checks_of(client)
    assert status == 200
    assert (body["status"], body["severity"]) == ("degraded", "critical")
    backlog = body["checks"]["backlog_age:noop"]
    assert (backlog["severity"], backlog["threshold"], backlog["critical_above"]) == ("critical", 60, 180)
    assert "max_backlog_age_seconds" in backlog["hint"]


def test_failing_checks_computed_in_python_have_a_severity(client: FlaskClient, conn: Conn) -> None:
    record_worker_run(conn)
    for _ in range(3):
        conn.execute("select circuit_breaker_record('resend', false, 3, 60, 'HTTP 503')")
    _, body = checks_of(client)
    assert body["checks"]["circuit_breakers"]["severity"] == "warning"
    assert body["severity"] == "warning"
    make_job(conn, job_type="payout", payload={"seller_id": "00000000-0000-0000-0000-000000000042"})
    _, body = checks_of(client)
    assert body["checks"]["processors"]["severity"] == "critical"  # its jobs cannot run
    assert body["severity"] == "critical"


def test_a_migration_file_the_database_has_not_run_is_degraded(
        client: FlaskClient, conn: Conn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    record_worker_run(conn)
    shutil.copytree(REPO_ROOT / "supabase" / "migrations", tmp_path / "migrations")
    (tmp_path / "migrations" / "20991231000000_future.sql").write_text("select 1;\n")
    monkeypatch.setenv("MIGRATIONS_DIR", str(tmp_path / "migrations"))
    http_api.reset()
    status, body = checks_of(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["migrations"]["missing"] == ["20991231000000"]
    assert "queue-worker migrate" in body["checks"]["migrations"]["hint"]


def test_an_unmigrated_database_is_degraded_not_an_error(
        client: FlaskClient, empty_db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    http_api.reset()
    status, body = checks_of(client)
    assert status == 200
    assert body["status"] == "degraded"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is False


def test_an_unreachable_database_is_503_down(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?connect_timeout=1")
    http_api.reset()
    status, body = checks_of(client)
    assert status == 503
    assert (body["status"], body["severity"]) == ("down", "critical")
    assert body["checks"]["database"]["ok"] is False
    assert "processors" in body["checks"]


def test_a_database_lost_under_a_warm_function_is_503_down(client: FlaskClient, conn: Conn,
                                                          pg_server_url: str) -> None:
    assert checks_of(client)[0] == 200  # the function's pool now holds a live connection
    name = conn.info.dbname
    with psycopg.connect(pg_server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("alter database {} allow_connections false").format(sql.Identifier(name)))
        admin.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s", (name,))
    status, body = checks_of(client)
    assert status == 503
    assert body["status"] == "down"
    assert body["checks"]["database"]["ok"] is False


def test_a_fresh_setup_without_a_stripe_key_is_ok_until_a_payout_waits(client: FlaskClient,
                                                                        conn: Conn) -> None:
    """The trial's complaint: health said `degraded` on a fresh setup only because the Stripe
    key is unset. Unconfigured is reported; it degrades only with jobs it cannot run."""
    record_worker_run(conn)
    _, body = checks_of(client)
    payout = body["checks"]["processors"]["types"]["payout"]
    assert payout == {"configured": False, "missing": ["STRIPE_SECRET_KEY"], "status": "not configured",
                      "waiting": 0}
    assert body["checks"]["processors"]["ok"] is True
    assert body["status"] == "ok"
    make_job(conn, job_type="payout", payload={"seller_id": "00000000-0000-0000-0000-000000000042"})
    _, body = checks_of(client)
    assert body["status"] == "degraded"
    assert body["checks"]["processors"]["blocked"] == ["payout"]
    assert "STRIPE_SECRET_KEY" in body["checks"]["processors"]["types"]["payout"]["hint"]
