"""QueueBackend conformance, part 2: dead letters, cleanup, job types, stats, health,
schema versions, worker runs, ping and rpc, run against every backend (see conftest).

Real: PostgreSQL with the migrations applied, supabase-py, HTTP on 127.0.0.1.
Faked: PostgREST itself, by the stand-in in tests/support/postgrest.py.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from shared.queue import QueueBackend
from shared.queue.errors import InvalidInput, NotFound
from shared.queue.models import Failure
from tests.queue.test_conformance import claim_one, enqueue, row

Conn = psycopg.Connection[dict[str, Any]]


def dead_letter(backend: QueueBackend, error: str = "bad input") -> UUID:
    """A job dead-lettered by a permanent failure; returns the job id."""
    enqueue(backend)
    job = claim_one(backend)
    backend.jobs_fail("w1", [Failure(id=job.id, error=error, retryable=False)])
    return job.id


def test_dead_letters_list_newest_first_with_their_errors(backend: QueueBackend) -> None:
    older, newer = dead_letter(backend, "first"), dead_letter(backend, "second")
    letters = backend.dead_letters_list()
    assert [letter.job_id for letter in letters] == [newer, older]
    assert letters[0].last_error == "second"
    assert letters[0].errors
    assert [letter.job_id for letter in backend.dead_letters_list(limit=1)] == [newer]


def test_replaying_a_dead_letter_enqueues_it_again_once(backend: QueueBackend, conn: Conn) -> None:
    job_id = dead_letter(backend)
    [letter] = backend.dead_letters_list()
    replayed = backend.dead_letter_replay(letter.id)
    assert replayed != job_id
    assert (row(conn, replayed)["status"], row(conn, replayed)["attempts"]) == ("pending", 0)
    assert backend.dead_letter_replay(letter.id) == replayed
    assert backend.dead_letters_list()[0].replayed_job_id == replayed


def test_replaying_an_unknown_dead_letter_is_not_found(backend: QueueBackend) -> None:
    with pytest.raises(NotFound):
        backend.dead_letter_replay(uuid4())


def test_cleanup_returns_jobs_whose_lock_expired_to_pending(backend: QueueBackend, conn: Conn) -> None:
    enqueue(backend, 2)
    stuck, healthy = claim_one(backend), claim_one(backend)
    conn.execute("update job_queue set locked_until = now() - interval '1 minute' where id = %s", (stuck.id,))
    assert backend.jobs_cleanup_stuck() == 1
    assert (row(conn, stuck.id)["status"], row(conn, healthy.id)["status"]) == ("pending", "running")
    assert backend.jobs_cleanup_stuck() == 0


def test_job_types_match_the_job_types_table(backend: QueueBackend, conn: Conn) -> None:
    conn.execute("update job_types set enabled = false, concurrency_limit = 3 where name = 'noop'")
    expected = conn.execute("select name, timeout_seconds, max_attempts, enabled, concurrency_limit "
                            "from job_types").fetchall()
    types = backend.job_types()
    assert {name: info.model_dump() for name, info in types.items()} == {r["name"]: r for r in expected}
    assert (types["noop"].enabled, types["noop"].concurrency_limit) == (False, 3)


def test_queue_stats_count_jobs_by_status_and_type(backend: QueueBackend) -> None:
    enqueue(backend, 3)
    claim_one(backend)
    stats = backend.queue_stats()
    assert stats["by_status"] == {"pending": 2, "running": 1}
    assert stats["by_type"]["noop"] == {"pending": 2, "running": 1}
    assert stats["dead_letter_count"] == 0


def test_queue_health_reports_ready_jobs_and_the_last_worker_run(backend: QueueBackend) -> None:
    enqueue(backend, 2)
    assert backend.queue_health()["last_worker_run"] is None
    backend.worker_run_start("w-health", {"trigger": "test"})
    health = backend.queue_health()
    assert health["pending_ready"] == 2
    assert health["stuck_jobs"] == 0
    assert health["last_worker_run"]["worker_id"] == "w-health"


def test_worker_runs_are_recorded_from_start_to_finish(backend: QueueBackend, conn: Conn) -> None:
    backend.worker_run_start("w-run", {"host": "test"})
    backend.worker_run_finish("w-run", {"claimed": 3, "completed": 2, "retried": 1})
    run = conn.execute("select * from worker_runs where worker_id = 'w-run'").fetchone()
    assert run is not None
    assert run["finished_at"] is not None
    assert (run["claimed"], run["completed"], run["retried"], run["meta"]) == (3, 2, 1, {"host": "test"})


def test_schema_versions_are_the_migrations_the_database_ran(backend: QueueBackend, conn: Conn) -> None:
    expected = [r["version"] for r in conn.execute(
        "select version from queue.schema_migrations order by version").fetchall()]
    assert backend.schema_versions() == expected
    assert "20260101000000" in expected


def test_ping_returns_a_round_trip_in_milliseconds(backend: QueueBackend) -> None:
    assert backend.ping() > 0


@pytest.fixture
def echo_function(conn: Conn) -> None:
    """A data function like the processors' (payout ledger): jsonb in, jsonb out, service_role only."""
    conn.execute("""
        create function public.test_echo(p_doc jsonb, p_id uuid, p_n integer default 1) returns jsonb
        language sql security definer set search_path = '' as $$
          select pg_catalog.jsonb_build_object('doc', p_doc, 'id', p_id, 'n', p_n) $$;
        create function public.test_count(p_type text) returns bigint
        language sql security definer set search_path = '' as $$
          select pg_catalog.count(*) from public.job_queue j where j.type = p_type $$;
        create function public.test_reject(p_why text) returns boolean
        language plpgsql as $$ begin perform queue.raise('22QZ9', p_why, 'try again'); return false; end $$;
        revoke execute on function public.test_echo(jsonb, uuid, integer) from public;
        grant execute on function public.test_echo(jsonb, uuid, integer) to service_role;
        grant usage on schema queue to service_role;
        grant execute on function queue.raise(text, text, text) to service_role;
    """)


@pytest.mark.usefixtures("echo_function")
def test_rpc_calls_a_function_with_named_arguments_and_returns_json_data(backend: QueueBackend) -> None:
    job_id = uuid4()
    assert backend.rpc("test_echo", {"p_doc": {"a": [1, 2]}, "p_id": job_id}) == {
        "doc": {"a": [1, 2]}, "id": str(job_id), "n": 1}
    enqueue(backend, 2)
    assert backend.rpc("test_count", {"p_type": "noop"}) == 2


@pytest.mark.usefixtures("echo_function")
def test_rpc_errors_map_to_queue_errors_with_their_hint(backend: QueueBackend) -> None:
    with pytest.raises(InvalidInput) as raised:
        backend.rpc("test_reject", {"p_why": "balance changed"})
    assert (raised.value.message, raised.value.hint, raised.value.sqlstate) == (
        "balance changed", "try again", "22QZ9")
