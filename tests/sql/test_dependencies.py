"""depends_on: a job waits for every dependency, and is cancelled (transitively, with the
reason) when a dependency is dead-lettered or cancelled, so nothing waits forever.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from uuid import UUID

import psycopg

from tests.sql.factories import (
    Conn,
    assert_history_matches_states,
    claim,
    connect,
    enqueue,
    job,
    make_job,
    sqlstate_of,
    value,
)


def _finish(conn: Conn, job_id: UUID) -> None:
    assert value(conn, "select complete_job(%s)", (job_id,))


def test_a_job_is_not_claimed_until_every_dependency_completed(conn: Conn) -> None:
    a, b = make_job(conn, "running"), make_job(conn, "running")
    child = enqueue(conn, depends_on=[a, b], priority="critical")
    assert claim(conn, batch=10) == []
    _finish(conn, a)
    assert claim(conn, batch=10) == []
    _finish(conn, b)
    assert [row["id"] for row in claim(conn, batch=10)] == [child]


def test_a_job_whose_dependencies_already_completed_is_ready_at_once(conn: Conn) -> None:
    done = make_job(conn, "completed")
    child = enqueue(conn, depends_on=[done])
    assert [row["id"] for row in claim(conn)] == [child]


def test_a_waiting_job_does_not_block_ready_jobs_behind_it(conn: Conn) -> None:
    blocker = make_job(conn, "running")
    enqueue(conn, depends_on=[blocker], priority="critical")
    ready = enqueue(conn, priority="low")
    assert [row["id"] for row in claim(conn, batch=10)] == [ready]


def test_dead_lettering_a_dependency_cancels_its_dependents_transitively_with_the_reason(conn: Conn) -> None:
    root = make_job(conn, "running")
    child = enqueue(conn, depends_on=[root])
    grandchild = enqueue(conn, depends_on=[child])
    bystander = enqueue(conn)
    assert value(conn, "select fail_job(%s, 'fatal', false)", (root,)) == "dead_lettered"
    assert job(conn, child)["status"] == "cancelled"
    assert job(conn, child)["last_error"] == f"dependency {root} was moved to the dead letter"
    assert job(conn, grandchild)["status"] == "cancelled"
    assert str(root) in job(conn, grandchild)["last_error"]
    assert str(child) in job(conn, grandchild)["last_error"]
    assert job(conn, bystander)["status"] == "pending"
    assert job(conn, child)["finished_at"] is not None
    assert_history_matches_states(conn)


def test_cancelling_a_dependency_cancels_its_dependents_with_the_reason(conn: Conn) -> None:
    root = enqueue(conn, run_at=value(conn, "select now() + interval '1 hour'"))
    child = enqueue(conn, depends_on=[root])
    grandchild = enqueue(conn, depends_on=[child, make_job(conn, "completed")])
    assert value(conn, "select cancel_job(%s)", (root,)) is True
    assert job(conn, child)["last_error"] == f"dependency {root} was cancelled"
    assert job(conn, grandchild)["status"] == "cancelled"
    assert_history_matches_states(conn)


def test_a_retried_dependency_does_not_cancel_its_dependents(conn: Conn) -> None:
    root = make_job(conn, "running")
    child = enqueue(conn, depends_on=[root])
    assert value(conn, "select fail_job(%s, 'flaky')", (root,)) == "retried"
    assert job(conn, child)["status"] == "pending"


def test_a_dependency_dead_lettered_by_the_stuck_job_sweep_cancels_its_dependents(conn: Conn) -> None:
    root = make_job(conn, "running", max_attempts=1)
    child = enqueue(conn, depends_on=[root])
    assert value(conn, "select cleanup_stuck_jobs(now() + interval '1 day')") == 1
    assert job(conn, child)["status"] == "cancelled"
    assert_history_matches_states(conn)


def _wait_until_blocked(conn: Conn, pid: int) -> None:
    """Bounded wait until backend `pid` waits on a lock."""
    for _ in range(200):
        if value(
            conn, "select count(*) from pg_stat_activity where pid = %s and wait_event_type = 'Lock'", (pid,)
        ):
            return
        time.sleep(0.025)
    raise AssertionError(f"backend {pid} never blocked")


def test_a_dependency_dead_lettered_while_a_dependent_is_enqueued_still_cancels_it(
    conn: Conn, db_url: str
) -> None:
    root = make_job(conn, "running")
    with psycopg.connect(db_url) as enqueuer, connect(db_url) as failer, ThreadPoolExecutor(1) as pool:
        child = enqueuer.execute("select enqueue_job('noop', p_depends_on => array[%s])", (root,)).fetchone()
        assert child is not None
        outcome = pool.submit(lambda: value(failer, "select fail_job(%s, 'fatal', false)", (root,)))
        _wait_until_blocked(conn, failer.info.backend_pid)
        enqueuer.commit()
        assert outcome.result(timeout=30) == "dead_lettered"
    assert job(conn, child[0])["status"] == "cancelled"


def test_enqueueing_behind_a_dependency_being_dead_lettered_is_refused(conn: Conn, db_url: str) -> None:
    root = make_job(conn, "running")
    with psycopg.connect(db_url) as failer, connect(db_url) as enqueuer, ThreadPoolExecutor(1) as pool:
        failer.execute("select fail_job(%s, 'fatal', false)", (root,))
        attempt = pool.submit(lambda: sqlstate_of(lambda: enqueue(enqueuer, depends_on=[root])))
        _wait_until_blocked(conn, enqueuer.info.backend_pid)
        failer.commit()
        assert attempt.result(timeout=30).sqlstate == "22QD1"
    assert value(conn, "select count(*) from job_queue") == 0


def test_a_dependency_cancelled_while_a_dependent_is_enqueued_still_cancels_it(
    conn: Conn, db_url: str
) -> None:
    root = make_job(conn, "pending")
    with psycopg.connect(db_url) as enqueuer, connect(db_url) as canceller, ThreadPoolExecutor(1) as pool:
        child = enqueuer.execute("select enqueue_job('noop', p_depends_on => array[%s])", (root,)).fetchone()
        assert child is not None
        cancelled = pool.submit(lambda: value(canceller, "select cancel_job(%s)", (root,)))
        _wait_until_blocked(conn, canceller.info.backend_pid)
        enqueuer.commit()
        assert cancelled.result(timeout=30) is True
    assert job(conn, child[0])["status"] == "cancelled"
