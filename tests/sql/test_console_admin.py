"""console_types, console_set_type_enabled, console_reset_breaker, console_schedules,
console_set_schedule_enabled and console_audit_list: the console's admin functions.

Real: PostgreSQL, jobs and breakers made through the SQL API (enqueue, get_next_job,
circuit_breaker_record, set_job_schedule). Faked: nothing.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
import pytest

from tests.sql.factories import Conn, claim, connect, enqueue, fingerprint, make_job, value


def _audit(conn: Conn) -> list[dict[str, Any]]:
    return conn.execute("select actor, action, target, affected, detail from console_actions "
                        "order by id").fetchall()


def _open_breaker(conn: Conn, provider: str = "resend") -> None:
    conn.execute("select circuit_breaker_record(%s, false, 1, 60, 'HTTP 503')", (provider,))


def _error(conn: Conn, query: str, params: Any = ()) -> psycopg.Error:
    with pytest.raises(psycopg.Error) as info:
        conn.execute(query, params)
    return info.value


def test_types_lists_every_type_with_its_settings_counts_and_the_breakers(conn: Conn) -> None:
    enqueue(conn, "email")
    make_job(conn, "running", "email")
    _open_breaker(conn)
    result = value(conn, "select console_types()")
    names = [row["name"] for row in conn.execute("select name from job_types order by name")]
    assert [t["name"] for t in result["types"]] == names
    (email,) = [t for t in result["types"] if t["name"] == "email"]
    settings = conn.execute("select * from job_types where name = 'email'").fetchone()
    assert settings is not None
    for key in ("enabled", "concurrency_limit", "timeout_seconds", "max_attempts", "backoff_base_seconds",
                "backoff_cap_seconds"):
        assert email[key] == settings[key]
    assert (email["pending"], email["running"]) == (1, 1)
    (breaker,) = result["breakers"]
    assert breaker["provider"] == "resend"
    assert breaker["state"] == "open"
    assert breaker["consecutive_failures"] == 1
    assert breaker["last_error"] == "HTTP 503"
    assert breaker["open_until"] is not None


def test_a_paused_type_is_not_claimed_and_resuming_makes_it_claimable(conn: Conn) -> None:
    job_id = enqueue(conn, "email")
    other = enqueue(conn, "noop")
    assert value(conn, "select console_set_type_enabled('email', false, 'admin')") == {
        "type": "email", "enabled": False}
    assert [row["id"] for row in claim(conn, batch=10)] == [other]
    assert claim(conn, batch=10, types=["email"]) == []
    resumed = value(conn, "select console_set_type_enabled('email', true, 'cli')")
    assert resumed == {"type": "email", "enabled": True}
    assert [row["id"] for row in claim(conn, batch=10, types=["email"])] == [job_id]
    assert _audit(conn) == [
        {"actor": "admin", "action": "type.pause", "target": {"type": "email"}, "affected": 1,
         "detail": {"enabled": False}},
        {"actor": "cli", "action": "type.resume", "target": {"type": "email"}, "affected": 1,
         "detail": {"enabled": True}},
    ]


def test_pausing_a_paused_type_is_recorded_with_nothing_affected(conn: Conn) -> None:
    conn.execute("select console_set_type_enabled('email', false)")
    conn.execute("select console_set_type_enabled('email', false)")
    assert [(a["actor"], a["affected"]) for a in _audit(conn)] == [("sql", 1), ("sql", 0)]


@pytest.mark.parametrize(("args", "sqlstate", "message"), [
    (("nope", False, "admin"), "22QT1", "unknown job type 'nope'"),
    ((None, False, "admin"), "22QO1", "p_type and p_enabled are required"),
    (("email", None, "admin"), "22QO1", "p_type and p_enabled are required"),
    (("email", False, "root"), "22QO2", "p_actor must be admin, cli or sql"),
    (("email", False, None), "22QO2", "p_actor must be admin, cli or sql"),
])
def test_bad_type_arguments_change_nothing(conn: Conn, args: tuple[Any, ...], sqlstate: str,
                                           message: str) -> None:
    before = fingerprint(conn)
    error = _error(conn, "select console_set_type_enabled(%s, %s, %s)", args)
    assert error.sqlstate == sqlstate
    assert message in str(error)
    assert fingerprint(conn) == before
    assert _audit(conn) == []


def test_an_unknown_type_names_the_known_ones(conn: Conn) -> None:
    error = _error(conn, "select console_set_type_enabled('nope', true)")
    assert error.diag.message_hint is not None
    assert "email" in error.diag.message_hint


def test_resetting_a_breaker_closes_it_and_records_the_state_it_had(conn: Conn) -> None:
    _open_breaker(conn)
    _open_breaker(conn, "stripe")
    reset = value(conn, "select console_reset_breaker('resend', 'admin')")
    assert reset == {"provider": "resend", "state": "closed"}
    rows = {r["provider"]: r for r in conn.execute("select * from circuit_breakers")}
    resend = rows["resend"]
    assert (resend["state"], resend["consecutive_failures"], resend["open_until"]) == ("closed", 0, None)
    assert rows["stripe"]["state"] == "open"
    allowed = value(conn, "select circuit_breaker_allow('resend')")
    assert allowed["allowed"] is True
    assert _audit(conn) == [{"actor": "admin", "action": "breaker.reset", "target": {"provider": "resend"},
                             "affected": 1, "detail": {"state": "open", "consecutive_failures": 1}}]


@pytest.mark.parametrize(("provider", "sqlstate", "message"), [
    ("nope", "PT404", "no circuit breaker for provider 'nope'"),
    (None, "22QO1", "p_provider is required"),
])
def test_bad_breaker_arguments_change_nothing(conn: Conn, provider: str | None, sqlstate: str,
                                              message: str) -> None:
    _open_breaker(conn)
    before = conn.execute("select * from circuit_breakers").fetchall()
    error = _error(conn, "select console_reset_breaker(%s, 'admin')", (provider,))
    assert error.sqlstate == sqlstate
    assert message in str(error)
    assert conn.execute("select * from circuit_breakers").fetchall() == before
    assert _audit(conn) == []


def test_schedules_list_every_schedule_and_a_disabled_one_has_no_next_run(conn: Conn) -> None:
    conn.execute("select set_job_schedule('every_minute', '* * * * *', 'noop', '{\"s\": 1}', 'high', true)")
    result = value(conn, "select console_schedules()")
    names = [row["name"] for row in conn.execute("select name from job_schedules order by name")]
    assert [s["name"] for s in result["schedules"]] == names
    by_name = {s["name"]: s for s in result["schedules"]}
    minute = by_name["every_minute"]
    assert (minute["cron"], minute["type"], minute["payload"], minute["enabled"]) == (
        "* * * * *", "noop", {"s": 1}, True)
    assert minute["next_run_at"] is not None
    assert set(minute) == {"name", "cron", "type", "payload", "enabled", "next_run_at", "last_run_at",
                           "last_job_id"}
    disabled = [s for s in result["schedules"] if not s["enabled"]]
    assert disabled, "the seeded schedules are disabled"
    assert all(s["next_run_at"] is None for s in disabled)


def test_enabling_a_schedule_moves_its_next_run_after_now_and_disabling_stops_it(conn: Conn) -> None:
    conn.execute("select set_job_schedule('every_minute', '* * * * *', 'noop', '{}', 'normal', false)")
    conn.execute("update job_schedules set next_run_at = now() - interval '3 days' "
                 "where name = 'every_minute'")
    enabled = value(conn, "select console_set_schedule_enabled('every_minute', true, 'admin')")
    assert enabled["enabled"] is True
    assert enabled["next_run_at"] is not None
    next_run = value(conn, "select next_run_at from job_schedules where name = 'every_minute'")
    assert next_run > value(conn, "select now()")
    assert value(conn, "select enqueue_due_schedules(now() + interval '2 minutes')") == 1
    disabled = value(conn, "select console_set_schedule_enabled('every_minute', false, 'cli')")
    assert disabled == {"name": "every_minute", "enabled": False, "next_run_at": None}
    assert value(conn, "select enqueue_due_schedules(now() + interval '1 hour')") == 0
    assert [(a["actor"], a["action"], a["target"], a["affected"]) for a in _audit(conn)] == [
        ("admin", "schedule.enable", {"name": "every_minute"}, 1),
        ("cli", "schedule.disable", {"name": "every_minute"}, 1)]


@pytest.mark.parametrize(("args", "sqlstate", "message"), [
    (("nope", True, "admin"), "PT404", "no schedule named 'nope'"),
    ((None, True, "admin"), "22QO1", "p_name and p_enabled are required"),
    (("every_minute", None, "admin"), "22QO1", "p_name and p_enabled are required"),
    (("every_minute", True, "robot"), "22QO2", "p_actor must be admin, cli or sql"),
])
def test_bad_schedule_arguments_change_nothing(conn: Conn, args: tuple[Any, ...], sqlstate: str,
                                               message: str) -> None:
    conn.execute("select set_job_schedule('every_minute', '* * * * *', 'noop', '{}', 'normal', false)")
    before = fingerprint(conn)
    error = _error(conn, "select console_set_schedule_enabled(%s, %s, %s)", args)
    assert error.sqlstate == sqlstate
    assert message in str(error)
    assert fingerprint(conn) == before
    assert _audit(conn) == []


def test_concurrent_pauses_of_one_type_change_it_once(db_url: str, conn: Conn) -> None:
    barrier = threading.Barrier(4)

    def pause() -> None:
        with connect(db_url) as other:
            barrier.wait()
            other.execute("select console_set_type_enabled('email', false, 'admin')")

    threads = [threading.Thread(target=pause) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a["affected"] for a in _audit(conn)) == [0, 0, 0, 1]
    assert value(conn, "select enabled from job_types where name = 'email'") is False


def test_the_audit_list_pages_newest_first(conn: Conn) -> None:
    for name in ("email", "noop", "audio"):
        conn.execute("select console_set_type_enabled(%s, false, 'cli')", (name,))
    first = value(conn, "select console_audit_list(2)")["actions"]
    assert [a["target"]["type"] for a in first] == ["audio", "noop"]
    assert set(first[0]) == {"id", "at", "actor", "action", "target", "affected", "detail"}
    rest = value(conn, "select console_audit_list(50, %s)", (first[-1]["id"],))["actions"]
    assert [a["target"]["type"] for a in rest] == ["email"]
    assert value(conn, "select console_audit_list(10, 0)") == {"actions": []}
    assert _error(conn, "select console_audit_list(0)").sqlstate == "22QB1"


@pytest.mark.parametrize("call", ["console_types()", "console_schedules()", "console_audit_list()",
                                  "console_set_type_enabled('email', false)", "console_reset_breaker('x')",
                                  "console_set_schedule_enabled('x', true)"])
def test_clients_may_not_call_the_admin_functions(conn: Conn, call: str) -> None:
    for role in ("anon", "authenticated"):
        conn.execute(f"set role {role}")
        try:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"select {call}")
        finally:
            conn.execute("reset role")
