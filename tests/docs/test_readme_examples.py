"""Every example in the README is run by a test, as printed, and ends in what the README says.

Real: README.md's code blocks (read at test time, never copied), PostgreSQL with the
migrations, the worker loop and the real processors for the jobs the examples enqueue,
supabase-py. Faked: PostgREST (tests/support/postgrest.py) for the supabase-py block, and the
email provider is the local outbox. Two blocks cannot run here and are listed in NOT_RUN with
why: they need Supabase Realtime (a websocket server this machine does not have); what they
rely on (publication, column grants, RLS) is tested in tests/sql/test_realtime_owner_rows.py.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import psycopg
import pytest
from opentelemetry import trace
from psycopg.rows import dict_row

from shared.config import REPO_ROOT, Settings
from shared.processors import load_registry
from shared.queue.models import Job
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from shared.worker.runner import validate_payload
from tests.support.postgrest import PostgrestEndpoint
from tests.support.readme import blocks, example
from tests.support.spans import Spans

Conn = psycopg.Connection[dict[str, Any]]

# Each marked block and the test that runs it (the test must name the block).
HERE, RECIPE = "tests/docs/test_readme_examples.py", "tests/docs/test_payout_recipe.py"
WEBHOOK, CRON = "tests/processors/test_readme_example.py", "tests/sql/test_pg_cron.py"
OBSERVABILITY = "tests/functions/test_readme_observability.py"
RUN_BY = {
    "run-command": ("tests/test_readme.py", "test_the_readme_opens_with_the_run_and_the_test_command"),
    "test-command": ("tests/test_readme.py", "test_ci_runs_exactly_the_readme_test_command"),
    "enqueue-python": (HERE, "test_enqueue_python_makes_a_job_the_worker_sends"),
    "enqueue-sql": (HERE, "test_enqueue_sql_makes_jobs_whose_payloads_are_valid"),
    "user-jobs-python": ("tests/queue/test_user_jobs_over_postgrest.py",
                         "test_the_readmes_supabase_py_block_runs_as_printed"),
    "user-jobs-sql": (HERE, "test_user_jobs_sql_shows_a_user_only_their_own_rows"),
    "health-check-json": (HERE, "test_the_health_check_json_has_the_shape_health_returns"),
    "health-thresholds-sql": (HERE, "test_health_thresholds_sql_changes_the_thresholds"),
    "processor": (WEBHOOK, "test_a_delivery_completes_with_the_job_id_as_idempotency_key"),
    "migration": (WEBHOOK, "test_the_migration_registers_the_type_within_the_budget"),
    "schedules-sql": (HERE, "test_schedules_sql_enables_the_two_seeded_schedules"),
    "kicks-sql": (HERE, "test_kicks_sql_sets_the_kick_settings_and_groups"),
    "worker-tick-sql": (CRON, "test_readmes_worker_tick_block_runs_on_real_pg_cron"),
    "payout-recipe-sql": (RECIPE, "test_the_payout_recipe_pays_once"),
    "payout-recipe-run": (RECIPE, "test_the_payout_recipe_pays_once"),
    "payout-recipe-check": (RECIPE, "test_the_payout_recipe_pays_once"),
    "cli-usage-error": ("tests/cli/test_cli_usage.py", "test_the_readmes_usage_error_is_what_the_cli_prints"),
    "metrics-scrape-yaml": (OBSERVABILITY, "test_the_readmes_scrape_config_scrapes_the_function"),
    "tracing-sdk-python": (OBSERVABILITY, "test_the_readmes_sdk_setup_exports_a_span_per_job"),
    "tracing-sql": (HERE, "test_tracing_sql_stores_the_traceparent_with_the_job"),
    "tracing-supabase-python": (HERE,
                                "test_tracing_supabase_python_sends_the_current_span_as_the_jobs_traceparent"),
}
NOT_RUN = {
    "user-jobs-js": "supabase-js against Supabase Realtime: no Realtime server here",
    "user-jobs-realtime-python": "supabase-py's Realtime channel: no Realtime server here",
    "tracing-supabase-js": "supabase-js needs Node packages the suite does not install; its Python twin runs",
}


def test_every_code_block_is_marked_and_run_by_a_named_test() -> None:
    found = blocks()
    unmarked = [f"README.md:{b.line} ({b.language})" for b in found if b.name is None]
    assert not unmarked, f"code blocks without `<!-- example: NAME -->`: {unmarked}"
    names = [b.name for b in found]
    assert len(names) == len(set(names)), "two blocks share a name"
    assert set(names) == set(RUN_BY) | set(NOT_RUN), "RUN_BY / NOT_RUN and the README's blocks differ"
    for name, (path, function) in RUN_BY.items():
        source = (REPO_ROOT / path).read_text()
        defined = {n.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef)}
        assert function in defined, f"{path}::{function} (for {name}) does not exist"
        assert f'"{name}"' in source or f"example: {name}" in source, f"{path} never reads block {name}"


def _process(db_url: str, tmp_path: Path, types: list[str]) -> dict[str, str]:
    backend = PostgresBackend(db_url, max_size=2)
    try:
        settings = Settings(_env_file=None, local_dir=tmp_path, email_provider="outbox")
        report = run_invocation(backend, settings, InvocationOptions(types=types))
    finally:
        backend.close()
    return {str(job.id): job.outcome for job in report.jobs}


def test_enqueue_python_makes_a_job_the_worker_sends(postgrest: PostgrestEndpoint, conn: Conn,
                                                      db_url: str, tmp_path: Path) -> None:
    scope: dict[str, Any] = {"SUPABASE_URL": postgrest.url,
                             "SUPABASE_SERVICE_ROLE_KEY": postgrest.service_role_key}
    exec(compile(example("enqueue-python"), "README.md:enqueue-python", "exec"), scope)  # noqa: S102
    job_id = scope["job_id"]
    row = conn.execute("select type, priority::text, idempotency_key from job_queue where id = %s",
                       (job_id,)).fetchone()
    assert row == {"type": "email", "priority": "high", "idempotency_key": "welcome:ada"}
    assert _process(db_url, tmp_path, ["email"]) == {job_id: "completed"}
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_enqueue_sql_makes_jobs_whose_payloads_are_valid(conn: Conn) -> None:
    """The trial's complaint: `"seller_id": "s_42"` dead-lettered. Each payload the block
    enqueues must pass its processor's model (what the worker checks first)."""
    conn.execute(example("enqueue-sql"))
    rows = conn.execute("select * from job_queue order by seq").fetchall()
    assert [(r["type"], r["priority"]) for r in rows] == [
        ("analytics", "normal"), ("payout", "high"), ("noop", "normal"), ("noop", "low")]
    assert rows[1]["idempotency_key"] == "payout:5b1f6a52:2026-W48"
    registry = load_registry()
    for row in rows:
        job = Job.model_validate(row)
        assert not hasattr(validate_payload(registry[job.type], job), "outcome"), (job.type, job.payload)


