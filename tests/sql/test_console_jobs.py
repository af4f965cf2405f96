"""console_jobs (20260106000210): the console's job listing, each filter, keyset pages and
every refusal (22QS1 / 22QS2 / 22QS3 naming the key, changing nothing).

Real: PostgreSQL, the SQL API making the jobs, a second connection enqueueing while a
reader pages. Faked: nothing (created_at is set by an UPDATE as the owner where a test
needs jobs of different days).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, connect, enqueue, fingerprint, make_job, sqlstate_of


def listing(conn: Conn, filter_: dict[str, Any] | None = None, after: int | None = None,
            limit: int | None = 50) -> dict[str, Any]:
    row = conn.execute("select console_jobs(%s, %s, %s) as page",
                       (Jsonb(filter_ if filter_ is not None else {}), after, limit)).fetchone()
    assert row is not None
    page: dict[str, Any] = row["page"]
    return page


def ids(conn: Conn, filter_: dict[str, Any]) -> set[UUID]:
    return {UUID(j["id"]) for j in listing(conn, filter_, limit=200)["jobs"]}


def test_jobs_come_newest_first_with_the_contract_columns(conn: Conn) -> None:
    first, second = make_job(conn), make_job(conn, "completed")
    page = listing(conn)
    assert [j["id"] for j in page["jobs"]] == [str(second), str(first)]
    assert set(page["jobs"][0]) == {"id", "seq", "type", "status", "priority", "attempts", "max_attempts",
                                    "run_at", "created_at", "started_at", "finished_at", "owner_id",
                                    "last_error", "progress"}
    assert page["jobs"][0]["status"] == "completed"
    assert page["jobs"][0]["seq"] > page["jobs"][1]["seq"]
    assert page["next_after"] is None


def test_each_status_filter_and_the_ready_and_scheduled_pseudo_statuses(conn: Conn) -> None:
    ready = make_job(conn)
    scheduled = enqueue(conn, run_at=conn.execute("select now() + interval '1 hour' as t").fetchone()["t"])  # type: ignore[index]
    running, completed, cancelled = (make_job(conn, state) for state in ("running", "completed", "cancelled"))
    make_job(conn, "dead")
    assert ids(conn, {"status": "pending"}) == {ready, scheduled}
    assert ids(conn, {"status": "ready"}) == {ready}
    assert ids(conn, {"status": "scheduled"}) == {scheduled}
    assert ids(conn, {"status": "running"}) == {running}
    assert ids(conn, {"status": "completed"}) == {completed}
    assert ids(conn, {"status": "cancelled"}) == {cancelled}
    assert len(ids(conn, {})) == 5, "a dead-lettered job is not in job_queue, so not listed"


def test_type_priority_and_owner_filters(conn: Conn) -> None:
    owner = uuid4()
    email = enqueue(conn, "email", payload={"to": "a@example.com", "template": "welcome"}, priority="high")
    mine = enqueue(conn, owner_id=owner, priority="low")
    other = enqueue(conn, owner_id=uuid4())
    assert ids(conn, {"type": "email"}) == {email}
    assert ids(conn, {"type": "noop"}) == {mine, other}
    assert ids(conn, {"priority": "high"}) == {email}
    assert ids(conn, {"priority": "low"}) == {mine}
    assert ids(conn, {"owner": str(owner)}) == {mine}
    assert ids(conn, {"owner": str(owner).upper()}) == {mine}


def test_from_is_inclusive_and_to_exclusive_on_created_at(conn: Conn) -> None:
    days = {day: make_job(conn) for day in ("2026-01-01", "2026-01-02", "2026-01-03")}
    for day, job_id in days.items():
        conn.execute("update job_queue set created_at = %s::timestamptz where id = %s",
                     (day + "T12:00:00Z", job_id))
    assert ids(conn, {"from": "2026-01-02T12:00:00Z"}) == {days["2026-01-02"], days["2026-01-03"]}
    assert ids(conn, {"to": "2026-01-02T12:00:00Z"}) == {days["2026-01-01"]}
    assert ids(conn, {"from": "2026-01-02", "to": "2026-01-03"}) == {days["2026-01-02"]}
    assert ids(conn, {"from": "2026-01-02 13:00:00+01:00", "to": "2026-01-02T12:00:00.000001Z"}) == {
        days["2026-01-02"]}


def test_q_finds_a_substring_of_the_payload_or_the_last_error_ignoring_case(conn: Conn) -> None:
    by_payload = enqueue(conn, payload={"note": "Invoice-42 for ACME"})
    by_error = make_job(conn, "running", worker="w9")
    conn.execute("select fail_job(%s, 'SMTP said: Mailbox FULL', true, 60, 'w9')", (by_error,))
    make_job(conn)
    assert ids(conn, {"q": "acme"}) == {by_payload}
    assert ids(conn, {"q": "invoice-42"}) == {by_payload}
    assert ids(conn, {"q": "mailbox full"}) == {by_error}
    assert ids(conn, {"q": "100%_"}) == set(), "% and _ are literal characters, not patterns"


def test_filters_combine_with_and(conn: Conn) -> None:
    owner = uuid4()
    target = enqueue(conn, "email", payload={"to": "x@example.com", "template": "welcome"}, owner_id=owner,
                     priority="high")
    enqueue(conn, "email", payload={"to": "y@example.com", "template": "welcome"}, owner_id=owner)
    enqueue(conn, "noop", owner_id=owner, priority="high")
    make_job(conn, "completed", "email", payload={"to": "x@example.com", "template": "welcome"},
             owner_id=owner)
    assert ids(conn, {"type": "email", "owner": str(owner), "priority": "high", "status": "ready",
                      "q": "x@example", "from": "2000-01-01", "to": "2999-01-01"}) == {target}
    assert ids(conn, {"type": "email", "status": "completed", "priority": "high"}) == set()


def test_json_null_values_count_as_not_given(conn: Conn) -> None:
    make_job(conn)
    assert len(listing(conn, {"type": None, "q": None, "status": None})["jobs"]) == 1


def test_keyset_pages_cover_every_job_exactly_once_while_others_enqueue(conn: Conn, db_url: str) -> None:
    """Another connection commits new jobs between every two page reads (deterministically
    interleaved: a thread racing the reads sometimes enqueued nothing before the last page)."""
    existing = {enqueue(conn) for _ in range(95)}
    added: list[UUID] = []
    with connect(db_url) as other:
        seen: list[UUID] = []
        after, pages = None, 0
        while True:
            page = listing(conn, after=after, limit=10)
            seen += [UUID(j["id"]) for j in page["jobs"]]
            seqs = [j["seq"] for j in page["jobs"]]
            assert seqs == sorted(seqs, reverse=True)
            pages += 1
            added += [enqueue(other), enqueue(other)]
            after = page["next_after"]
            if after is None:
                break
            assert after == seqs[-1]
    assert len(seen) == len(set(seen)), "a job came twice"
    assert existing <= set(seen), "a job that existed before the first page was skipped"
    assert not set(added) & set(seen), "a job enqueued after the first page showed on a later one"
    assert pages >= 10


def test_a_full_last_page_has_no_next_after(conn: Conn) -> None:
    for _ in range(4):
        enqueue(conn)
    first = listing(conn, limit=2)
    assert len(first["jobs"]) == 2
    assert first["next_after"] == first["jobs"][-1]["seq"]
    second = listing(conn, after=first["next_after"], limit=2)
    assert len(second["jobs"]) == 2
    assert second["next_after"] is None


@pytest.mark.parametrize(("filter_", "sqlstate", "message"), [
    ({"state": "pending"}, "22QS1", "unknown filter key 'state'"),
    ({"type": ["email"]}, "22QS2", "filter type must be a string, got array"),
    ({"type": "nope"}, "22QS2", "filter type: unknown job type 'nope'"),
    ({"status": "dead"}, "22QS2", "filter status: 'dead' is not a status"),
    ({"status": 1}, "22QS2", "filter status must be a string, got number"),
    ({"priority": "urgent"}, "22QS2", "filter priority: 'urgent' is not a priority"),
    ({"owner": "me"}, "22QS2", "filter owner: 'me' is not a uuid"),
    ({"owner": True}, "22QS2", "filter owner must be a string, got boolean"),
    ({"from": "yesterday"}, "22QS2", "filter from: 'yesterday' is not an ISO 8601 timestamp"),
    ({"from": "2026-02-30"}, "22QS2", "filter from: '2026-02-30' is not a valid date and time"),
    ({"to": "2026-01-01T25:00:00Z"}, "22QS2", "filter to: '2026-01-01T25:00:00Z' is not a valid date"),
    ({"to": 20260101}, "22QS2", "filter to must be a string, got number"),
    ({"from": "2026-02-01", "to": "2026-01-01"}, "22QS2", "is after to"),
    ({"q": ""}, "22QS2", "filter q must be 1-200 characters, got 0"),
    ({"q": "x" * 201}, "22QS2", "filter q must be 1-200 characters, got 201"),
    ({"q": {"a": 1}}, "22QS2", "filter q must be a string, got object"),
])
def test_a_bad_filter_is_refused_naming_the_key_and_what_is_allowed(
        conn: Conn, filter_: dict[str, Any], sqlstate: str, message: str) -> None:
    make_job(conn)
    before = fingerprint(conn)
    error = sqlstate_of(lambda: listing(conn, filter_))
    assert error.sqlstate == sqlstate
    assert message in str(error)
    assert error.diag.message_hint, "the hint says what is allowed"
    key = next(iter(filter_)) if len(filter_) == 1 else "from"
    assert key in error.diag.message_hint or "allowed keys" in error.diag.message_hint
    assert fingerprint(conn) == before


@pytest.mark.parametrize("filter_", [[1], "type=email", 3])
def test_a_filter_that_is_not_an_object_is_22QS1(conn: Conn, filter_: Any) -> None:
    error = sqlstate_of(lambda: conn.execute("select console_jobs(%s)", (Jsonb(filter_),)))
    assert error.sqlstate == "22QS1"
    assert "p_filter must be a JSON object" in str(error)


@pytest.mark.parametrize(("after", "limit", "message"), [
    (None, 0, "limit must be 1-200, got 0"),
    (None, 201, "limit must be 1-200, got 201"),
    (0, 50, "after must be a job seq of at least 1, got 0"),
    (-5, 50, "after must be a job seq of at least 1, got -5"),
])
def test_a_limit_or_after_out_of_range_is_22QS3(conn: Conn, after: int | None, limit: int,
                                                message: str) -> None:
    error = sqlstate_of(lambda: listing(conn, after=after, limit=limit))
    assert error.sqlstate == "22QS3"
    assert message in str(error)


def test_a_null_filter_and_limit_mean_everything_and_50(conn: Conn) -> None:
    for _ in range(51):
        enqueue(conn)
    row = conn.execute("select console_jobs(null, null, null) as page").fetchone()
    assert row is not None
    assert len(row["page"]["jobs"]) == 50
    assert row["page"]["next_after"] is not None


def test_last_error_is_cut_to_500_characters_in_the_listing(conn: Conn) -> None:
    job_id = make_job(conn, "running", worker="w1")
    conn.execute("select fail_job(%s, %s, true, 60, 'w1')", (job_id, "e" * 2000))
    assert len(listing(conn)["jobs"][0]["last_error"]) == 500


def test_only_the_service_role_may_list(conn: Conn) -> None:
    for role in ("anon", "authenticated"):
        conn.execute(f"set role {role}")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("select console_jobs()")
        conn.execute("reset role")
    conn.execute("set role service_role")
    assert conn.execute("select console_jobs() as p").fetchone() is not None
