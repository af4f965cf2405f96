"""console_actions, queue.console_record and console_audit: the operator audit trail.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn


def _record(conn: Conn, action: str, affected: int = 1) -> int:
    row = conn.execute("select queue.console_record('admin', %s, %s, %s) as id",
                       (action, Jsonb({"ids": ["x"]}), affected)).fetchone()
    assert row is not None
    return int(row["id"])


def test_audit_reads_newest_first_and_pages_by_id(conn: Conn) -> None:
    ids = [_record(conn, f"job.cancel{n}", n) for n in range(5)]
    first = conn.execute("select * from console_audit(2)").fetchall()
    assert [r["id"] for r in first] == ids[:-3:-1]
    assert first[0]["actor"] == "admin"
    assert first[0]["affected"] == 4
    assert first[0]["target"] == {"ids": ["x"]}
    rest = conn.execute("select id from console_audit(10, %s)", (first[-1]["id"],)).fetchall()
    assert [r["id"] for r in rest] == ids[2::-1]


@pytest.mark.parametrize("limit", [0, 1001, None])
def test_audit_limit_out_of_range_is_22QB1(conn: Conn, limit: int | None) -> None:
    with pytest.raises(psycopg.Error) as info:
        conn.execute("select * from console_audit(%s)", (limit,))
    assert info.value.sqlstate == "22QB1"
    assert "limit must be 1-1000" in str(info.value)


def test_record_refuses_an_unknown_actor_and_a_malformed_action(conn: Conn) -> None:
    for actor, action in (("root", "job.cancel"), ("admin", "Drop Table")):
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("select queue.console_record(%s, %s, '{}', 0)", (actor, action))
        conn.rollback()
