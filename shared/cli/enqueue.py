"""`queue-worker enqueue`: one job (TYPE with a payload inline, `@file.json` or `-`) or, with
`--file`, a JSON-lines file of them (shared/cli/enqueue_file.py). Prints the id(s).

Bad input is a UsageError (exit 2) naming what was typed: `--depends-on`, the payload's
fields; what the database refuses (a missing dependency) is exit 1 with its message.
"""

from __future__ import annotations

import argparse
from typing import Any

from shared.cli.args import UsageError
from shared.cli.enqueue_file import cmd_enqueue_file
from shared.cli.jobs import backend_for
from shared.config import Settings
from shared.processors import load_registry
from shared.queue.job_input import JobRejected, new_job

SINGLE_ONLY = (("type", "TYPE"), ("payload", "JSON"), ("payload_option", "--payload"),
               ("depends_on", "--depends-on"), ("idempotency_key", "--idempotency-key"))


def cmd_enqueue(args: argparse.Namespace, settings: Settings) -> int:
    if args.file is not None:
        given = [shown for name, shown in SINGLE_ONLY if getattr(args, name) is not None]
        if given:
            raise UsageError(f"{given[0]} does not go with --file (each line is a whole job)")
        return cmd_enqueue_file(args, settings)
    if args.type is None:
        raise UsageError("give a job TYPE (and its payload), or --file JOBS")
    return enqueue_one(args, settings)


def payload_of(args: argparse.Namespace) -> dict[str, Any]:
    if args.payload is not None and args.payload_option is not None:
        raise UsageError("give the payload once: as JSON or as --payload, not both")
    payload = args.payload if args.payload is not None else args.payload_option
    return payload if payload is not None else {}


def enqueue_one(args: argparse.Namespace, settings: Settings) -> int:
    """Validate the payload with the processor's model, then enqueue; prints the job id."""
    body: dict[str, Any] = {"type": args.type, "payload": payload_of(args), "priority": args.priority,
                            "run_at": args.run_at, "max_attempts": args.max_attempts,
                            "depends_on": args.depends_on, "idempotency_key": args.idempotency_key}
    try:
        job = new_job({k: v for k, v in body.items() if v is not None}, load_registry())
    except JobRejected as exc:
        raise UsageError("invalid job:\n" + "\n".join(f"  {f['field']}: {f['message']}"
                                                       for f in exc.fields)) from None
    with backend_for(settings) as backend:
        (job_id,) = backend.jobs_enqueue([job])
    print(job_id)
    return 0
