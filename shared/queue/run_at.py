"""A job's `run_at` as people write it, read the same way by every door: `queue-worker
enqueue --run-at`, `?action=enqueue` (and the console's enqueue form, which posts there)
and `enqueue --file` lines.

Two forms: an ISO 8601 time with its offset (`2026-12-01T09:00:00Z`,
`2026-12-01T10:00:00+01:00`), or a delay from now (`+30s`, `+5m`, `+2h`, `+1d`). A time
without an offset is refused: whose 09:00 it meant cannot be known.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

RUN_AT_ALLOWED = ("an ISO 8601 time with an offset (2026-12-01T09:00:00Z, 2026-12-01T10:00:00+01:00) "
                  "or a delay from now (+30s, +5m, +2h, +1d)")
_DELAY = re.compile(r"^\+(\d+(?:\.\d+)?)(s|m|h|d)$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class BadRunAt(ValueError):
    """`str()` says what was wrong and which forms are allowed."""


def parse_run_at(text: str, now: datetime | None = None) -> datetime:
    """The time `text` names (timezone-aware); BadRunAt otherwise. `now` for delays
    (default: the current time)."""
    written = text.strip()
    delay = _DELAY.match(written)
    if delay is not None:
        seconds = float(delay.group(1)) * _UNIT_SECONDS[delay.group(2)]
        try:
            return (now or datetime.now(UTC)) + timedelta(seconds=seconds)
        except OverflowError:
            raise BadRunAt(f"{text!r} is further away than a datetime goes; use {RUN_AT_ALLOWED}") from None
    try:
        when = datetime.fromisoformat(written)
    except ValueError:
        raise BadRunAt(f"{text!r} is not a time; use {RUN_AT_ALLOWED}") from None
    if when.tzinfo is None:
        raise BadRunAt(f"{text!r} has no offset (whose time is it?); add Z for UTC or +01:00; "
                       f"use {RUN_AT_ALLOWED}")
    return when
