"""Smoke: the migrated template clones and answers. Real Postgres; nothing faked."""

from typing import Any

import psycopg


def test_a_fresh_database_has_every_migration(conn: psycopg.Connection[dict[str, Any]]) -> None:
    row = conn.execute("select queue_schema_versions() as v").fetchone()
    assert row is not None
    assert "20260101000000" in row["v"]
