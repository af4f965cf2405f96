"""Schema drift: the migrated schema, described from the catalogs, matches the committed
tests/sql/schema_snapshot.txt (regenerate with UPDATE_SCHEMA_SNAPSHOT=1 after a deliberate change).

Real: PostgreSQL (the description is the same on 15 and 18). Faked: nothing.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from tests.sql.factories import Conn
from tests.sql.schema_description import describe_schema

SNAPSHOT = Path(__file__).with_name("schema_snapshot.txt")


def test_the_migrated_schema_matches_the_committed_snapshot(conn: Conn) -> None:
    actual = describe_schema(conn)
    if os.environ.get("UPDATE_SCHEMA_SNAPSHOT") == "1":
        SNAPSHOT.write_text(actual)
    expected = SNAPSHOT.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(True), actual.splitlines(True), "schema_snapshot.txt", "migrated database"
        )
    )
    assert not diff, f"schema drift (UPDATE_SCHEMA_SNAPSHOT=1 regenerates the snapshot):\n{diff}"


def test_the_snapshot_covers_every_kind_of_object(conn: Conn) -> None:
    text = SNAPSHOT.read_text()
    for expected in (
        "table public.job_queue rls=t force_rls=f",
        "index CREATE INDEX job_queue_claim_idx",
        "function public.get_next_job(",
        "policy public.job_queue job_queue_owner_reads_own",
        "grant execute on public.enqueue_job(",
        "grant SELECT (status)",
        "type public.job_priority enum (low, normal, high, critical)",
        "trigger CREATE TRIGGER",
    ):
        assert expected in text, expected
