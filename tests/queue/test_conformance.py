"""QueueBackend conformance, part 1: the job lifecycle (enqueue, claim, complete, fail,
release, progress, cancel), run against every backend (see conftest: `postgres` direct,
`supabase` through supabase-py and the PostgREST stand-in).

Real: PostgreSQL with the migrations applied, supabase-py, HTTP on 127.0.0.1.
Faked: PostgREST itself, by the stand-in in tests/support/postgrest.py.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg

from shared.queue import QueueBackend
from shared.queue.models import Completion, FailOutcome, Failure, Job, NewJob, Priority, Release

Conn = psycopg.Connection[dict[str, Any]]


def enqueue(backend: QueueBackend, count: int = 1, **fields: Any) -> list[UUID]:
    return backend.jobs_enqueue([NewJob(type="noop", payload={"n": i}, **fields) for i in range(count)])


def row(conn: Conn, job_id: UUID) -> dict[str, Any]:
    found = conn.execute("select * from job_queue where id = %s", (job_id,)).fetchone()
    assert found is not None, f"job {job_id} not in job_queue"
    return found


def claim_one(backend: QueueBackend, worker: str = "w1") -> Job:
    jobs = backend.jobs_claim(worker, None, 1)
    assert len(jobs) == 1
    return jobs[0]


def test_enqueue_one_job_returns_its_id_and_the_job_is_pending(backend: QueueBackend, conn: Conn) -> None:
    [job_id] = backend.jobs_enqueue([NewJob(type="email", payload={"to": "a@example.com"},
                                            priority=Priority.high, max_attempts=7)])
    stored = row(conn, job_id)
    assert (stored["type"], stored["status"], stored["priority"]) == ("email", "pending", "high")
    assert (stored["payload"], stored["max_attempts"], stored["attempts"]) == ({"to": "a@example.com"}, 7, 0)


def test_bulk_enqueue_returns_ids_in_input_order(backend: QueueBackend, conn: Conn) -> None:
    ids = enqueue(backend, 5)
    assert len(set(ids)) == 5
    assert [row(conn, job_id)["payload"]["n"] for job_id in ids] == [0, 1, 2, 3, 4]


def test_bulk_enqueue_of_more_than_a_thousand_jobs_returns_every_id(backend: QueueBackend,
                                                                     conn: Conn) -> None:
    # PostgREST truncates results at 1000 rows; the supabase path must not lose ids to that.
    ids = enqueue(backend, 1001)
    assert len(ids) == len(set(ids)) == 1001
    assert row(conn, ids[-1])["payload"] == {"n": 1000}
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 1001}


def test_enqueue_with_a_known_idempotency_key_returns_the_existing_id(backend: QueueBackend,
                                                                      conn: Conn) -> None:
    first = backend.jobs_enqueue([NewJob(type="noop", idempotency_key="order-1")])
    again = backend.jobs_enqueue([NewJob(type="noop", idempotency_key="order-1"),
                                  NewJob(type="noop", idempotency_key="order-2")])
    assert again[0] == first[0]
    assert again[1] != first[0]
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 2}


def test_enqueue_of_nothing_returns_nothing(backend: QueueBackend) -> None:
    assert backend.jobs_enqueue([]) == []


def test_claim_returns_running_jobs_locked_by_the_worker(backend: QueueBackend, conn: Conn) -> None:
    ids = enqueue(backend, 3)
    jobs = backend.jobs_claim("worker-a", None, 2)
    assert [job.id for job in jobs] == ids[:2]
    for job in jobs:
        assert (job.type, job.attempts, job.max_attempts) == ("noop", 1, 3)
        assert job.locked_until is not None
        assert job.started_at is not None
        assert job.locked_until > job.started_at
    rows = conn.execute("select status::text, locked_by, claimed_by from job_queue where id = any(%s)",
                        (ids[:2],)).fetchall()
    assert [(r["status"], r["locked_by"], r["claimed_by"]) for r in rows] == [
        ("running", "worker-a", "worker-a")] * 2
    assert [job.id for job in backend.jobs_claim("worker-b", None, 10)] == ids[2:]


def test_claim_only_takes_the_requested_types_and_lock_length(backend: QueueBackend, conn: Conn) -> None:
    [noop_id] = enqueue(backend)
    [email_id] = backend.jobs_enqueue([NewJob(type="email", payload={})])
    [job] = backend.jobs_claim("w1", ["email"], 10, lock_seconds=5)
    assert job.id == email_id
    assert job.lock_seconds == 5
    assert row(conn, noop_id)["status"] == "pending"


def test_a_claimed_job_carries_what_its_processor_needs_and_the_row_keeps_the_rest(
        backend: QueueBackend, conn: Conn) -> None:
    owner = uuid4()
    [job_id] = backend.jobs_enqueue([NewJob(type="noop", payload={"x": {"y": [1]}}, max_attempts=4,
                                            priority=Priority.critical, idempotency_key="k",
                                            rate_limit_key="r", owner_id=owner)])
    job = claim_one(backend)
    assert (job.id, job.type, job.payload, job.max_attempts, job.owner_id) == (
        job_id, "noop", {"x": {"y": [1]}}, 4, owner)
    assert (job.attempts, job.progress, job.result) == (1, 0, None)
    assert job.started_at is not None
    assert job.lock_seconds == 30
    row = conn.execute("select priority::text, idempotency_key, rate_limit_key, finished_at, errors "
                       "from job_queue where id = %s", (job_id,)).fetchone()
    assert row == {"priority": "critical", "idempotency_key": "k", "rate_limit_key": "r", "finished_at": None,
                   "errors": []}


def test_claim_with_nothing_ready_returns_an_empty_list(backend: QueueBackend) -> None:
    enqueue(backend, 1, run_at="2999-01-01T00:00:00Z")
    assert backend.jobs_claim("w1", None, 10) == []


def test_complete_stores_the_result_and_skips_jobs_the_worker_does_not_hold(
        backend: QueueBackend, conn: Conn) -> None:
    enqueue(backend, 2)
    mine, theirs = claim_one(backend, "w1"), claim_one(backend, "w2")
    done = backend.jobs_complete("w1", [Completion(id=mine.id, result={"sent": True}),
                                        Completion(id=theirs.id, result=None)])
    assert done == {mine.id}
    assert (row(conn, mine.id)["status"], row(conn, mine.id)["result"]) == ("completed", {"sent": True})
    assert row(conn, theirs.id)["status"] == "running"
    assert backend.jobs_complete("w1", []) == set()


def test_fail_retries_then_dead_letters_and_reports_lost_leases(backend: QueueBackend, conn: Conn) -> None:
    enqueue(backend, 3, max_attempts=1)
    conn.execute("update job_queue set max_attempts = 2 where payload->>'n' = '0'")
    retried, last, stolen = (claim_one(backend) for _ in range(3))
    outcomes = backend.jobs_fail("w1", [Failure(id=retried.id, error="boom"),
                                        Failure(id=last.id, error="boom again")])
    outcomes |= backend.jobs_fail("someone-else", [Failure(id=stolen.id, error="late")])
    assert outcomes == {retried.id: FailOutcome.retried, last.id: FailOutcome.dead_lettered,
                        stolen.id: FailOutcome.lease_lost}
    assert (row(conn, retried.id)["status"], row(conn, retried.id)["last_error"]) == ("pending", "boom")
    assert row(conn, stolen.id)["status"] == "running"
    assert backend.jobs_fail("w1", []) == {}


def test_a_permanent_failure_dead_letters_at_once(backend: QueueBackend, conn: Conn) -> None:
    enqueue(backend, 1, max_attempts=5)
    job = claim_one(backend)
    assert backend.jobs_fail("w1", [Failure(id=job.id, error="bad address", retryable=False)]) == {
        job.id: FailOutcome.dead_lettered}
    letters = conn.execute("select count(*) as n from job_dead_letter where job_id = %s", (job.id,))
    assert letters.fetchone() == {"n": 1}


def test_release_returns_jobs_to_pending_without_counting_the_attempt(backend: QueueBackend,
                                                                       conn: Conn) -> None:
    enqueue(backend, 2)
    held, other = claim_one(backend, "w1"), claim_one(backend, "w2")
    released = backend.jobs_release("w1", [Release(id=held.id), Release(id=other.id)])
    assert released == {held.id}
    assert (row(conn, held.id)["status"], row(conn, held.id)["attempts"]) == ("pending", 0)
    assert backend.jobs_release("w1", []) == set()


def test_release_unstarted_gives_back_what_the_worker_holds_except_what_it_started(
        backend: QueueBackend, conn: Conn) -> None:
    enqueue(backend, 3)
    started, unstarted, other = claim_one(backend, "w1"), claim_one(backend, "w1"), claim_one(backend, "w2")
    assert backend.jobs_release_unstarted("w1", [started.id], "not started: lost") == {unstarted.id}
    assert (row(conn, unstarted.id)["status"], row(conn, unstarted.id)["attempts"]) == ("pending", 0)
    assert row(conn, started.id)["status"] == row(conn, other.id)["status"] == "running"
    assert backend.jobs_release_unstarted("w1", [], "again") == {started.id}


def test_progress_is_stored_for_the_holder_and_refused_to_others(backend: QueueBackend, conn: Conn) -> None:
    enqueue(backend)
    job = claim_one(backend)
    assert backend.job_progress(job.id, 40, "rendering", "w1") is True
    assert backend.job_progress(job.id, 90, "stolen", "w2") is False
    stored = row(conn, job.id)
    assert (stored["progress"], stored["progress_message"]) == (40, "rendering")


def test_cancel_cancels_a_pending_job_once(backend: QueueBackend, conn: Conn) -> None:
    [job_id, untouched] = enqueue(backend, 2)
    assert backend.job_cancel(job_id) is True
    assert backend.job_cancel(job_id) is False
    assert (row(conn, job_id)["status"], row(conn, untouched)["status"]) == ("cancelled", "pending")


def test_a_cancelled_running_job_is_a_lost_lease_for_its_worker(backend: QueueBackend) -> None:
    enqueue(backend)
    job = claim_one(backend)
    assert backend.job_cancel(job.id) is True
    assert backend.jobs_complete("w1", [Completion(id=job.id)]) == set()
