"""Progress of long CLI work, on stderr so stdout stays parseable.

`update()` rewrites one status line in place, and only on a terminal (a log file or a pipe
would fill with them); `line()` always prints a line of its own (a finished step, the
summary). Used as a context manager, it ends a status line left open by an error.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import TextIO

_CLEAR = "\r\x1b[K"  # carriage return, erase to the end of the line


class Progress:
    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self._open = False

    def update(self, text: str) -> None:
        """Show `text` as the current status (a terminal only)."""
        if self.tty:
            self.stream.write(_CLEAR + text)
            self.stream.flush()
            self._open = True

    def line(self, text: str) -> None:
        """Print `text` as a line of its own, replacing the status line if one is shown."""
        self.stream.write((_CLEAR if self._open else "") + text + "\n")
        self.stream.flush()
        self._open = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        if self._open:
            self.stream.write("\n")
            self.stream.flush()
            self._open = False
