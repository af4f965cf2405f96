"""Argument types for the `queue-worker` command: each turns text into a value or says
what is allowed (argparse then exits with status 2: the error and where --help is)."""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from shared.queue.json_input import JsonRefused, load_json
from shared.queue.run_at import BadRunAt, parse_run_at

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


def json_text(text: str) -> str | bytes:
    """The JSON document `text` stands for: `@PATH` is the file's contents, `-` is stdin,
    anything else is the JSON itself (so a large payload needs no "Argument list too long")."""
    if text == "-":
        return sys.stdin.buffer.read()
    if not text.startswith("@"):
        return text
    path = Path(text[1:]).expanduser()
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise argparse.ArgumentTypeError(f"{text}: no such file") from None
    except IsADirectoryError:
        raise argparse.ArgumentTypeError(f"{text}: is a directory, not a JSON file") from None
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"{text}: cannot read it ({exc.strerror or exc})") from None


def parse_json(document: str | bytes, source: str, root: str, level: int) -> Any:
    """`load_json` with errors that name `source` and, for broken JSON, the line and column."""
    try:
        return load_json(document, root, level)
    except JsonRefused as refused:
        raise argparse.ArgumentTypeError(f"{source}{refused}") from None
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{source}not valid JSON at line {exc.lineno}, column {exc.colno}: "
                                         f"{exc.msg}") from None
    except UnicodeDecodeError:
        raise argparse.ArgumentTypeError(f"{source}not UTF-8 text, which JSON is") from None


def json_object(text: str) -> dict[str, Any]:
    """A JSON object (the payload): inline, `@file.json` or `-` (stdin), checked as the HTTP
    function checks a body: nesting depth and no NUL (`shared.queue.json_input`)."""
    source = "stdin: " if text == "-" else f"{text}: " if text.startswith("@") else ""
    value = parse_json(json_text(text), source, "payload", level=2)  # as inside an HTTP enqueue body
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{source}must be a JSON object like '{{\"key\": 1}}'"
                                         + ("" if source else f", not {text!r}"))
    return value


def run_at(text: str) -> datetime:
    """`--run-at`, read by the one run_at parser (`shared.queue.run_at`) the HTTP enqueue uses."""
    try:
        return parse_run_at(text)
    except BadRunAt as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a uuid") from None


def job_id(text: str) -> UUID:
    """A job's id, e.g. for --depends-on."""
    try:
        return UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: not a job id (a UUID)") from None


def job_types(text: str) -> list[str]:
    """`email,audio`: a comma-separated list (checked against the registry later)."""
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"{text!r} has an empty job type")
    return names
