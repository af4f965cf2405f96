"""console_job (20260106000220): one job with its history, its dependencies both ways and
its dead letter; a dead-lettered job (deleted from job_queue) answered from the letter.

Real: PostgreSQL, jobs made through the SQL API (enqueue, claim, fail, cancel). Faked: nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.sql.factories import Conn, enqueue, fingerprint, make_job, sqlstate_of


def detail(conn: Conn, job_id: UUID | None) -> dict[str, Any]:
    row = conn.execute("select console_job(%s) as job", (job_id,)).fetchone()
    assert row is not None
    result: dict[str, Any] = row["job"]
    return result


def test_a_completed_job_has_every_column_and_its_history_oldest_first(conn: Conn) -> None:
    job_id = make_job(conn, "completed", payload={"n": 1})
    answer = detail(conn, job_id)
    job = answer["job"]
    columns = {r["column_name"] for r in conn.execute(
        "select column_name from information_schema.columns where table_name = 'job_queue'")}
    assert set(job) == columns
    assert (job["status"], job["payload"], job["result"], job["progress"]) == (
        "completed", {"n": 1}, {"ok": True}, 100)
    assert [(h["from_status"], h["to_status"]) for h in answer["history"]] == [
        (None, "pending"), ("pending", "running"), ("running", "completed")]
    assert answer["history"][1]["worker_id"] == "w1"
    assert answer["history_total"] == 3
    assert (answer["depends_on"], answer["dependents"], answer["dead_letter"]) == ([], [], None)


def test_a_retried_job_shows_each_attempt_and_its_errors(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w1")
    conn.execute("select fail_job(%s, 'timeout talking to Resend', true, 0, 'w1')", (job_id,))
    answer = detail(conn, job_id)
    assert answer["job"]["errors"][0]["error"] == "timeout talking to Resend"
    assert answer["job"]["last_error"] == "timeout talking to Resend"
    assert [h["to_status"] for h in answer["history"]] == ["pending", "running", "pending"]


def test_a_dead_lettered_job_is_answered_from_its_dead_letter_and_history(conn: Conn) -> None:
    job_id = make_job(conn, "dead", payload={"k": "v"})
    assert conn.execute("select 1 from job_queue where id = %s", (job_id,)).fetchone() is None
    answer = detail(conn, job_id)
    job, letter = answer["job"], answer["dead_letter"]
    assert (job["id"], job["status"], job["payload"], job["last_error"]) == (
        str(job_id), "dead_letter", {"k": "v"}, "boom")
    assert job["errors"][0]["error"] == "boom"
    assert (job["result"], job["run_at"]) == (None, None), "what the letter does not keep is null"
    assert letter["job_id"] == str(job_id)
    assert letter["replayed_job_id"] is None
    assert job["finished_at"] == letter["failed_at"]
    assert [h["to_status"] for h in answer["history"]] == ["pending", "running", "dead_letter"]


def test_dependencies_both_ways_with_their_current_status(conn: Conn) -> None:
    done = make_job(conn, "completed")
    waiting_on = enqueue(conn)
    job_id = enqueue(conn, depends_on=[done, waiting_on])
    child = enqueue(conn, depends_on=[job_id])
    grandchild = enqueue(conn, depends_on=[child])
    answer = detail(conn, job_id)
    assert answer["depends_on"] == [{"id": str(done), "type": "noop", "status": "completed"},
                                    {"id": str(waiting_on), "type": "noop", "status": "pending"}]
    assert answer["dependents"] == [{"id": str(child), "type": "noop", "status": "pending"}]
    assert detail(conn, child)["dependents"] == [{"id": str(grandchild), "type": "noop", "status": "pending"}]
    assert detail(conn, done)["dependents"] == [{"id": str(job_id), "type": "noop", "status": "pending"}]


def test_a_dependency_that_was_dead_lettered_or_purged_says_so(conn: Conn) -> None:
    parent = make_job(conn, "running")
    gone = make_job(conn)
    job_id = enqueue(conn, depends_on=[parent, gone])
    conn.execute("delete from job_queue where id = %s", (gone,))
    conn.execute("select fail_job(%s, 'boom', false, null, 'w1')", (parent,))
    answer = detail(conn, job_id)
    assert answer["depends_on"] == [{"id": str(parent), "type": "noop", "status": "dead_letter"},
                                    {"id": str(gone), "type": None, "status": "missing"}]
    assert answer["job"]["status"] == "cancelled", "dead-lettering cancels the dependents"
    assert detail(conn, parent)["dependents"] == [{"id": str(job_id), "type": "noop", "status": "cancelled"}]


def test_history_keeps_the_newest_1000_rows_oldest_first(conn: Conn) -> None:
    job_id = make_job(conn)
    conn.execute("""insert into job_status_events (job_id, from_status, to_status, note, at)
                    select %s, 'pending', 'pending', 'n' || n, now() + make_interval(secs => n)
                      from generate_series(1, 1200) n""", (job_id,))
    answer = detail(conn, job_id)
    assert answer["history_total"] == 1201
    notes = [h["note"] for h in answer["history"]]
    assert len(notes) == 1000
    assert notes[0] == "n201"
    assert notes[-1] == "n1200"


def test_an_unknown_id_is_PT404_and_a_null_id_22QS4(conn: Conn) -> None:
    make_job(conn)
    before = fingerprint(conn)
    missing = uuid4()
    error = sqlstate_of(lambda: detail(conn, missing))
    assert error.sqlstate == "PT404"
    assert f"no job with id {missing}" in str(error)
    assert sqlstate_of(lambda: detail(conn, None)).sqlstate == "22QS4"
    assert fingerprint(conn) == before


@pytest.mark.parametrize("role", ["anon", "authenticated"])
def test_only_the_service_role_may_read_a_job(conn: Conn, role: str) -> None:
    job_id = make_job(conn)
    conn.execute(f"set role {role}")
    error = sqlstate_of(lambda: detail(conn, job_id))
    assert error.sqlstate == "42501"
    conn.execute("reset role")
    conn.execute("set role service_role")
    assert detail(conn, job_id)["job"]["id"] == str(job_id)
