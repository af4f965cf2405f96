"""console_cancel_job (20260106000230) and console_retry_job (20260106000240): what each
state allows, the PT404/PT409 refusals (changing nothing), the audit rows, the wake-up
notify, and a cancel racing a claim.

Real: PostgreSQL, the SQL API, LISTEN on a second connection, claims and cancels on
separate connections in threads. Faked: nothing.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from tests.sql.factories import (
    Conn,
    assert_history_matches_states,
    claim,
    connect,
    enqueue,
    fingerprint,
    job,
    make_job,
    sqlstate_of,
    value,
)


def call(conn: Conn, function: str, job_id: UUID | None, actor: str = "admin") -> dict[str, Any]:
    row = conn.execute(f"select {function}(%s, %s) as r", (job_id, actor)).fetchone()
    assert row is not None
    result: dict[str, Any] = row["r"]
    return result


def audit(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute(
        "select actor, action, target, affected, detail from console_actions order by id").fetchall()


def later(conn: Conn, interval: str = "1 hour") -> Any:
    return value(conn, f"select now() + interval '{interval}'")


@pytest.fixture
def listener(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("listen queue_worker_jobs")
        yield conn


# --- cancel ---------------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["pending", "running"])
def test_cancel_cancels_the_job_and_its_dependents_and_records_it(conn: Conn, state: str) -> None:
    target = make_job(conn, state)
    child = enqueue(conn, depends_on=[target])
    grandchild = enqueue(conn, depends_on=[child])
    bystander = make_job(conn)
    answer = call(conn, "console_cancel_job", target)
    assert answer["cancelled"] is True
    assert answer["id"] == str(target)
    assert (answer["from_status"], answer["dependents_cancelled"]) == (state, 2)
    assert [job(conn, j)["status"] for j in (target, child, grandchild, bystander)] == [
        "cancelled", "cancelled", "cancelled", "pending"]
    assert audit(conn) == [{"actor": "admin", "action": "job.cancel", "target": {"id": str(target)},
                            "affected": 3,
                            "detail": {"from_status": state, "type": "noop", "dependents_cancelled": 2}}]
    assert answer["action_id"] == value(conn, "select max(id) from console_actions")
    assert_history_matches_states(conn)


def test_a_cancelled_running_job_can_no_longer_be_completed_by_its_worker(conn: Conn) -> None:
    target = make_job(conn, "running", worker="w7")
    call(conn, "console_cancel_job", target, "cli")
    assert value(conn, "select complete_job(%s, null, 'w7')", (target,)) is False
    assert job(conn, target)["status"] == "cancelled"


@pytest.mark.parametrize("state", ["completed", "cancelled"])
def test_cancel_of_a_finished_job_is_PT409_saying_its_status(conn: Conn, state: str) -> None:
    target = make_job(conn, state)
    before = fingerprint(conn)
    error = sqlstate_of(lambda: call(conn, "console_cancel_job", target))
    assert error.sqlstate == "PT409"
    assert f"job {target} is {state}" in str(error)
    assert "only pending or running" in str(error)
    assert fingerprint(conn) == before
    assert audit(conn) == []


def test_cancel_of_a_dead_lettered_job_is_PT409_naming_its_dead_letter(conn: Conn) -> None:
    target = make_job(conn, "dead")
    letter = value(conn, "select id from job_dead_letter where job_id = %s", (target,))
    before = fingerprint(conn)
    error = sqlstate_of(lambda: call(conn, "console_cancel_job", target))
    assert error.sqlstate == "PT409"
    assert "was dead-lettered" in str(error)
    assert str(letter) in (error.diag.message_hint or "")
    assert fingerprint(conn) == before


def test_cancel_of_an_unknown_job_is_PT404_and_of_null_22QS4(conn: Conn) -> None:
    make_job(conn)
    before = fingerprint(conn)
    assert sqlstate_of(lambda: call(conn, "console_cancel_job", uuid4())).sqlstate == "PT404"
    assert sqlstate_of(lambda: call(conn, "console_cancel_job", None)).sqlstate == "22QS4"
    assert fingerprint(conn) == before
    assert audit(conn) == []


def test_a_cancel_racing_a_claim_ends_consistent(db_url: str, conn: Conn) -> None:
    """Each job is either cancelled before any claim (never runs) or claimed and then
    cancelled (its worker's completion changes nothing): all end cancelled, each once."""
    targets = [enqueue(conn, priority="critical") for _ in range(60)]
    start = threading.Barrier(2)
    claimed: list[UUID] = []
    answers: list[dict[str, Any]] = []

    def claimer() -> None:
        with connect(db_url) as c:
            start.wait()
            for _ in range(30):
                claimed.extend(row["id"] for row in claim(c, "racer", batch=2))

    def canceller() -> None:
        with connect(db_url) as c:
            start.wait()
            answers.extend(call(c, "console_cancel_job", t) for t in targets)

    threads = [threading.Thread(target=claimer), threading.Thread(target=canceller)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a["cancelled"] for a in answers)
    assert len(answers) == len(targets)
    assert {job(conn, t)["status"] for t in targets} == {"cancelled"}
    from_running = {UUID(a["id"]) for a in answers if a["from_status"] == "running"}
    assert from_running <= set(claimed), "only a claimed job was cancelled while running"
    assert not (set(targets) - from_running) & set(claimed), "a job cancelled while pending was claimed"
    assert len(claimed) == len(set(claimed)), "a job was claimed twice"
    for job_id in claimed:
        assert value(conn, "select complete_job(%s, null, 'racer')", (job_id,)) is False
    assert value(conn, "select count(*) from console_actions where action = 'job.cancel'") == len(targets)
    assert_history_matches_states(conn)


# --- retry ----------------------------------------------------------------------------------

def test_retry_runs_a_scheduled_job_now_wakes_a_worker_and_records_it(
        conn: Conn, listener: psycopg.Connection[Any]) -> None:
    target = enqueue(conn, "email", payload={"to": "a@example.com", "template": "welcome"},
                     run_at=later(conn))
    list(listener.notifies(timeout=0.1))  # the enqueue was not due: nothing, but drain anyway
    answer = call(conn, "console_retry_job", target)
    row = job(conn, target)
    assert row["run_at"] <= value(conn, "select clock_timestamp()")
    assert answer["id"] == str(target)
    assert answer["was_run_at"] is not None
    assert [json.loads(n.payload) for n in listener.notifies(timeout=0.5)] == [{"types": ["email"]}]
    assert claim(conn, "w", types=["email"])[0]["id"] == target
    assert audit(conn)[0]["action"] == "job.retry"
    assert audit(conn)[0]["detail"]["kind"] == "run_now"
    assert value(conn, "select count(*) from job_kicks") == 1, "kicked like an enqueue"


def test_retry_cuts_a_backoff_short(conn: Conn) -> None:
    target = make_job(conn, "running", worker="w1")
    conn.execute("select fail_job(%s, 'rate limited', true, 3600, 'w1')", (target,))
    assert call(conn, "console_retry_job", target, "cli")["id"] == str(target)
    assert claim(conn, "w2")[0]["id"] == target
    assert audit(conn)[0]["actor"] == "cli"
    assert audit(conn)[0]["detail"]["attempts"] == 1


def test_retry_replays_a_dead_lettered_job_once(conn: Conn) -> None:
    target = make_job(conn, "dead", payload={"x": 1})
    letter = value(conn, "select id from job_dead_letter where job_id = %s", (target,))
    answer = call(conn, "console_retry_job", target)
    new = UUID(answer["id"])
    assert new != target
    assert answer["dead_letter_id"] == str(letter)
    replay = job(conn, new)
    assert (replay["status"], replay["payload"], replay["attempts"]) == ("pending", {"x": 1}, 0)
    assert audit(conn)[0]["detail"]["kind"] == "replay"
    assert audit(conn)[0]["target"] == {"id": str(target)}
    before = fingerprint(conn)
    error = sqlstate_of(lambda: call(conn, "console_retry_job", target))
    assert error.sqlstate == "PT409"
    assert f"already replayed as job {new}" in str(error)
    assert fingerprint(conn) == before
    assert len(audit(conn)) == 1


@pytest.mark.parametrize(("state", "says"), [
    ("running", "attempt 1 runs under worker w1"), ("completed", "it finished at"),
    ("cancelled", "it finished at")])
def test_retry_of_a_running_or_finished_job_is_PT409_saying_why(conn: Conn, state: str, says: str) -> None:
    target = make_job(conn, state)
    before = fingerprint(conn)
    error = sqlstate_of(lambda: call(conn, "console_retry_job", target))
    assert error.sqlstate == "PT409"
    assert f"job {target} is {state}" in str(error)
    assert says in str(error)
    assert fingerprint(conn) == before
    assert audit(conn) == []


def test_retry_of_a_due_job_is_PT409_saying_what_it_waits_for(conn: Conn) -> None:
    parent = make_job(conn)
    child = enqueue(conn, depends_on=[parent])
    waiting = sqlstate_of(lambda: call(conn, "console_retry_job", child))
    assert "waits for 1 of its dependencies" in str(waiting)
    conn.execute("update job_types set enabled = false where name = 'noop'")
    error = sqlstate_of(lambda: call(conn, "console_retry_job", parent))
    assert error.sqlstate == "PT409"
    assert "its type noop is paused" in str(error)
    assert audit(conn) == []


def test_retry_of_an_unknown_job_is_PT404_and_of_null_22QS4(conn: Conn) -> None:
    before = fingerprint(conn)
    missing = uuid4()
    error = sqlstate_of(lambda: call(conn, "console_retry_job", missing))
    assert error.sqlstate == "PT404"
    assert str(missing) in str(error)
    assert sqlstate_of(lambda: call(conn, "console_retry_job", None)).sqlstate == "22QS4"
    assert fingerprint(conn) == before


@pytest.mark.parametrize("function", ["console_cancel_job", "console_retry_job"])
def test_only_the_service_role_may_cancel_or_retry(conn: Conn, function: str) -> None:
    target = make_job(conn)
    for role in ("anon", "authenticated"):
        conn.execute(f"set role {role}")
        assert sqlstate_of(lambda: call(conn, function, target)).sqlstate == "42501"
        conn.execute("reset role")
    assert job(conn, target)["status"] == "pending"
