"""Kick on enqueue (20260105000100-140): one notify per enqueue statement, none for jobs due
later; HTTP kicks through pg_net coalesced per group, recorded in job_kicks and answered by
worker_run_start; health shows the pg_net kicks nobody answered; bad settings are refused.

Real: PostgreSQL, LISTEN on a second psycopg connection, the triggers, health.py's check.
Faked: pg_net. Neither test server has it, so the tests that need it create, in their own
database only, a schema `net` whose `http_post` records each call in `net.calls` (the
signature trigger_queue_worker calls) and returns its id, as pg_net returns a request id.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

from tests.sql.factories import Conn, claim, enqueue, sqlstate_of, value

WORKER_URL = "http://worker.test/fn"


@pytest.fixture
def listener(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("listen queue_worker_jobs")
        yield conn


def notifications(listener: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every notification delivered so far (the enqueues committed before this call)."""
    return [json.loads(n.payload) for n in listener.notifies(timeout=0.5)]


@pytest.fixture
def fake_pg_net(conn: Conn) -> Conn:
    """A `net.http_post` stand-in recording its calls, and a worker URL: the pg_net path is on."""
    conn.execute("""
        create schema net;
        create table net.calls (id bigint generated always as identity, url text, headers jsonb);
        create function net.http_post(url text, body jsonb, headers jsonb, timeout_milliseconds integer)
        returns bigint language sql as
          $$ insert into net.calls (url, headers) values (url, headers) returning id $$;
    """)
    conn.execute(
        "update queue.settings set value = to_jsonb(%s::text) where key = 'worker_url'", (WORKER_URL,)
    )
    return conn


