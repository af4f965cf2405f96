"""`queue-worker process | stats | health | metrics`: the queue from a terminal (enqueue:
enqueue.py, dlq: console_dlq.py).

Each command returns its exit status: 0 done, 1 failed (or unhealthy), 2 bad input
(raised as UsageError; argparse handles the rest).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from shared.cli.args import UsageError
from shared.config import Settings
from shared.local.database import open_backend
from shared.ops import metrics
from shared.ops.health import health_report
from shared.processors import load_registry
from shared.queue import QueueBackend
from shared.worker.invocation import InvocationOptions, InvocationReport, run_invocation
from shared.worker.shutdown import stop_on_signals


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


@contextmanager
def backend_for(settings: Settings) -> Iterator[QueueBackend]:
    backend = open_backend(settings)
    try:
        yield backend
    finally:
        backend.close()


def summary(report: InvocationReport) -> str:
    return (f"claimed {report.claimed}: completed {report.completed}, retried {report.retried}, "
            f"dead-lettered {report.dead_lettered}, released {report.released} "
            f"({report.duration_seconds:.2f} s, worker {report.worker_id})")


def check_types(names: list[str] | None) -> None:
    """UsageError unless every name has a processor."""
    known = load_registry()
    unknown = [name for name in names or () if name not in known]
    if unknown:
        raise UsageError(f"unknown job type(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")


def process_options(args: argparse.Namespace, settings: Settings) -> InvocationOptions:
    check_types(args.type)
    return InvocationOptions(types=args.type, batch_size=args.batch or settings.queue_worker_default_batch,
                             time_budget_seconds=args.budget or settings.queue_worker_time_budget_seconds,
                             max_jobs=args.max_jobs)


def cmd_process(args: argparse.Namespace, settings: Settings) -> int:
    """One invocation with --once; otherwise invocations every --every until Ctrl-C."""
    options = process_options(args, settings)
    with backend_for(settings) as backend, stop_on_signals() as stop:
        while True:
            report = run_invocation(backend, settings, options, stop=stop)
            if args.json:
                print_json(report.to_dict())
            elif report.claimed or args.once:
                print(summary(report), flush=True)
            if args.once or stop.wait(args.every):
                return 0


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    with backend_for(settings) as backend:
        print_json(backend.queue_stats())
    return 0


def cmd_metrics(args: argparse.Namespace, settings: Settings) -> int:
    """Prints what ?action=metrics answers (Prometheus text); exit 1 when the database could
    not be read (the text then says queue_worker_up 0)."""
    with backend_for(settings) as backend:
        result = metrics.scrape(backend)
    sys.stdout.write(result.text.decode())
    return 0 if result.up else 1


HEALTH_EXIT = {"ok": 0, "warning": 1, "critical": 2}


def cmd_health(args: argparse.Namespace, settings: Settings) -> int:
    """Prints the report (lines on a terminal, JSON otherwise); exit 0 ok, 1 warning,
    2 critical or down."""
    with backend_for(settings) as backend:
        report = health_report(backend, settings, load_registry())
    if args.json or not sys.stdout.isatty():
        print_json(report)
    else:
        print(health_lines(report))
    return HEALTH_EXIT[report["severity"]]


def health_lines(report: dict[str, Any]) -> str:
    """The failing checks, worst first, one line each with its hint; then a summary."""
    failing = sorted(((name, check) for name, check in report["checks"].items() if not check["ok"]),
                     key=lambda item: (-HEALTH_EXIT[item[1]["severity"]], item[0]))
    lines = []
    for name, check in failing:
        measured = ""
        if check.get("threshold") is not None:
            value = "none" if check.get("value") is None else check["value"]
            measured = f" {value} > {check['threshold']} {check.get('unit', '')}".rstrip()
        hint = check.get("hint") or check.get("error") or check.get("message") or ""
        lines.append(f"{check['severity'].upper():8} {name}{measured}")
        if hint:
            lines.append(f"         {hint}")
    skipped = ", ".join(item["check"] for item in report.get("not_checked", []))
    lines.append(f"{report['status']} ({report['severity']}): {len(failing)} of {len(report['checks'])} "
                 "checks need attention" + (f"; not checked: {skipped}" if skipped else ""))
    return "\n".join(lines)


