"""Factories and checks for the SQL tests: jobs in any state, made through the SQL API.

Everything here talks to a real PostgreSQL through the public SQL functions, so a
factory-made job went through the same state changes (and history rows) as a real one.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Conn = psycopg.Connection[dict[str, Any]]
T = TypeVar("T")

# Factory jobs that must be claimed next get an ever earlier run_at, so the newest
# one is always first in claim order whatever else is pending.
_earlier = itertools.count(1)

WATCHED_TABLES = (
    "job_queue",
    "job_dead_letter",
    "job_status_events",
    "job_schedules",
    "job_rate_limits",
    "job_types",
    "worker_runs",
)


def value(conn: Conn, query: str, params: Any = ()) -> Any:
    """The first column of the first row of `query`."""
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return next(iter(row.values()))


def enqueue(conn: Conn, job_type: str = "noop", **args: Any) -> UUID:
    """enqueue_job with named arguments (`payload=...` becomes `p_payload => ...`)."""
    names = ["p_type"] + [f"p_{name}" for name in args]
    params: list[Any] = [job_type] + [Jsonb(v) if isinstance(v, dict) else v for v in args.values()]
    placeholders = ", ".join(f"{name} => %s" for name in names)
    job_id: UUID = value(conn, f"select enqueue_job({placeholders})", params)
    return job_id


def claim(
    conn: Conn,
    worker: str = "w1",
    batch: int = 1,
    types: list[str] | None = None,
    lock_seconds: int | None = None,
) -> list[dict[str, Any]]:
    """get_next_job: the claimed rows."""
    return conn.execute(
        "select * from get_next_job(%s, %s, %s, %s)", (worker, types, batch, lock_seconds)
    ).fetchall()


def claim_next_made(conn: Conn, job_type: str, worker: str, **args: Any) -> UUID:
    """Enqueue a job that is first in claim order and claim it: a running job."""
    args.setdefault("priority", "critical")
    args.setdefault(
        "run_at",
        value(conn, "select timestamptz '2000-01-01' - make_interval(secs => %s)", (next(_earlier),)),
    )
    job_id = enqueue(conn, job_type, **args)
    claimed = claim(conn, worker, types=[job_type])
    assert [row["id"] for row in claimed] == [job_id], "the factory job was not the one claimed"
    return job_id


def make_job(
    conn: Conn, state: str = "pending", job_type: str = "noop", worker: str = "w1", **args: Any
) -> UUID:
    """A job in `state`: pending, running, completed, cancelled, or dead (its job_id).

    Non-pending jobs are enqueued as critical with a run_at in 2000 so they are claimed
    ahead of anything the test made itself.
    """
    if state == "pending":
        return enqueue(conn, job_type, **args)
    if state == "cancelled":
        job_id = enqueue(conn, job_type, **args)
        assert value(conn, "select cancel_job(%s)", (job_id,)) is True
        return job_id
    job_id = claim_next_made(conn, job_type, worker, **args)
    if state == "completed":
        assert value(conn, "select complete_job(%s, %s, %s)", (job_id, Jsonb({"ok": True}), worker))
    elif state == "dead":
        assert (
            value(conn, "select fail_job(%s, 'boom', false, null, %s)", (job_id, worker)) == "dead_lettered"
        )
    else:
        assert state == "running", f"unknown state {state}"
    return job_id


def job(conn: Conn, job_id: UUID) -> dict[str, Any]:
    """The job_queue row of `job_id`."""
    row = conn.execute("select * from job_queue where id = %s", (job_id,)).fetchone()
    assert row is not None, f"job {job_id} is not in job_queue"
    return row


def history(conn: Conn, job_id: UUID) -> list[tuple[str | None, str]]:
    """(from_status, to_status) of every history row of `job_id`, oldest first."""
    rows = conn.execute(
        "select from_status, to_status from job_status_history where job_id = %s order by id nulls last, at",
        (job_id,),
    ).fetchall()
    return [(row["from_status"], row["to_status"]) for row in rows]


def fingerprint(conn: Conn) -> dict[str, str]:
    """A digest of every watched table's full content: equal before and after = nothing written."""
    out = {}
    for table in WATCHED_TABLES:
        out[table] = value(
            conn,
            f"select count(*)::text || ':' || coalesce(md5(string_agg(t::text, '|' "
            f"order by t::text)), '') from public.{table} t",
        )
    return out


def assert_history_matches_states(conn: Conn) -> None:
    """Every job's history is an unbroken chain ending in its current status (dead letters: dead_letter)."""
    rows = conn.execute("""
        select h.job_id, array_agg(h.from_status order by h.id nulls last, h.at) as froms,
               array_agg(h.to_status order by h.id nulls last, h.at) as tos,
               coalesce((select j.status::text from job_queue j where j.id = h.job_id),
                        (select 'dead_letter' from job_dead_letter d
                          where d.job_id = h.job_id limit 1)) as now
          from job_status_history h group by h.job_id""").fetchall()
    for row in rows:
        froms, tos = row["froms"], row["tos"]
        assert froms[0] is None, f"{row['job_id']}: history does not start at enqueue"
        assert froms[1:] == tos[:-1], f"{row['job_id']}: history skips a change: {froms} -> {tos}"
        assert tos[-1] == row["now"], f"{row['job_id']}: last history {tos[-1]} but status {row['now']}"
    missing = value(
        conn,
        "select count(*) from job_queue j where not exists "
        "(select 1 from job_status_history h where h.job_id = j.id)",
    )
    assert missing == 0, "jobs without any history row"


def connect(db_url: str) -> Conn:
    """A new autocommit connection with dict rows (for threads and role tests)."""
    return psycopg.connect(db_url, autocommit=True, row_factory=dict_row)


def sqlstate_of(call: Callable[[], T]) -> psycopg.Error:
    """Run `call`, which must raise a database error, and return that error."""
    try:
        call()
    except psycopg.Error as error:
        return error
    raise AssertionError("expected a database error, got none")
