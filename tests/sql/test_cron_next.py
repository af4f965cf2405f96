"""queue.cron_next: 5-field cron parsing and the next matching minute (UTC).

Real: PostgreSQL. Faked: nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.sql.factories import Conn, sqlstate_of, value


def _next(conn: Conn, expr: str, after: str) -> str:
    at: datetime = value(conn, "select queue.cron_next(%s, %s::timestamptz)", (expr, after))
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M %a")


CASES = [
    ("* * * * *", "2026-01-05 10:00:30Z", "2026-01-05 10:01 Mon"),
    ("*/15 * * * *", "2026-01-05 10:16:00Z", "2026-01-05 10:30 Mon"),
    ("0 9 * * 1", "2026-01-05 09:00:00Z", "2026-01-12 09:00 Mon"),  # strictly after
    ("0 9 * * 1", "2026-01-05 08:59:59Z", "2026-01-05 09:00 Mon"),
    ("0 2 * * *", "2026-01-31 23:00:00Z", "2026-02-01 02:00 Sun"),
    ("0 0 1 * *", "2026-12-15 00:00:00Z", "2027-01-01 00:00 Fri"),
    ("30 8 * * mon-fri", "2026-01-09 09:00:00Z", "2026-01-12 08:30 Mon"),
    ("0 12 29 2 *", "2026-03-01 00:00:00Z", "2028-02-29 12:00 Tue"),
    ("5,35 1-2 * * *", "2026-01-05 01:40:00Z", "2026-01-05 02:05 Mon"),
    ("0 0 * jan,jul sun", "2026-02-01 00:00:00Z", "2026-07-05 00:00 Sun"),
    ("0 0 * * 7", "2026-01-05 00:00:00Z", "2026-01-11 00:00 Sun"),
    ("0 0 13 * 5", "2026-01-05 00:00:00Z", "2026-01-09 00:00 Fri"),  # day-of-month OR weekday
    ("10-20/5 * * * *", "2026-01-05 10:16:00Z", "2026-01-05 10:20 Mon"),
    ("@daily", "2026-01-05 10:00:00Z", "2026-01-06 00:00 Tue"),
    ("@hourly", "2026-01-05 10:00:00Z", "2026-01-05 11:00 Mon"),
    ("@weekly", "2026-01-05 10:00:00Z", "2026-01-11 00:00 Sun"),
]


@pytest.mark.parametrize(("expr", "after", "expected"), CASES)
def test_the_next_slot_is_the_first_matching_minute_after(
    conn: Conn, expr: str, after: str, expected: str
) -> None:
    assert _next(conn, expr, after) == expected


@pytest.mark.parametrize(
    ("expr", "says"),
    [
        ("", "has 0 fields"),
        ("* * * *", "has 4 fields"),
        ("60 * * * *", "'60' is outside 0-59"),
        ("* 24 * * *", "'24' is outside 0-23"),
        ("* * 0 * *", "'0' is outside 1-31"),
        ("* * * 13 *", "'13' is outside 1-12"),
        ("* * * * 8", "'8' is outside 0-7"),
        ("*/0 * * * *", "outside 0-59 or empty"),
        ("5-1 * * * *", "outside 0-59 or empty"),
        ("a * * * *", "'a' is not a number"),
        ("1,,2 * * * *", "'' is not a number"),
        ("99999999999 * * * *", "is not a number"),
        ("0 0 30 2 *", "never fires"),
    ],
)
def test_a_bad_cron_expression_raises_22qc1_naming_the_problem(conn: Conn, expr: str, says: str) -> None:
    error = sqlstate_of(lambda: conn.execute("select queue.cron_next(%s, now())", (expr,)))
    assert error.sqlstate == "22QC1"
    assert says in (error.diag.message_primary or "")
    assert error.diag.message_hint
