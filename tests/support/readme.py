"""The README's examples: each fenced code block with a language follows a
`<!-- example: NAME -->` marker, and tests run it by that name, as printed."""

from __future__ import annotations

import re
from typing import NamedTuple

from shared.config import REPO_ROOT

README = REPO_ROOT / "README.md"
_BLOCK = re.compile(r"^```(\w+)\n(.*?)\n```$", re.S | re.M)
_MARKER = re.compile(r"<!-- example: ([a-z0-9-]+) -->\n$")


class Block(NamedTuple):
    name: str | None  # None: no marker right before it
    language: str
    code: str
    line: int


def blocks() -> list[Block]:
    """Every fenced block that names a language, in README order."""
    text = README.read_text()
    found = []
    for match in _BLOCK.finditer(text):
        before = text[:match.start()]
        marker = _MARKER.search(before[-80:])
        found.append(Block(marker.group(1) if marker else None, match.group(1), match.group(2),
                           before.count("\n") + 1))
    return found


def example(name: str) -> str:
    """The code of the README block marked `name`."""
    named = [b for b in blocks() if b.name == name]
    assert len(named) == 1, f"README has {len(named)} blocks marked `example: {name}`"
    return named[0].code
