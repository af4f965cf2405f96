"""Argument types for the `queue-worker` command: each turns text into a value or says
what is allowed (argparse then exits with status 2 and the usage line)."""

from __future__ import annotations

import argparse
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from shared.queue.json_input import JsonRefused, load_json

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}


class UsageError(Exception):
    """Input the command cannot accept (exit status 2), found after argparse."""


def duration(text: str) -> float:
    """Seconds from `5s`, `2m`, `1h`, `250ms` or a bare number of seconds (`60`)."""
    if text.strip().startswith("-"):
        raise argparse.ArgumentTypeError(f"{text!r} is negative: a duration is positive; "
                                         "use e.g. 5s, 2m, 1h or 60")
    match = _DURATION.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration: use e.g. 5s, 2m, 1h or 60")
    return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def interval(text: str) -> float:
    """A duration of at least 0.1 s (how often something repeats)."""
    seconds = duration(text)
    if seconds < 0.1:
        raise argparse.ArgumentTypeError(f"{text!r} is too short: at least 0.1s")
    return seconds


def _int_at_least(text: str, low: int, high: int | None, allowed: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not {allowed}") from None
    if value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"{value} is not {allowed}")
    return value


def batch_size(text: str) -> int:
    """An integer from 1 to 1000 (what one claim may take)."""
    return _int_at_least(text, 1, 1000, "an integer from 1 to 1000")


def port(text: str) -> int:
    return _int_at_least(text, 1, 65535, "a port from 1 to 65535")


def positive_int(text: str) -> int:
    return _int_at_least(text, 1, None, "a positive integer")


def json_object(text: str) -> dict[str, Any]:
    """A JSON object given on the command line (the payload), checked as the HTTP function
    checks a body: nesting depth and no NUL (`shared.queue.json_input`)."""
    try:
        value = load_json(text, "payload", level=2)  # as inside an HTTP enqueue body
    except JsonRefused as refused:
        raise argparse.ArgumentTypeError(str(refused)) from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not valid JSON ({exc}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object like '{{\"key\": 1}}', not {text!r}")
    return value


def run_at(text: str) -> datetime:
    """An ISO 8601 time (`2026-12-01T09:00:00Z`; UTC when no offset) or `+5m` from now."""
    if text.startswith("+"):
        return datetime.now(UTC) + timedelta(seconds=duration(text[1:]))
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a time: use ISO 8601 (2026-12-01T09:00:00Z) or +30s / +5m / +2h") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a uuid") from None


def job_types(text: str) -> list[str]:
    """`email,audio`: a comma-separated list (checked against the registry later)."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty job type")
    return names
