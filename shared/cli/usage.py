"""How `queue-worker` reports bad usage: the error from the (sub)command that was typed,
one line pointing at its `--help`, exit status 2. No usage block: it buries the error.

    queue-worker enqueue: error: unrecognized arguments: --priorty (did you mean --priority?)
    Try 'queue-worker enqueue --help'.
"""

from __future__ import annotations

import argparse
import difflib
import re
import sys
import textwrap
from collections.abc import Sequence
from typing import Any, NoReturn


def usage_error(prog: str, message: str) -> None:
    """Print `message` as `prog`'s error, and where its help is (to stderr)."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    print(f"Try '{prog} --help'.", file=sys.stderr)


class ExampleFormatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description or epilog, but keeps a paragraph with indented
    lines (examples) as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        blocks = []
        for block in text.split("\n\n"):
            if any(line.startswith(" ") for line in block.splitlines()):
                blocks.append(textwrap.indent(block, indent))
            else:
                blocks.append(textwrap.fill(" ".join(block.split()), width, initial_indent=indent,
                                            subsequent_indent=indent, break_on_hyphens=False))
        return "\n\n".join(blocks)


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line plus a pointer to `--help`, and whose
    subcommand parsers refuse unknown options themselves (argparse leaves them to the
    top-level parser, which then shows the wrong usage)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", ExampleFormatter)
        super().__init__(*args, **kwargs)

    def parse_known_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                         namespace: argparse.Namespace | None = None) -> tuple[argparse.Namespace, list[str]]:
        parsed, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}{self._suggestion(extras)}")
        return parsed, extras

    def _suggestion(self, extras: list[str]) -> str:
        """` (did you mean --priority?)` for the first unknown option close to a known one."""
        known = list(self._option_string_actions)
        for extra in extras:
            if extra.startswith("-"):
                close = difflib.get_close_matches(extra.split("=", 1)[0], known, n=1, cutoff=0.6)
                if close:
                    return f" (did you mean {close[0]}?)"
        return ""

    def error(self, message: str) -> NoReturn:
        usage_error(self.prog, _with_choice_suggestion(message))
        sys.exit(2)


_INVALID_CHOICE = re.compile(r"invalid choice: '([^']*)' \(choose from (.*)\)$")


def _with_choice_suggestion(message: str) -> str:
    """argparse's `invalid choice: 'dql' (choose from 'dev', ...)` plus `did you mean 'dlq'?`."""
    match = _INVALID_CHOICE.search(message)
    if match is None:
        return message
    choices = re.findall(r"'([^']*)'", match.group(2))
    close = difflib.get_close_matches(match.group(1), choices, n=1, cutoff=0.6)
    return f"{message}; did you mean '{close[0]}'?" if close else message
