"""Who may call what: EXECUTE per role, and what an authenticated user may enqueue.

Real: PostgreSQL with the Supabase roles; JWTs simulated as PostgREST does (SET ROLE +
request.jwt.claims). Faked: nothing.
"""

from __future__ import annotations

import uuid

import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, enqueue, fingerprint, job, sqlstate_of, value
from tests.sql.test_rls import ALICE, BOB, as_role

CLIENT_CALLABLE = {"enqueue_job", "enqueue_jobs", "my_jobs"}
# Every function the migrations create in public and queue (pg_cron's and pg_net's are theirs).
FUNCTIONS = """
    select p.oid::regprocedure::text as sig, p.proname as name, n.nspname as schema,
           has_function_privilege('anon', p.oid, 'execute') as anon,
           has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
           has_function_privilege('service_role', p.oid, 'execute') as service_role
      from pg_proc p join pg_namespace n on n.oid = p.pronamespace
     where n.nspname in ('public', 'queue')
       and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')
"""


def test_no_queue_function_is_executable_by_anon(conn: Conn) -> None:
    rows = conn.execute(FUNCTIONS).fetchall()
    assert len(rows) > 20
    assert [r["sig"] for r in rows if r["anon"]] == []


def test_authenticated_may_execute_only_the_enqueue_functions_and_my_jobs(conn: Conn) -> None:
    rows = conn.execute(FUNCTIONS).fetchall()
    assert {r["name"] for r in rows if r["authenticated"]} == CLIENT_CALLABLE


def test_service_role_may_execute_every_public_queue_function(conn: Conn) -> None:
    rows = conn.execute(FUNCTIONS).fetchall()
    assert [r["sig"] for r in rows if r["schema"] == "public" and not r["service_role"]] == []
    assert [r["sig"] for r in rows if r["schema"] == "queue" and r["service_role"]] == []


def test_every_public_queue_function_is_security_definer_with_an_empty_search_path(conn: Conn) -> None:
    rows = conn.execute("""
        select p.proname, p.prosecdef, p.proconfig from pg_proc p
         where p.pronamespace = 'public'::regnamespace
           and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')""").fetchall()
    assert rows
    assert [r["proname"] for r in rows if not r["prosecdef"] or r["proconfig"] != ['search_path=""']] == []


def test_clients_have_no_privilege_on_the_queue_sequences(conn: Conn) -> None:
    for role in ("anon", "authenticated"):
        for seq in ("job_queue_seq_seq", "job_status_events_id_seq"):
            for privilege in ("usage", "select", "update"):
                assert (
                    value(conn, "select has_sequence_privilege(%s, %s, %s)", (role, seq, privilege)) is False
                )


@pytest.mark.parametrize(
    "call",
    [
        "select * from get_next_job('w')",
        "select queue_stats()",
        "select cleanup_stuck_jobs()",
        "select enqueue_job('email')",
    ],
)
def test_anon_is_refused_every_call(conn: Conn, call: str) -> None:
    with as_role(conn, "anon"):
        assert sqlstate_of(lambda: conn.execute(call)).sqlstate == "42501"


@pytest.mark.parametrize(
    "call",
    [
        "select * from get_next_job('w')",
        "select complete_job(gen_random_uuid())",
        "select queue_health()",
        "select purge_finished_jobs()",
    ],
)
def test_authenticated_is_refused_worker_and_operator_calls(conn: Conn, call: str) -> None:
    with as_role(conn, "authenticated", ALICE):
        assert sqlstate_of(lambda: conn.execute(call)).sqlstate == "42501"


def test_authenticated_cannot_enqueue_a_type_that_is_not_client_enqueueable(conn: Conn) -> None:
    before = fingerprint(conn)
    with as_role(conn, "authenticated", ALICE):
        error = sqlstate_of(lambda: enqueue(conn, "email"))
        assert error.sqlstate == "42501"
        assert "cannot be enqueued by clients" in (error.diag.message_primary or "")
        assert error.diag.message_hint
        batch = sqlstate_of(lambda: conn.execute("select enqueue_jobs(%s)", (Jsonb([{"type": "email"}]),)))
        assert batch.sqlstate == "42501"
    assert fingerprint(conn) == before


def test_authenticated_enqueues_a_client_enqueueable_type_as_themselves(conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    with as_role(conn, "authenticated", ALICE):
        job_id = enqueue(conn, "email", payload={"to": "me@example.com"})
        [batch_id] = [
            r["id"]
            for r in conn.execute(
                "select enqueue_jobs as id from enqueue_jobs(%s)", (Jsonb([{"type": "email"}]),)
            )
        ]
        assert [r["id"] for r in conn.execute("select id from job_queue order by created_at")] == [
            job_id,
            batch_id,
        ]
    assert job(conn, job_id)["owner_id"] == ALICE
    assert job(conn, batch_id)["owner_id"] == ALICE


def test_authenticated_cannot_enqueue_for_someone_else(conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    before = fingerprint(conn)
    with as_role(conn, "authenticated", ALICE):
        error = sqlstate_of(lambda: enqueue(conn, "email", owner_id=BOB))
        assert error.sqlstate == "42501"
        batch = [{"type": "email"}, {"type": "email", "owner_id": str(BOB)}]
        assert (
            sqlstate_of(lambda: conn.execute("select enqueue_jobs(%s)", (Jsonb(batch),))).sqlstate == "42501"
        )
    assert fingerprint(conn) == before


def test_an_authenticated_role_without_a_user_cannot_enqueue(conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    with as_role(conn, "authenticated"):
        assert sqlstate_of(lambda: enqueue(conn, "email")).sqlstate == "42501"


def test_the_service_role_enqueues_any_type_for_any_owner(conn: Conn) -> None:
    owner = uuid.uuid4()
    with as_role(conn, "service_role"):
        job_id = enqueue(conn, "payout", owner_id=owner)
        assert value(conn, "select count(*) from get_next_job('w')") == 1
        assert value(conn, "select queue_stats() -> 'by_status' ->> 'running'") == "1"
    assert job(conn, job_id)["owner_id"] == owner


def test_a_clients_idempotency_key_is_scoped_to_that_user(conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    ids: dict[uuid.UUID, set[uuid.UUID]] = {}
    for user in (ALICE, BOB, ALICE):
        with as_role(conn, "authenticated", user):
            ids.setdefault(user, set()).add(enqueue(conn, "email", idempotency_key="signup"))
            [batch_id] = [
                r["id"]
                for r in conn.execute(
                    "select enqueue_jobs as id from enqueue_jobs(%s)",
                    (Jsonb([{"type": "email", "idempotency_key": "signup"}]),),
                )
            ]
            ids[user].add(batch_id)
    assert len(ids[ALICE]) == 1
    assert len(ids[BOB]) == 1
    assert ids[ALICE] != ids[BOB]
    assert value(conn, "select count(*) from job_queue") == 2
    assert (
        value(conn, "select idempotency_key from job_queue where owner_id = %s", (ALICE,))
        == f"user:{ALICE}:signup"
    )
