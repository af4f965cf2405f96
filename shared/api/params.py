"""Query parameters and bodies of the worker function, checked before anything runs.

Each parser raises `HttpProblem` naming the parameter and what is allowed, so the
caller sees `400 {"parameter": "batch", "allowed": "an integer from 1 to 1000"}`
instead of a stack trace.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any
from uuid import UUID

from shared.queue.json_input import JsonRefused, load_json

BATCH_MIN, BATCH_MAX = 1, 1000


class HttpProblem(Exception):
    """A request the function refuses, with its HTTP status and the details to show."""

    def __init__(self, status: int, error: str, message: str, *, hint: str | None = None,
                 headers: Mapping[str, str] | None = None, **details: Any) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.hint = hint
        self.headers = dict(headers or {})
        self.details = details

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"error": self.error, "message": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body | self.details


def bad_parameter(name: str, value: str, allowed: str) -> HttpProblem:
    """400 for query parameter `name`: what was given and what is allowed."""
    return HttpProblem(400, "InvalidParameter", f"{name}={value!r} is not allowed: {name} must be {allowed}",
                       parameter=name, allowed=allowed)


def single(args: Mapping[str, Sequence[str]], name: str) -> str | None:
    """The value of parameter `name`, or None; given twice is an error."""
    values = list(args.get(name, ()))
    if len(values) > 1:
        raise bad_parameter(name, ",".join(values), "given once")
    return values[0] if values else None


def parse_batch(args: Mapping[str, Sequence[str]], default: int | None) -> int | None:
    """`?batch=N`: jobs claimed per round trip, 1-1000 (None: the worker adapts it)."""
    raw = single(args, "batch")
    if raw is None:
        return default
    allowed = f"an integer from {BATCH_MIN} to {BATCH_MAX}"
    try:
        value = int(raw.strip())
    except ValueError:
        raise bad_parameter("batch", raw, allowed) from None
    if not BATCH_MIN <= value <= BATCH_MAX:
        raise bad_parameter("batch", raw, allowed)
    return value


def parse_types(args: Mapping[str, Sequence[str]], known: Collection[str]) -> list[str] | None:
    """`?type=email,audio` (or repeated): job types to work on; None means all."""
    given = [part.strip() for raw in args.get("type", ()) for part in raw.split(",")]
    if not given:
        return None
    allowed = "a comma-separated list of known job types: " + ", ".join(sorted(known))
    unknown = [name for name in given if name not in known]
    if unknown or "" in given:
        problem = bad_parameter("type", ",".join(given), allowed)
        problem.details["known_types"] = sorted(known)
        raise problem
    return list(dict.fromkeys(given))


def parse_uuid(args: Mapping[str, Sequence[str]], name: str, what: str) -> UUID:
    """A required uuid parameter; `what` says whose id it is (for the message)."""
    raw = single(args, name)
    if raw is None:
        raise HttpProblem(400, "MissingParameter", f"{name} is required: the {what} id",
                          parameter=name, allowed=f"the uuid of a {what}")
    try:
        return UUID(raw.strip())
    except ValueError:
        raise bad_parameter(name, raw, f"the uuid of a {what}") from None


def json_body(body: bytes, *, required: bool) -> dict[str, Any]:
    """The request body as a JSON object; empty counts as `{}` unless `required`. Too deep
    or a NUL in a string or key is a 400 naming the field (`shared.queue.json_input`)."""
    if not body.strip():
        if required:
            raise HttpProblem(400, "InvalidBody", "this action needs a JSON object body")
        return {}
    try:
        value = load_json(body)
    except JsonRefused as refused:
        raise HttpProblem(400, "InvalidBody", str(refused), field=refused.field,
                          allowed=refused.allowed) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise HttpProblem(400, "InvalidBody", f"the body is not valid JSON: {exc}",
                          hint="send a JSON object with Content-Type: application/json") from None
    if not isinstance(value, dict):
        raise HttpProblem(400, "InvalidBody", f"the body must be a JSON object, not {type(value).__name__}")
    return value
