"""Every bad input raises its documented SQLSTATE, names the problem, hints at what is allowed,
and writes nothing.

Real: PostgreSQL. Faked: nothing. "Writes nothing" is checked by digesting every queue
table before and after the failing call.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import psycopg
import pytest
from psycopg.types.json import Jsonb

from tests.sql.factories import Conn, enqueue, fingerprint, make_job, sqlstate_of


@dataclass(frozen=True)
class Case:
    query: str
    params: tuple[object, ...]
    sqlstate: str
    says: str


MISSING = uuid.UUID("00000000-0000-4000-8000-000000000001")
CASES = {
    "unknown type": Case(
        "select enqueue_job('nope')", (), "22QT1", "unknown job type 'nope'; known types: analytics"
    ),
    "null type": Case("select enqueue_job(null)", (), "22QT1", "unknown job type"),
    "priority": Case("select enqueue_job('noop', '{}', 'urgent')", (), "22QP1", "invalid priority 'urgent'"),
    "payload array": Case(
        "select enqueue_job('noop', '[1]')", (), "22QJ1", "payload must be a JSON object, got array"
    ),
    "payload scalar": Case("select enqueue_job('noop', '3')", (), "22QJ1", "got number"),
    "max attempts 0": Case("select enqueue_job('noop', p_max_attempts => 0)", (), "22QA1", "max_attempts"),
    "missing dependency": Case(
        "select enqueue_job('noop', p_depends_on => array[%s]::uuid[])",
        (MISSING,),
        "22QD1",
        f"depends_on names job {MISSING}, which does not exist",
    ),
    "batch size 0": Case(
        "select * from get_next_job('w', null, 0)", (), "22QB1", "p_batch_size must be between 1 and 1000"
    ),
    "batch size 1001": Case("select * from get_next_job('w', null, 1001)", (), "22QB1", "got 1001"),
    "lock seconds": Case("select * from get_next_job('w', null, 1, 0)", (), "22QL1", "p_lock_seconds"),
    "claim unknown type": Case(
        "select * from get_next_job('w', array['nope'])", (), "22QT1", "unknown job type 'nope'"
    ),
    "claim no types": Case(
        "select * from get_next_job('w', array[]::text[])", (), "22QT1", "p_types is an empty array"
    ),
    "bad cron": Case(
        "select set_job_schedule('s', '61 * * * *', 'noop')", (), "22QC1", "'61' is outside 0-59"
    ),
    "cron fields": Case(
        "select set_job_schedule('s', '* * *', 'noop')", (), "22QC1", "has 3 fields; it needs 5"
    ),
    "cron word": Case(
        "select set_job_schedule('s', '* * * * funday', 'noop')", (), "22QC1", "'funday' is not a number"
    ),
    "progress": Case(
        "select update_job_progress(%s, 101)", (MISSING,), "22QG1", "progress must be between 0 and 100"
    ),
    "negative retention": Case("select purge_finished_jobs('-1 day')", (), "22QI1", "must not be negative"),
    "unknown dead letter": Case(
        "select retry_dead_letter_job(%s)", (MISSING,), "PT404", f"no dead letter with id {MISSING}"
    ),
    "batch element": Case(
        "select enqueue_jobs(%s)",
        (Jsonb([{"type": "noop"}, {"type": "nope"}, {"type": "noop"}]),),
        "22QT1",
        "p_jobs element 2: unknown job type 'nope'",
    ),
    "batch priority": Case(
        "select enqueue_jobs(%s)",
        (Jsonb([{"type": "noop"}, {"type": "noop", "priority": "x"}]),),
        "22QP1",
        "p_jobs element 2: invalid priority",
    ),
    "empty worker id": Case(
        "select * from get_next_job('')", (), "22QW1", "p_worker_id must be a non-empty text"
    ),
    "negative retry after": Case(
        "select fail_job(%s, 'x', true, -1)", (MISSING,), "22QR1", "retry_after_seconds must be 0 or more"
    ),
    "batch too large": Case(
        "select enqueue_jobs(%s)", (Jsonb([{"type": "noop"}] * 10_001),), "22QB2", "p_jobs has 10001 elements"
    ),
    "batch not array": Case("select enqueue_jobs(%s)", (Jsonb({"type": "noop"}),), "22QJ3", "JSON array"),
    "batch payload": Case(
        "select enqueue_jobs(%s)",
        (Jsonb([{"type": "noop"}, {"type": "noop", "payload": [1]}, {"type": "noop"}]),),
        "22QJ1",
        "p_jobs element 2: payload must be a JSON object",
    ),
    "batch max attempts": Case(
        "select enqueue_jobs(%s)",
        (Jsonb([{"type": "noop"}, {"type": "noop", "max_attempts": 0}]),),
        "22QA1",
        "p_jobs element 2: max_attempts",
    ),
    "batch missing dependency": Case(
        "select enqueue_jobs(%s)",
        (Jsonb([{"type": "noop"}, {"type": "noop", "depends_on": [str(MISSING)]}]),),
        "22QD1",
        "p_jobs element 2: depends_on names job",
    ),
    "batch depends_on not array": Case(
        "select enqueue_jobs(%s)",
        (Jsonb([{"type": "noop"}, {"type": "noop", "depends_on": str(MISSING)}]),),
        "22QJ3",
        "p_jobs element 2: depends_on must be an array",
    ),
    "complete not array": Case(
        "select complete_jobs(%s)", (Jsonb({"id": str(MISSING)}),), "22QJ3", "p_jobs must be a JSON array of"
    ),
    "complete bad id": Case(
        "select complete_jobs(%s)", (Jsonb([{"id": "abc"}]),), "22QJ3",
        'p_jobs element 1 must be an object with a job uuid in "id", got {"id": "abc"}',
    ),
    "fail element not object": Case(
        "select fail_jobs(%s)", (Jsonb([{"id": str(MISSING)}, 5]),), "22QJ3",
        "p_jobs element 2 must be an object",
    ),
    "fail negative retry after": Case(
        "select fail_jobs(%s)", (Jsonb([{"id": str(MISSING), "retry_after_seconds": -1}]),), "22QR1",
        "p_jobs element 1: retry_after_seconds must be a whole number of seconds, 0 or more, got -1",
    ),
    "fail fractional retry after": Case(
        "select fail_jobs(%s)", (Jsonb([{"id": str(MISSING), "retry_after_seconds": 1.5}]),), "22QR1",
        "got 1.5",
    ),
    "fail text retry after": Case(
        "select fail_jobs(%s)", (Jsonb([{"id": str(MISSING), "retry_after_seconds": "soon"}]),), "22QR1",
        'got "soon"',
    ),
    "fail retryable not boolean": Case(
        "select fail_jobs(%s)", (Jsonb([{"id": str(MISSING), "retryable": "yes"}]),), "22QJ3",
        'p_jobs element 1: retryable must be true or false, got "yes"',
    ),
    "release negative retry after": Case(
        "select release_jobs(%s)", (Jsonb([{"id": str(MISSING), "retry_after_seconds": -5}]),), "22QR1",
        "retry_after_seconds must be a whole number",
    ),
    "release null": Case("select release_jobs(null)", (), "22QJ3", "p_jobs must be a JSON array of"),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_bad_input_raises_its_sqlstate_with_a_hint_and_writes_nothing(conn: Conn, case: Case) -> None:
    make_job(conn, "running")
    enqueue(conn, "email", idempotency_key="existing")
    before = fingerprint(conn)
    error = sqlstate_of(lambda: conn.execute(case.query, case.params))
    assert error.sqlstate == case.sqlstate, error
    assert case.says in (error.diag.message_primary or "")
    assert (error.diag.message_hint or "").strip(), "no HINT"
    assert fingerprint(conn) == before


def test_a_payload_over_the_configured_limit_raises_22qj2_and_writes_nothing(conn: Conn) -> None:
    conn.execute("update queue.settings set value = '64' where key = 'payload_max_bytes'")
    enqueue(conn, "noop", payload={"small": 1})
    before = fingerprint(conn)
    big = {"text": "x" * 100}
    for call in (
        lambda: enqueue(conn, "noop", payload=big),
        lambda: conn.execute(
            "select enqueue_jobs(%s)", (Jsonb([{"type": "noop"}, {"type": "noop", "payload": big}]),)
        ),
    ):
        error = sqlstate_of(call)
        assert error.sqlstate == "22QJ2"
        assert "larger than the limit of 64 bytes" in (error.diag.message_primary or "")
        assert "payload_max_bytes" in (error.diag.message_hint or "")
    assert fingerprint(conn) == before


def test_a_dependency_that_was_cancelled_is_refused(conn: Conn) -> None:
    cancelled = make_job(conn, "cancelled")
    before = fingerprint(conn)
    error = sqlstate_of(lambda: enqueue(conn, "noop", depends_on=[cancelled]))
    assert error.sqlstate == "22QD2"
    assert fingerprint(conn) == before


def test_a_failing_call_leaves_the_connection_usable(conn: Conn) -> None:
    with pytest.raises(psycopg.Error):
        conn.execute("select enqueue_job('nope')")
    assert enqueue(conn) is not None


MISSING_DEPENDENCY = uuid.uuid4()


@pytest.mark.parametrize(("job", "sqlstate", "message"), [
    ({"type": "nope"}, "22QT1", "unknown job type 'nope'"),
    ({"type": "noop", "priority": "x"}, "22QP1", "invalid priority"),
    ({"type": "noop", "payload": [1]}, "22QJ1", "payload must be a JSON object"),
    ({"type": "noop", "max_attempts": 0}, "22QA1", "max_attempts must be between 1 and 1000, got 0"),
    ({"type": "noop", "depends_on": [str(MISSING_DEPENDENCY)]}, "22QD1",
     f"depends_on names job {MISSING_DEPENDENCY}, which does not exist"),
    ({"type": "noop", "depends_on": "x"}, "22QJ3", "depends_on must be an array of job ids"),
    ("x", "22QJ3", "the job must be a JSON object"),
])
def test_a_batch_of_one_job_names_the_field_not_the_element(conn: Conn, job: object, sqlstate: str,
                                                             message: str) -> None:
    """Every door enqueueing one job sends a batch of one: `p_jobs element 1` is no name a person typed."""
    before = fingerprint(conn)
    error = sqlstate_of(lambda: conn.execute("select enqueue_jobs(%s)", (Jsonb([job]),)))
    assert error.sqlstate == sqlstate
    assert (error.diag.message_primary or "").startswith(message)
    assert (error.diag.message_hint or "").strip(), "no HINT"
    assert fingerprint(conn) == before
