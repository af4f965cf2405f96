"""An idempotency key stays bound to its job while the job exists anywhere: in job_queue or
in job_dead_letter. Enqueueing with it returns that job; a replay keeps the key.

Real: PostgreSQL; the race runs on two real connections, one holding its transaction open
until the other waits on it. Faked: nothing.
"""

from __future__ import annotations

from functools import partial
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, claim, enqueue, history, job, make_job, value
from tests.sql.test_dependencies import _commit_after_blocking


def _batch(conn: Conn, jobs: list[dict[str, Any]]) -> list[UUID]:
    return [r["id"] for r in conn.execute("select enqueue_jobs as id from enqueue_jobs(%s)", (Jsonb(jobs),))]


def _first_value(query: str, conn: Conn) -> Any:
    return value(conn, query)


def _letter_of(conn: Conn, job_id: UUID) -> UUID:
    letter: UUID = value(conn, "select id from job_dead_letter where job_id = %s", (job_id,))
    return letter


def test_enqueueing_with_a_dead_lettered_jobs_key_returns_that_job_and_creates_nothing(conn: Conn) -> None:
    dead = make_job(conn, "dead", "email", idempotency_key="welcome:ada")
    assert enqueue(conn, "email", idempotency_key="welcome:ada") == dead
    assert _batch(conn, [{"type": "noop"}, {"type": "email", "idempotency_key": "welcome:ada"}])[1] == dead
    assert value(conn, "select count(*) from job_queue where type = 'email'") == 0
    assert value(conn, "select count(*) from job_status_history where job_id <> %s", (dead,)) == 1  # the noop


def test_the_key_binds_only_its_own_type(conn: Conn) -> None:
    dead = make_job(conn, "dead", "email", idempotency_key="k")
    assert enqueue(conn, "noop", idempotency_key="k") != dead


def test_a_replay_keeps_the_key_and_enqueueing_with_it_returns_the_replay(conn: Conn) -> None:
    dead = make_job(conn, "dead", "email", idempotency_key="welcome:ada")
    replay = value(conn, "select retry_dead_letter_job(%s)", (_letter_of(conn, dead),))
    assert job(conn, replay)["idempotency_key"] == "welcome:ada"
    assert enqueue(conn, "email", idempotency_key="welcome:ada") == replay
    assert _batch(conn, [{"type": "email", "idempotency_key": "welcome:ada"}]) == [replay]
    assert value(conn, "select retry_dead_letter_job(%s)", (_letter_of(conn, dead),)) == replay
    assert value(conn, "select count(*) from job_queue") == 1


def test_a_replay_that_is_dead_lettered_again_still_holds_the_key(conn: Conn) -> None:
    dead = make_job(conn, "dead", "noop", idempotency_key="k")
    replay = value(conn, "select retry_dead_letter_job(%s)", (_letter_of(conn, dead),))
    assert [row["id"] for row in claim(conn, "w1", types=["noop"])] == [replay]
    assert value(conn, "select fail_job(%s, 'again', false, null, 'w1')", (replay,)) == "dead_lettered"
    assert enqueue(conn, "noop", idempotency_key="k") == replay
    assert value(conn, "select count(*) from job_queue") == 0


def test_replaying_a_letter_whose_key_a_queued_job_holds_makes_nothing_new(conn: Conn) -> None:
    dead = make_job(conn, "dead", "noop", idempotency_key="k")
    letter = _letter_of(conn, dead)
    # A job that took the key while it was free (before keys outlived the queue).
    holder = enqueue(conn, "noop")
    conn.execute("update job_queue set idempotency_key = 'k' where id = %s", (holder,))
    assert value(conn, "select retry_dead_letter_job(%s)", (letter,)) == holder
    assert value(conn, "select replayed_job_id from job_dead_letter where id = %s", (letter,)) == holder
    assert value(conn, "select count(*) from job_queue") == 1


def test_an_enqueue_waiting_on_a_job_being_dead_lettered_returns_that_job(conn: Conn, db_url: str) -> None:
    for enqueue_call in (
        "select enqueue_job('noop', p_idempotency_key => 'race')",
        'select enqueue_jobs from enqueue_jobs(\'[{"type": "noop", "idempotency_key": "race"}]\')',
    ):
        conn.execute("delete from job_dead_letter")
        root = make_job(conn, "running", "noop", idempotency_key="race")
        outcome, got = _commit_after_blocking(
            conn,
            db_url,
            "select fail_job(%s, 'fatal', false, null, 'w1')",
            root,
            partial(_first_value, enqueue_call),
        )
        assert (outcome, got) == ("dead_lettered", root)
        assert value(conn, "select count(*) from job_queue where idempotency_key = 'race'") == 0
        assert history(conn, root)[-1] == ("running", "dead_letter")
