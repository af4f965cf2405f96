"""depends_on: a job waits for every dependency, and is cancelled (transitively, with the
reason) when a dependency is dead-lettered or cancelled, so nothing waits forever.

Real: PostgreSQL; the race tests hold a real transaction open on one connection while
another waits on its row locks. Faked: nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar
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

T = TypeVar("T")


def _finish(conn: Conn, job_id: UUID) -> None:
    assert value(conn, "select complete_job(%s, null, 'w1')", (job_id,))


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
    assert value(conn, "select fail_job(%s, 'fatal', false, null, 'w1')", (root,)) == "dead_lettered"
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
    assert value(conn, "select fail_job(%s, 'flaky', true, null, 'w1')", (root,)) == "retried"
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


def _commit_after_blocking(
    conn: Conn, db_url: str, first: str, root: UUID, second: Callable[[Conn], T]
) -> tuple[Any, T]:
    """Run `first` (taking `root`) in an open transaction, start `second` on another connection,
    wait until it blocks on the first's locks, then commit: (first's value, second's result)."""
    with psycopg.connect(db_url) as opener, connect(db_url) as waiter, ThreadPoolExecutor(1) as pool:
        row = opener.execute(first, (root,)).fetchone()
        later = pool.submit(second, waiter)
        _wait_until_blocked(conn, waiter.info.backend_pid)
        opener.commit()
        return (row[0] if row else None), later.result(timeout=30)


ENQUEUE_CHILD = "select enqueue_job('noop', p_depends_on => array[%s])"


def test_a_dependency_dead_lettered_while_a_dependent_is_enqueued_still_cancels_it(
    conn: Conn, db_url: str
) -> None:
    root = make_job(conn, "running")
    child, outcome = _commit_after_blocking(
        conn,
        db_url,
        ENQUEUE_CHILD,
        root,
        lambda c: value(c, "select fail_job(%s, 'fatal', false, null, 'w1')", (root,)),
    )
    assert outcome == "dead_lettered"
    assert job(conn, child)["status"] == "cancelled"


def test_enqueueing_behind_a_dependency_being_dead_lettered_is_refused(conn: Conn, db_url: str) -> None:
    root = make_job(conn, "running")
    _, error = _commit_after_blocking(
        conn,
        db_url,
        "select fail_job(%s, 'fatal', false, null, 'w1')",
        root,
        lambda c: sqlstate_of(lambda: enqueue(c, depends_on=[root])),
    )
    assert error.sqlstate == "22QD1"
    assert value(conn, "select count(*) from job_queue") == 0


def test_a_dependency_cancelled_while_a_dependent_is_enqueued_still_cancels_it(
    conn: Conn, db_url: str
) -> None:
    root = make_job(conn, "pending")
    child, cancelled = _commit_after_blocking(
        conn, db_url, ENQUEUE_CHILD, root, lambda c: value(c, "select cancel_job(%s)", (root,))
    )
    assert cancelled is True
    assert job(conn, child)["status"] == "cancelled"
