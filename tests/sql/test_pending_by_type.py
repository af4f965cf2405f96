"""pending_jobs_by_type(): pending jobs per asked type, for health's processor check.

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

import psycopg
import pytest

from tests.sql.factories import Conn, make_job


def test_counts_pending_jobs_of_the_asked_types_only_zeros_included(conn: Conn) -> None:
    email = {"to": "a@example.com", "subject": "s", "text": "t"}
    make_job(conn, job_type="email", payload=email)
    make_job(conn, job_type="email", payload=email)
    make_job(conn, "completed", job_type="email", payload=email)
    make_job(conn, job_type="noop")
    row = conn.execute("""select pending_jobs_by_type('["email", "payout"]') as v""").fetchone()
    assert row is not None
    assert row["v"] == {"email": 2, "payout": 0}


def test_null_or_empty_types_give_an_empty_object(conn: Conn) -> None:
    for types in (None, "[]"):
        row = conn.execute("select pending_jobs_by_type(%s::jsonb) as v", (types,)).fetchone()
        assert row is not None
        assert row["v"] == {}


@pytest.mark.parametrize("types", ['"payout"', '[1]', '{"payout": 1}'])
def test_anything_but_an_array_of_names_is_22Q01(conn: Conn, types: str) -> None:
    with pytest.raises(psycopg.Error) as info:
        conn.execute("select pending_jobs_by_type(%s::jsonb)", (types,))
    assert info.value.sqlstate == "22Q01"
    assert "JSON array of job type names" in str(info.value)
