"""What a signed-in client may ask for on a client_enqueueable type, and that permission
is checked before anything else (a refused client learns nothing and locks nothing).

Real: PostgreSQL with the Supabase roles; JWTs simulated as PostgREST does (SET ROLE +
request.jwt.claims); concurrent enqueues on real connections. Faked: nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, connect, enqueue, fingerprint, job, make_job, sqlstate_of, value
from tests.sql.test_rls import ALICE, BOB, as_role


@pytest.fixture(autouse=True)
def email_is_client_enqueueable(conn: Conn) -> None:
    conn.execute("update job_types set client_enqueueable = true where name = 'email'")  # max_attempts 5


@pytest.fixture
def alice(db_url: str) -> Iterator[Conn]:
    """A second connection, signed in as Alice (the test's `conn` stays the owner)."""
    with connect(db_url) as c, as_role(c, "authenticated", ALICE):
        yield c


def _batch(conn: Conn, jobs: list[dict[str, Any]]) -> list[UUID]:
    return [r["id"] for r in conn.execute("select enqueue_jobs as id from enqueue_jobs(%s)", (Jsonb(jobs),))]


def _refused(conn: Conn, sqlstate: str, says: str, *calls: Any) -> None:
    before = fingerprint(conn)
    for call in calls:
        error = sqlstate_of(call)
        assert (error.sqlstate, says in (error.diag.message_primary or "")) == (sqlstate, True), error
        assert (error.diag.message_hint or "").strip(), "no HINT"
    assert fingerprint(conn) == before


@pytest.mark.parametrize("priority", ["critical", "high"])
def test_a_client_cannot_choose_a_priority_above_normal(conn: Conn, alice: Conn, priority: str) -> None:
    _refused(
        conn,
        "42501",
        f"clients may enqueue at priority normal or low, not {priority}",
        lambda: enqueue(alice, "email", priority=priority),
        lambda: _batch(alice, [{"type": "email"}, {"type": "email", "priority": priority}]),
    )


def test_a_client_enqueues_at_normal_or_low(conn: Conn, alice: Conn) -> None:
    ids = [
        enqueue(alice, "email"),
        enqueue(alice, "email", priority="low"),
        *_batch(alice, [{"type": "email", "priority": "low"}]),
    ]
    assert [job(conn, i)["priority"] for i in ids] == ["normal", "low", "low"]


def test_a_client_cannot_ask_for_more_attempts_than_the_type_gives(conn: Conn, alice: Conn) -> None:
    _refused(
        conn,
        "42501",
        "clients may ask for at most 5 attempts of 'email' jobs, not 1000",
        lambda: enqueue(alice, "email", max_attempts=1000),
        lambda: _batch(alice, [{"type": "email", "max_attempts": 1000}]),
    )
    assert job(conn, enqueue(alice, "email", max_attempts=2))["max_attempts"] == 2


def test_a_clients_past_run_at_counts_as_now_and_a_future_one_is_kept(conn: Conn, alice: Conn) -> None:
    past = enqueue(alice, "email", run_at="1900-01-01T00:00:00Z")
    [batch_past] = _batch(alice, [{"type": "email", "run_at": "1900-01-01T00:00:00Z"}])
    future = enqueue(alice, "email", run_at="2100-01-01T00:00:00Z")
    now = value(conn, "select now()")
    assert all(abs(job(conn, i)["run_at"] - now) < timedelta(minutes=1) for i in (past, batch_past))
    assert job(conn, future)["run_at"].year == 2100


def test_the_server_still_chooses_priority_attempts_and_a_past_run_at(conn: Conn) -> None:
    row = job(
        conn, enqueue(conn, "email", priority="critical", max_attempts=1000, run_at="1900-01-01T00:00:00Z")
    )
    assert (row["priority"], row["max_attempts"], row["run_at"].year) == ("critical", 1000, 1900)


def test_a_clients_rate_limit_key_is_scoped_to_that_client(conn: Conn, alice: Conn) -> None:
    conn.execute("insert into job_rate_limits (key, max_per_window, window_seconds) values ('stripe', 1, 60)")
    one = enqueue(alice, "email", rate_limit_key="stripe")
    [two] = _batch(alice, [{"type": "email", "rate_limit_key": "stripe"}])
    assert {job(conn, one)["rate_limit_key"], job(conn, two)["rate_limit_key"]} == {f"user:{ALICE}:stripe"}
    assert job(conn, enqueue(conn, "email", rate_limit_key="stripe"))["rate_limit_key"] == "stripe"


def test_a_client_may_depend_on_its_own_jobs(conn: Conn, alice: Conn) -> None:
    mine = enqueue(alice, "email")
    child = enqueue(alice, "email", depends_on=[mine])
    assert job(conn, child)["depends_on"] == [mine]


def test_a_client_cannot_depend_on_another_users_job_nor_lock_it(
    conn: Conn, alice: Conn, db_url: str
) -> None:
    bobs = make_job(conn, "pending", "email", owner_id=BOB)
    servers = make_job(conn, "pending", "noop")
    with connect(db_url) as holder:
        holder.execute("begin")
        holder.execute("select 1 from job_queue where id = any(%s) for update", ([bobs, servers],))
        alice.execute(
            "set lock_timeout = '2s'"
        )  # the old code waited here for a share lock, then failed 55P03
        for other in (bobs, servers):
            _refused(
                conn,
                "22QD1",
                f"depends_on names job {other}, which does not exist or is not one of your jobs",
                lambda other=other: enqueue(alice, "email", depends_on=[other]),
                lambda other=other: _batch(alice, [{"type": "email", "depends_on": [str(other)]}]),
            )
        holder.execute("rollback")


# Permission first: whatever else is wrong with the call, a server-only type is refused
# with the same 42501, before any type list, job id or lock is involved.
SERVER_ONLY_CALLS = {
    "unknown type": dict(job_type="no_such_type"),
    "bad priority": dict(job_type="payout", priority="urgent"),
    "missing dependency": dict(job_type="payout", depends_on=[UUID(int=1)]),
    "existing dependency": dict(job_type="payout", depends_on="existing"),
}


@pytest.mark.parametrize("call", SERVER_ONLY_CALLS.values(), ids=SERVER_ONLY_CALLS.keys())
def test_a_client_calling_for_a_server_only_type_learns_only_42501(
    conn: Conn, alice: Conn, call: dict[str, Any]
) -> None:
    args = dict(call)
    job_type = args.pop("job_type")
    if args.get("depends_on") == "existing":
        args["depends_on"] = [make_job(conn, "pending", "noop")]
    element = {
        "type": job_type,
        **{k: [str(d) for d in v] if k == "depends_on" else v for k, v in args.items()},
    }
    expected = f"job type '{job_type}' cannot be enqueued by clients"
    _refused(
        conn,
        "42501",
        expected,
        lambda: enqueue(alice, job_type, **args),
        lambda: _batch(alice, [{"type": "email", "priority": "nope"}, element]),
    )


def test_a_refused_client_takes_no_lock_on_the_jobs_it_names(conn: Conn, alice: Conn, db_url: str) -> None:
    target = make_job(conn, "pending", "noop")
    with connect(db_url) as holder:
        holder.execute("begin")
        holder.execute("select 1 from job_queue where id = %s for update", (target,))
        alice.execute("set lock_timeout = '2s'")
        error = sqlstate_of(lambda: enqueue(alice, "payout", depends_on=[target]))
        holder.execute("rollback")
    assert error.sqlstate == "42501", error


def test_a_client_has_at_most_the_types_pending_limit_of_pending_jobs(conn: Conn, alice: Conn) -> None:
    conn.execute("update job_types set client_pending_limit = 3 where name = 'email'")
    kept = [enqueue(alice, "email"), *_batch(alice, [{"type": "email"}, {"type": "email"}])]
    _refused(
        conn,
        "PT429",
        "more than 3 pending 'email' jobs",
        lambda: enqueue(alice, "email"),
        lambda: _batch(alice, [{"type": "email"}]),
    )
    assert value(conn, "select count(*) from job_queue") == 3
    # A key already enqueued is no new job: it still returns its id at the cap.
    conn.execute("update job_queue set idempotency_key = %s where id = %s", (f"user:{ALICE}:k", kept[0]))
    assert enqueue(alice, "email", idempotency_key="k") == kept[0]
    value(conn, "select count(*) from get_next_job('w', array['email'])")  # one runs: two pending left
    assert enqueue(alice, "email") not in kept


def test_the_pending_limit_is_per_user_and_spares_the_server(conn: Conn) -> None:
    conn.execute("update job_types set client_pending_limit = 1 where name = 'email'")
    for user in (ALICE, BOB):
        with as_role(conn, "authenticated", user):
            enqueue(conn, "email")
    for _ in range(3):
        enqueue(conn, "email", owner_id=ALICE)
    conn.execute("update job_types set client_pending_limit = null where name = 'email'")
    with as_role(conn, "authenticated", ALICE):
        enqueue(conn, "email")
    assert value(conn, "select count(*) from job_queue") == 6


def test_concurrent_enqueues_of_one_client_stop_at_the_pending_limit(conn: Conn, db_url: str) -> None:
    conn.execute("update job_types set client_pending_limit = 4 where name = 'email'")
    racers = 10
    barrier = threading.Barrier(racers, timeout=30)

    def one(_: int) -> str:
        with connect(db_url) as c, as_role(c, "authenticated", ALICE):
            barrier.wait()
            try:
                enqueue(c, "email")
                return "made"
            except psycopg.Error as error:
                return str(error.sqlstate)

    with ThreadPoolExecutor(racers) as pool:
        outcomes = sorted(pool.map(one, range(racers), timeout=60))
    assert outcomes == ["PT429"] * 6 + ["made"] * 4
    assert value(conn, "select count(*) from job_queue where owner_id = %s", (ALICE,)) == 4
