"""Who is a client: decided by role membership, not by the role's name.

Real: PostgreSQL with the Supabase roles, plus a custom JWT role made for each test the
way Supabase projects do it (`create role premium; grant authenticated to premium`) and
dropped afterwards; JWTs simulated as PostgREST does (SET ROLE + request.jwt.claims).
Faked: nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, enqueue, fingerprint, job, sqlstate_of, value
from tests.sql.test_rls import ALICE, BOB, as_role


def _custom_role(conn: Conn, member_of: str) -> Iterator[str]:
    """A role unique to this test (roles are cluster-wide) that inherits `member_of`."""
    name = f"qw_custom_{uuid.uuid4().hex[:10]}"
    conn.execute(sql.SQL("create role {} nologin inherit").format(sql.Identifier(name)))
    conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(member_of), sql.Identifier(name)))
    try:
        yield name
    finally:
        conn.execute(sql.SQL("drop role {}").format(sql.Identifier(name)))


@pytest.fixture
def premium(conn: Conn) -> Iterator[str]:
    """A custom JWT role that inherits authenticated."""
    yield from _custom_role(conn, "authenticated")


@pytest.fixture
def backoffice(conn: Conn) -> Iterator[str]:
    """A custom role that inherits service_role."""
    yield from _custom_role(conn, "service_role")


def _is_client(conn: Conn, role: str | None) -> bool:
    """queue.caller_is_client() as `role` sees it from inside a security definer function."""
    conn.execute("""create or replace function public.t_is_client() returns boolean
                    language sql security definer set search_path = ''
                    as 'select queue.caller_is_client()'""")
    conn.execute("grant execute on function public.t_is_client() to public")
    if role is None:
        return bool(value(conn, "select t_is_client()"))
    with as_role(conn, role, ALICE):
        return bool(value(conn, "select t_is_client()"))


def test_the_server_roles_are_not_clients_and_every_other_role_is(
    conn: Conn, premium: str, backoffice: str
) -> None:
    server = {role: _is_client(conn, role) for role in (None, "service_role", backoffice)}
    clients = {role: _is_client(conn, role) for role in ("anon", "authenticated", premium)}
    assert server == {None: False, "service_role": False, backoffice: False}
    assert clients == {"anon": True, "authenticated": True, premium: True}


def test_a_role_inheriting_authenticated_cannot_enqueue_a_server_only_type(conn: Conn, premium: str) -> None:
    before = fingerprint(conn)
    with as_role(conn, premium, ALICE):
        error = sqlstate_of(lambda: enqueue(conn, "payout", payload={"seller_id": "s_1"}))
        assert error.sqlstate == "42501"
        assert error.diag.message_primary == "job type 'payout' cannot be enqueued by clients"
        batch = sqlstate_of(lambda: conn.execute("select enqueue_jobs(%s)", (Jsonb([{"type": "payout"}]),)))
        assert batch.sqlstate == "42501"
    assert fingerprint(conn) == before


def test_a_role_inheriting_authenticated_enqueues_only_as_itself(conn: Conn, premium: str) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    with as_role(conn, premium, ALICE):
        assert sqlstate_of(lambda: enqueue(conn, "email", owner_id=BOB)).sqlstate == "42501"
        job_id = enqueue(conn, "email")
    assert job(conn, job_id)["owner_id"] == ALICE


def test_a_role_inheriting_authenticated_cannot_take_a_key_the_server_will_use(
    conn: Conn, premium: str
) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    with as_role(conn, premium, ALICE):
        clients = enqueue(conn, "email", idempotency_key="welcome:ada")
    servers = enqueue(conn, "email", idempotency_key="welcome:ada")
    assert servers != clients
    assert job(conn, clients)["idempotency_key"] == f"user:{ALICE}:welcome:ada"
    assert job(conn, servers)["idempotency_key"] == "welcome:ada"


def test_a_role_inheriting_authenticated_without_a_user_cannot_enqueue(conn: Conn, premium: str) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")
    with as_role(conn, premium):
        error = sqlstate_of(lambda: enqueue(conn, "email"))
    assert (error.sqlstate, error.diag.message_primary) == ("42501", "only signed-in users may enqueue jobs")


def test_a_role_inheriting_service_role_is_the_server(conn: Conn, backoffice: str) -> None:
    with as_role(conn, backoffice):
        job_id = enqueue(conn, "payout", owner_id=BOB, idempotency_key="payout:s_1")
    assert (job(conn, job_id)["owner_id"], job(conn, job_id)["idempotency_key"]) == (BOB, "payout:s_1")
