"""`queue-worker enqueue --file JOBS`: many jobs from a JSON-lines file (or `-`, stdin).

Each non-blank line is one job, the body `?action=enqueue` takes:
`{"type": "email", "payload": {...}, "priority": "high", "run_at": "+5m", ...}`.
`--priority`, `--run-at` and `--max-attempts` are defaults for lines that lack them.
Every line is checked first (the same checks as one job: the type's payload model, the
JSON limits), so a file with a bad line enqueues nothing; then the jobs go in with
`enqueue_jobs`, CHUNK a call, each call its own transaction. Job ids go to stdout, one a
line in file order; the progress line (on a terminal) and the summary go to stderr. What
the database refuses (a missing dependency) stops it there, naming the file's line; the
chunks before stay enqueued.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from shared.cli.args import UsageError, parse_json
from shared.cli.jobs import backend_for
from shared.cli.progress import Progress
from shared.config import Settings
from shared.processors import load_registry
from shared.queue.errors import QueueError
from shared.queue.job_input import JobRejected, new_job
from shared.queue.models import NewJob

CHUNK = 1000
ERRORS_SHOWN = 10
_ELEMENT = re.compile(r"^p_jobs element (\d+): ")


def cmd_enqueue_file(args: argparse.Namespace, settings: Settings) -> int:
    name = "stdin" if args.file == "-" else args.file
    numbers, jobs = read_jobs(args.file, name, defaults(args), load_registry())
    started = time.monotonic()
    done = 0
    with Progress() as progress, backend_for(settings) as backend:
        for start in range(0, len(jobs), CHUNK):
            try:
                ids = backend.jobs_enqueue(jobs[start:start + CHUNK])
            except QueueError as exc:
                progress.line(f"enqueued {done:,} of {len(jobs):,} (their ids are on stdout) "
                              "before this error:")
                raise at_line(exc, name, numbers[start:start + CHUNK]) from None
            print("\n".join(str(job_id) for job_id in ids), flush=True)
            done += len(ids)
            progress.update(f"enqueued {done:,}/{len(jobs):,}")
        progress.line(f"enqueued {done:,} job{'s' * (done != 1)} from {name} in "
                      f"{time.monotonic() - started:.1f} s ({-(-done // CHUNK)} call(s) of at most {CHUNK})")
    return 0


def defaults(args: argparse.Namespace) -> dict[str, Any]:
    given = {"priority": args.priority, "run_at": args.run_at, "max_attempts": args.max_attempts}
    return {key: value for key, value in given.items() if value is not None}


def at_line(exc: QueueError, name: str, numbers: Sequence[int]) -> QueueError:
    """The database's error for a chunk, naming the file's line instead of the batch element
    (`p_jobs element 50: ...` -> `jobs.jsonl line 150: ...`)."""
    element = _ELEMENT.match(exc.message)
    if element is None and len(numbers) != 1:
        return exc
    number = numbers[int(element.group(1)) - 1] if element else numbers[0]
    rest = exc.message[element.end():] if element else exc.message
    return type(exc)(f"{name} line {number}: {rest}", hint=exc.hint, sqlstate=exc.sqlstate)


def read_jobs(path: str, name: str, default: Mapping[str, Any],
              registry: Mapping[str, ModuleType]) -> tuple[list[int], list[NewJob]]:
    """Every line's number and job, or UsageError naming the first ERRORS_SHOWN bad lines."""
    numbers: list[int] = []
    jobs: list[NewJob] = []
    errors: list[str] = []
    with _opened(path) as stream:
        for number, line in _numbered(stream):
            try:
                jobs.append(_job(line, default, registry))
                numbers.append(number)
            except (argparse.ArgumentTypeError, JobRejected) as exc:
                errors.append(f"{name} line {number}: {_problem(exc)}")
    if errors:
        hidden = len(errors) - ERRORS_SHOWN
        more = f"\n  ... and {hidden} more bad lines" if hidden > 0 else ""
        raise UsageError(f"{len(errors)} bad line(s), nothing enqueued:\n  "
                         + "\n  ".join(errors[:ERRORS_SHOWN]) + more)
    if not jobs:
        raise UsageError(f"{name} has no jobs (one JSON object a line)")
    return numbers, jobs


def _job(line: bytes, default: Mapping[str, Any], registry: Mapping[str, ModuleType]) -> NewJob:
    body = parse_json(line, "", "", level=1)  # a line is a whole body, as in an HTTP request
    if not isinstance(body, dict):
        raise argparse.ArgumentTypeError('must be a JSON object like {"type": "noop", "payload": {}}')
    return new_job({**default, **body}, registry)


def _problem(exc: Exception) -> str:
    if isinstance(exc, JobRejected):
        return "; ".join(f"{field['field']}: {field['message']}" for field in exc.fields)
    return str(exc)


def _numbered(stream: IO[bytes]) -> Iterable[tuple[int, bytes]]:
    return ((number, line) for number, line in enumerate(stream, start=1) if line.strip())


@contextmanager
def _opened(path: str) -> Iterator[IO[bytes]]:
    """The file at `path` (binary), or stdin for `-`, with errors a person can act on."""
    if path == "-":
        yield sys.stdin.buffer
        return
    try:
        stream = Path(path).expanduser().open("rb")
    except FileNotFoundError:
        raise UsageError(f"--file {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"--file {path}: cannot read it ({exc.strerror or exc})") from None
    with stream:
        yield stream
