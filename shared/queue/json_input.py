"""JSON from outside (an HTTP body, the payload of `queue-worker enqueue`), checked before
anything else sees it, so both doors refuse the same documents with the same words.

* At most `MAX_DEPTH` levels of objects and arrays. Deeper documents break things
  further in with errors that name nothing: pydantic stops serialising at about 250
  levels, `json` raises RecursionError at about 1,000, both as a 500. No payload a
  processor takes comes near 64 levels.
* No NUL (`\\u0000`) in any string or key: PostgreSQL's jsonb and text cannot store it
  and says only "unsupported Unicode escape sequence", naming neither field nor fix.
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64
DEPTH_ALLOWED = f"objects and arrays nested at most {MAX_DEPTH} levels deep"
TEXT_ALLOWED = "any Unicode text except \\u0000 (NUL), which PostgreSQL cannot store"
_FIELD_MAX_CHARS = 200  # a path 64 levels deep is long; enough of it to find the spot


class JsonRefused(ValueError):
    """A document the queue will not take; `field` is the dotted path to the culprit
    (None when the parser gave up before one was known). `str()` is the full sentence."""

    def __init__(self, field: str | None, problem: str, allowed: str) -> None:
        self.field, self.problem, self.allowed = field, problem, allowed
        super().__init__(f"{field + ': ' if field else ''}{problem}; allowed: {allowed}")


def load_json(text: str | bytes, root: str = "", level: int = 1) -> Any:
    """`json.loads` plus `check_json`: too deep or NUL is `JsonRefused` (a ValueError, so
    catch it before the ValueError or UnicodeDecodeError of text that is not JSON)."""
    try:
        value = json.loads(text)
    except RecursionError:  # deeper than the parser goes: no path to name
        raise JsonRefused(None, f"the JSON is nested more than {MAX_DEPTH} levels deep",
                          DEPTH_ALLOWED) from None
    check_json(value, root, level)
    return value


def check_json(value: Any, root: str = "", level: int = 1) -> None:
    """Raise `JsonRefused` for a container deeper than MAX_DEPTH or a string or key holding
    a NUL (whichever the walk meets first). `root` names `value` in the field path
    ("payload") and `level` is its own depth: a payload alone is level 2, as inside the
    job of an HTTP body, so both doors judge it alike. Iterative, so a deep document
    cannot exhaust the stack here."""
    pending: list[tuple[Any, str, int]] = [(value, root, level)]
    while pending:
        item, path, depth = pending.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            raise JsonRefused(_shown(path), f"nested more than {MAX_DEPTH} levels deep", DEPTH_ALLOWED)
        if isinstance(item, dict):
            pending.extend(_members(item, path, depth))
        elif isinstance(item, list):
            pending.extend((child, _join(path, str(index)), depth + 1) for index, child in enumerate(item))
        elif isinstance(item, str) and "\x00" in item:
            raise JsonRefused(_shown(path), "the string contains \\u0000 (NUL)", TEXT_ALLOWED)


def _members(item: dict[str, Any], path: str, depth: int) -> list[tuple[Any, str, int]]:
    for key in item:
        if "\x00" in key:
            raise JsonRefused(_shown(_join(path, key)), "the key contains \\u0000 (NUL)", TEXT_ALLOWED)
    return [(child, _join(path, key), depth + 1) for key, child in item.items()]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _shown(path: str) -> str | None:
    """The path as JSON would spell it (a NUL shows as \\u0000), cut to a readable length;
    None for the top level, which has no name."""
    if not path:
        return None
    spelled = json.dumps(path, ensure_ascii=False)[1:-1]
    return spelled if len(spelled) <= _FIELD_MAX_CHARS else spelled[:_FIELD_MAX_CHARS - 3] + "..."
