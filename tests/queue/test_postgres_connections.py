"""PostgresBackend's connections under faults: killed backends, busy connections, and a
statement whose backend dies while it runs.

Real: PostgreSQL (this test's database), PostgresBackend and its connections; backends
are killed with pg_terminate_backend, as an operator or a pooler would. Nothing faked.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from shared.api.actions import status_for
from shared.queue.connections import Connections, ConnectionsBusy
from shared.queue.models import Completion, NewJob
from shared.queue.postgres import PostgresBackend

Conn = psycopg.Connection[dict[str, Any]]


def backend_pids(conn: Conn) -> set[int]:
    rows = conn.execute("select pid from pg_stat_activity where datname = current_database() "
                        "and pid <> pg_backend_pid() and backend_type = 'client backend'").fetchall()
    return {row["pid"] for row in rows}


def kill_all(conn: Conn) -> set[int]:
    """Terminate every other backend of this database, waiting until each is gone."""
    pids = backend_pids(conn)
    conn.execute("select pg_terminate_backend(pid, 5000) from unnest(%s::int[]) pid", (list(pids),))
    return pids


def test_killed_idle_connections_are_replaced_before_the_next_statement(db_url: str, conn: Conn) -> None:
    backend = PostgresBackend(db_url, max_size=3)
    pool = backend._pool
    with pool.connection() as a, pool.connection() as b, pool.connection() as c:
        assert len({a.info.backend_pid, b.info.backend_pid, c.info.backend_pid}) == 3  # three idle after
    killed = kill_all(conn)
    assert len(killed) == 3
    # enqueue is not repeated on failure, so this succeeds only if no dead connection is used.
    (job_id,) = backend.jobs_enqueue([NewJob(type="noop")])
    assert conn.execute("select status from job_queue where id = %s", (job_id,)).fetchone() == \
        {"status": "pending"}
    assert backend_pids(conn).isdisjoint(killed)
    backend.close()


def test_all_connections_busy_is_a_clear_503_after_the_wait(db_url: str) -> None:
    pool = Connections(db_url, {"autocommit": True}, max_size=1, wait_seconds=0.2, connect_timeout=2)
    with pool.connection(), pytest.raises(ConnectionsBusy) as raised, pool.connection():
        pass
    assert "all 1 database connections stayed busy for 0.2 s" in raised.value.message
    assert raised.value.hint is not None
    assert "DB_POOL_MAX" in raised.value.hint
    assert status_for(raised.value) == 503
    assert raised.value.to_dict()["error"] == "DatabaseUnavailable"  # the name every backend answers with
    pool.close()


def test_a_connection_broken_mid_statement_is_discarded_not_reused(db_url: str, conn: Conn) -> None:
    pool = Connections(db_url, {"autocommit": True, "row_factory": dict_row}, max_size=1, wait_seconds=1,
                       connect_timeout=2)
    with pool.connection() as first:
        pid = first.info.backend_pid
        conn.execute("select pg_terminate_backend(%s, 5000)", (pid,))
        with pytest.raises(psycopg.OperationalError):
            first.execute("select 1")
    with pool.connection() as second:
        assert second.info.backend_pid != pid
        assert second.execute("select 1 as one").fetchone() == {"one": 1}
    pool.close()


def wait_for_lock_waiter(conn: Conn, query_part: str) -> int:
    """The pid of the backend blocked on a lock running `query_part` (polls; fails after 10 s)."""
    for _ in range(200):
        row = conn.execute("select pid from pg_stat_activity where wait_event_type = 'Lock' and "
                           "datname = current_database() and query like %s", (f"%{query_part}%",)).fetchone()
        if row:
            return int(row["pid"])
        time.sleep(0.05)
    raise AssertionError(f"no backend waited on a lock running {query_part}")


def test_a_settle_whose_backend_dies_mid_statement_is_run_again_on_a_fresh_connection(
        db_url: str, conn: Conn) -> None:
    """complete_jobs is fenced (only a running job locked by this worker completes), so
    running it again after its connection broke cannot complete anything twice."""
    backend = PostgresBackend(db_url, max_size=2)
    backend.jobs_enqueue([NewJob(type="noop")])
    (job,) = backend.jobs_claim("w1", None, 1)
    done: dict[str, Any] = {}
    with psycopg.connect(db_url) as holder:  # holds the job's row lock, so complete_jobs waits
        holder.execute("select 1 from job_queue where id = %s for update", (job.id,))
        thread = threading.Thread(target=lambda: done.update(
            ids=backend.jobs_complete("w1", [Completion(id=job.id, result={"ok": True})])))
        thread.start()
        conn.execute("select pg_terminate_backend(%s, 5000)", (wait_for_lock_waiter(conn, "complete_jobs"),))
        # The retry now waits for the same lock: let it through.
        wait_for_lock_waiter(conn, "complete_jobs")
        holder.rollback()
    thread.join(10)
    assert done["ids"] == {job.id}
    row = conn.execute("select status, result from job_queue where id = %s", (job.id,)).fetchone()
    assert row == {"status": "completed", "result": {"ok": True}}
    backend.close()


def test_a_connection_idle_too_long_is_closed_not_reused(db_url: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    pool = Connections(db_url, {"autocommit": True}, max_size=1, wait_seconds=1, connect_timeout=2)
    with pool.connection() as first:
        pid = first.info.backend_pid
    with pool.connection() as again:
        assert again.info.backend_pid == pid  # reused while fresh
    monkeypatch.setattr("shared.queue.connections.MAX_IDLE_SECONDS", 0.0)
    with pool.connection() as later:
        assert later.info.backend_pid != pid
    pool.close()