def kicks(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("select * from job_kicks order by id").fetchall()


def posted_urls(conn: Conn) -> list[str]:
    return [r["url"] for r in conn.execute("select url from net.calls order by id").fetchall()]


def bulk(conn: Conn, jobs: list[dict[str, Any]]) -> None:
    conn.execute("select count(*) from enqueue_jobs(%s::jsonb)", (json.dumps(jobs),))


def test_a_bulk_enqueue_of_10000_jobs_sends_one_notification(
    conn: Conn, listener: psycopg.Connection[Any]
) -> None:
    bulk(conn, [{"type": "noop", "payload": {"i": i}} for i in range(10_000)])
    assert notifications(listener) == [{"types": ["noop"]}]
    assert len(kicks(conn)) == 1


def test_each_enqueue_statement_notifies_with_the_types_it_added(
    conn: Conn, listener: psycopg.Connection[Any]
) -> None:
    enqueue(conn, "noop")
    bulk(conn, [{"type": "noop"}, {"type": "email", "payload": {}}])
    assert notifications(listener) == [{"types": ["noop"]}, {"types": ["email", "noop"]}]


def test_identical_notifies_of_one_transaction_arrive_once(
    db_url: str, listener: psycopg.Connection[Any]
) -> None:
    with psycopg.connect(db_url, row_factory=dict_row) as tx:
        for _ in range(3):
            enqueue(tx, "noop")
    assert notifications(listener) == [{"types": ["noop"]}]


def test_jobs_due_later_send_no_notification_and_no_kick(
    conn: Conn, listener: psycopg.Connection[Any]
) -> None:
    enqueue(conn, "noop", run_at="2999-01-01T00:00:00Z")
    bulk(conn, [{"type": "noop", "run_at": "2999-01-01T00:00:00Z"}])
    assert notifications(listener) == []
    assert kicks(conn) == []


def test_a_released_job_notifies_again_and_a_claim_does_not(
    conn: Conn, listener: psycopg.Connection[Any]
) -> None:
    job_id = enqueue(conn, "email")
    assert notifications(listener) == [{"types": ["email"]}]
    claim(conn, "w1")
    assert notifications(listener) == []
    released = value(
        conn,
        "select count(*) from release_jobs(%s::jsonb, 'w1')",
        (json.dumps([{"id": str(job_id), "reason": "shutdown"}]),),
    )
    assert released == 1
    assert notifications(listener) == [{"types": ["email"]}]


def test_pg_net_kicks_are_coalesced_while_one_is_in_flight(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    for _ in range(5):
        enqueue(conn, "noop")
    bulk(conn, [{"type": "email", "payload": {}}] * 3)
    assert posted_urls(conn) == [WORKER_URL + "?action=process"]
    (kick,) = kicks(conn)
    assert (kick["kick_group"], kick["via"], kick["request_id"], kick["answered_at"]) == (
        "default",
        "pg_net",
        1,
        None,
    )


def test_a_kick_older_than_the_window_is_sent_again(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    enqueue(conn, "noop")
    conn.execute("update job_kicks set kicked_at = kicked_at - interval '3 seconds'")  # window: 2 s
    enqueue(conn, "noop")
    assert len(posted_urls(conn)) == 2
    assert [k["via"] for k in kicks(conn)] == ["pg_net", "pg_net"]


def test_a_window_of_zero_kicks_on_every_enqueue(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    conn.execute("select configure_kicks(p_window_ms => 0)")
    for _ in range(3):
        enqueue(conn, "noop")
    assert len(posted_urls(conn)) == 3


def test_a_running_invocation_that_answered_stands_for_the_group_until_it_finishes(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    enqueue(conn, "noop")
    conn.execute("select worker_run_start('w1', '{}')")
    enqueue(conn, "noop")  # w1 is still running and will claim it
    assert len(posted_urls(conn)) == 1
    conn.execute("select worker_run_finish('w1', '{}')")
    enqueue(conn, "noop")  # nobody is running any more
    assert len(posted_urls(conn)) == 2
    assert [k["answered_by"] for k in kicks(conn)] == ["w1", None]


def test_worker_run_start_answers_the_groups_of_its_types_once(conn: Conn) -> None:
    conn.execute("update job_types set kick_group = 'mail' where name = 'email'")
    enqueue(conn, "noop")
    enqueue(conn, "email")
    conn.execute("""select worker_run_start('w-email', '{"types": ["email"]}')""")
    conn.execute("select worker_run_start('w-email', '{}')")  # the same invocation again: nothing more
    answered = {k["kick_group"]: k["answered_by"] for k in kicks(conn)}
    assert answered == {"default": None, "mail": "w-email"}
    conn.execute("select worker_run_start('w-all', '{}')")
    answered = {k["kick_group"]: k["answered_by"] for k in kicks(conn)}
    assert answered == {"default": "w-all", "mail": "w-email"}


def test_a_named_group_posts_the_worker_for_its_types_only(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    conn.execute("update job_types set kick_group = 'slow' where name in ('audio', 'payout')")
    enqueue(conn, "audio", payload={"text": "hi"})
    assert posted_urls(conn) == [WORKER_URL + "?action=process&type=audio%2Cpayout"]


def test_kick_http_off_keeps_the_notify_and_records_a_notify_kick(
    fake_pg_net: Conn, listener: psycopg.Connection[Any]
) -> None:
    conn = fake_pg_net
    assert conn.execute("select configure_kicks(p_http => false)").fetchone() == {
        "configure_kicks": {"kick_window_ms": 2000, "kick_answer_seconds": 30, "kick_http": False}
    }
    enqueue(conn, "noop")
    assert posted_urls(conn) == []
    assert [k["via"] for k in kicks(conn)] == ["notify"]
    assert notifications(listener) == [{"types": ["noop"]}]


def test_a_failing_post_does_not_fail_the_enqueue(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    conn.execute("""create or replace function net.http_post(url text, body jsonb, headers jsonb,
                    timeout_milliseconds integer) returns bigint language plpgsql as
                    $$ begin raise exception 'pg_net queue full'; end $$""")
    warnings: list[str] = []
    conn.add_notice_handler(lambda diag: warnings.append(diag.message_primary or ""))
    job_id = enqueue(conn, "noop")
    assert value(conn, "select status from job_queue where id = %s", (job_id,)) == "pending"
    assert [k["via"] for k in kicks(conn)] == ["notify"]
    assert any("the POST through pg_net failed (pg_net queue full)" in w for w in warnings)


def test_concurrent_enqueuers_write_one_kick(db_url: str, conn: Conn) -> None:
    with (
        psycopg.connect(db_url, row_factory=dict_row) as a,
        psycopg.connect(db_url, row_factory=dict_row) as b,
    ):
        enqueue(a, "noop")  # holds the group's kick lock until it commits
        enqueue(b, "noop")  # sees no kick yet, cannot take the lock: leaves it to a
        a.commit()
        b.commit()
    assert len(kicks(conn)) == 1
    assert value(conn, "select count(*) from job_queue") == 2


def _unanswered(conn: Conn) -> dict[str, Any]:
    facts: dict[str, Any] = value(conn, "select queue_health()")
    return facts


def _kicks_check(conn: Conn) -> dict[str, Any]:
    """health_warnings()'s unanswered_kicks check."""
    checks = value(conn, "select health_warnings()")["checks"]
    check: dict[str, Any] = next(c for c in checks if c["check"] == "unanswered_kicks")
    return check


def test_health_shows_a_pg_net_kick_no_invocation_answered_in_time(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    enqueue(conn, "noop")
    assert _unanswered(conn)["unanswered_kicks"]["count"] == 0  # still within kick_answer_seconds
    conn.execute("update job_kicks set kicked_at = kicked_at - interval '31 seconds'")
    facts = _unanswered(conn)
    assert facts["unanswered_kicks"]["count"] == 1
    assert facts["unanswered_kicks"]["kicks"][0]["request_id"] == 1
    check = _kicks_check(conn)
    assert (check["severity"], check["value"], check["threshold"]) == ("warning", 1, 0)
    assert check["details"]["kicks"][0]["request_id"] == 1
    assert "worker_url" in check["hint"]


def test_health_counts_a_kick_answered_only_later_and_not_one_answered_in_time(fake_pg_net: Conn) -> None:
    conn = fake_pg_net
    enqueue(conn, "noop")
    conn.execute("select worker_run_start('w-kicked', '{}')")
    assert _unanswered(conn)["unanswered_kicks"]["count"] == 0
    conn.execute("update job_kicks set kicked_at = answered_at - interval '45 seconds'")  # the tick came
    assert _unanswered(conn)["unanswered_kicks"]["count"] == 1


def test_health_ignores_notify_kicks_nobody_listens_to(conn: Conn) -> None:
    enqueue(conn, "noop")
    conn.execute("update job_kicks set kicked_at = kicked_at - interval '10 minutes'")
    facts = _unanswered(conn)
    assert facts["unanswered_kicks"] == {"count": 0, "answer_seconds": 30, "kicks": []}
    assert _kicks_check(conn)["severity"] == "ok"


@pytest.mark.parametrize(
    ("call", "says"),
    [
        ("select configure_kicks(p_window_ms => -1)", "kick window must be 0-60000 ms, got -1"),
        ("select configure_kicks(p_window_ms => 60001)", "kick window must be 0-60000 ms, got 60001"),
        ("select configure_kicks(p_answer_seconds => 0)", "kick answer time must be 1-3600 s, got 0"),
        ("select configure_kicks(10, 3601)", "kick answer time must be 1-3600 s, got 3601"),
    ],
)
def test_configure_kicks_refuses_values_out_of_range_and_changes_nothing(
    conn: Conn, call: str, says: str
) -> None:
    error = sqlstate_of(lambda: conn.execute(call))
    assert (error.sqlstate, error.diag.message_primary) == ("22QK1", says)
    assert error.diag.message_hint
    assert value(conn, "select configure_kicks()") == {
        "kick_window_ms": 2000,
        "kick_answer_seconds": 30,
        "kick_http": True,
    }


@pytest.mark.parametrize(
    "statement",
    [
        "update queue.settings set value = '\"fast\"' where key = 'kick_window_ms'",
        "update queue.settings set value = '-5' where key = 'kick_window_ms'",
        "update queue.settings set value = '1.5' where key = 'kick_answer_seconds'",
        "update queue.settings set value = '\"yes\"' where key = 'kick_http'",
        "update job_types set kick_group = 'Not A Group' where name = 'email'",
        "update job_types set kick_group = '' where name = 'email'",
    ],
)
def test_direct_writes_of_bad_kick_settings_are_refused_by_a_named_constraint(
    conn: Conn, statement: str
) -> None:
    error = sqlstate_of(lambda: conn.execute(statement))
    assert error.sqlstate == "23514"
    assert error.diag.constraint_name in ("settings_kick_values", "job_types_kick_group_name")
    enqueue(conn, "email", payload={"to": "a@example.com"})


@pytest.mark.parametrize(
    ("every", "says"),
    [
        ("0 seconds", "a tick of 0 seconds is out of range"),
        ("60 seconds", "a tick of 60 seconds is out of range"),
        ("every day", "tick schedule 'every day' is neither 'N seconds' nor a 5-field cron expression"),
        (None, "tick schedule NULL is neither 'N seconds' nor a 5-field cron expression"),
    ],
)
def test_schedule_worker_tick_refuses_a_bad_schedule(conn: Conn, every: str | None, says: str) -> None:
    error = sqlstate_of(lambda: conn.execute("select schedule_worker_tick(%s)", (every,)))
    assert (error.sqlstate, error.diag.message_primary) == ("22QK2", says)
    assert "cron expression" in (error.diag.message_hint or "")


def test_schedule_worker_tick_without_pg_cron_says_how_to_get_it(conn: Conn) -> None:
    if value(conn, "select count(*) from pg_extension where extname = 'pg_cron'"):
        pytest.skip("pg_cron is installed in this database")
    error = sqlstate_of(lambda: conn.execute("select schedule_worker_tick('30 seconds')"))
    assert (error.sqlstate, error.diag.message_primary) == (
        "22QK2",
        "pg_cron is not installed in this database",
    )
    assert "pg_cron_setup.sql" in (error.diag.message_hint or "")