def test_user_jobs_sql_shows_a_user_only_their_own_rows(conn: Conn) -> None:
    alice, bob = "8d0c1c1e-0000-4000-8000-00000000a11c", "8d0c1c1e-0000-4000-8000-000000000b0b"
    for owner in (alice, alice, bob):
        conn.execute("select enqueue_job('noop', p_owner_id => %s)", (owner,))
    with conn.transaction():
        conn.execute("set local role authenticated")
        conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps({"sub": alice}),))
        results = []
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(example("user-jobs-sql"))
            while True:
                results.append(cur.fetchall())
                if not cur.nextset():
                    break
    listed, rows = results
    assert len(listed) == 2
    assert len(rows) == 2
    assert {r["status"] for r in rows} == {"pending"}


def test_the_health_check_json_has_the_shape_health_returns(conn: Conn) -> None:
    shown = json.loads("{" + example("health-check-json").replace(", ...", "") + "}")["backlog_age:email"]
    report = conn.execute("select health_warnings() as r").fetchone()
    assert report is not None
    real = next(c for c in report["r"]["checks"] if c["check"] == "backlog_age" and c["type"] == "email")
    assert set(shown) - {"ok"} == set(real) - {"check"}
    assert set(shown["details"]) == set(real["details"])


def test_health_thresholds_sql_changes_the_thresholds(conn: Conn) -> None:
    conn.execute(example("health-thresholds-sql"))
    report = conn.execute("select health_warnings() as r").fetchone()
    assert report is not None
    checks = report["r"]["checks"]
    analytics = next(c for c in checks if c.get("type") == "analytics" and c["check"] == "backlog_age")
    assert analytics["threshold"] == 3600
    assert next(c for c in checks if c["check"] == "xmin_horizon")["threshold"] == 600


def test_schedules_sql_enables_the_two_seeded_schedules(conn: Conn) -> None:
    conn.execute(example("schedules-sql"))
    rows = conn.execute("select name from job_schedules where enabled order by name").fetchall()
    assert [r["name"] for r in rows] == ["daily_analytics", "weekly_payouts"]


def test_kicks_sql_sets_the_kick_settings_and_groups(conn: Conn) -> None:
    conn.execute(example("kicks-sql"))
    settings = {r["key"]: r["value"] for r in conn.execute(
        "select key, value from queue.settings where key like 'kick%'").fetchall()}
    assert settings == {"kick_window_ms": 1000, "kick_answer_seconds": 60, "kick_http": False}
    groups = {r["name"]: r["kick_group"] for r in conn.execute("select name, kick_group from job_types")}
    assert (groups["audio"], groups["payout"], groups["email"]) == ("slow", "slow", "default")


@pytest.mark.parametrize("name", sorted(NOT_RUN))
def test_blocks_not_run_here_at_least_parse(name: str) -> None:
    """What can be checked without Realtime: the Python block compiles (top-level await
    allowed, as in a notebook or an async function's body)."""
    code = example(name)
    if name.endswith("python"):
        compile(code, f"README.md:{name}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    elif name == "tracing-supabase-js":
        assert '.setHeader("traceparent", headers.traceparent)' in code
    else:
        assert "supabase.channel('my-jobs')" in code


def test_tracing_sql_stores_the_traceparent_with_the_job(conn: Conn) -> None:
    conn.execute(example("tracing-sql"))
    row = conn.execute("select type, traceparent, payload from job_queue").fetchone()
    assert row is not None
    assert row["type"] == "email"
    assert row["traceparent"] == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    job = Job.model_validate(conn.execute("select * from job_queue").fetchone())
    assert not hasattr(validate_payload(load_registry()["email"], job), "outcome"), job.payload


def test_tracing_supabase_python_sends_the_current_span_as_the_jobs_traceparent(
        postgrest: PostgrestEndpoint, conn: Conn, spans: Spans) -> None:
    from supabase import create_client

    tracer = trace.get_tracer("readme-test")
    with tracer.start_as_current_span("checkout") as span:
        scope: dict[str, Any] = {"supabase": create_client(postgrest.url, postgrest.service_role_key),
                                 "payload": {"to": "ada@example.com", "template": "welcome",
                                             "template_data": {"name": "Ada"}}}
        code = example("tracing-supabase-python")
        exec(compile(code, "README.md:tracing-supabase-python", "exec"), scope)  # noqa: S102
        context = span.get_span_context()
    row = conn.execute("select traceparent from job_queue where id = %s", (scope["job_id"],)).fetchone()
    sent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
    assert row == {"traceparent": sent}
