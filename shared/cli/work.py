"""`queue-worker work`: the resident worker, for hosts that keep a process running (a
container, Cloud Run with minimum instances, a VM). See shared/worker/resident.py.

Exit status: 0 after SIGTERM/SIGINT/SIGHUP once the jobs it held are finished or given
back (running ones get QUEUE_WORKER_STOP_GRACE_SECONDS); 128 + the signal's number when a
second signal gives them back at once; 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable

from shared.cli.jobs import backend_for, check_types
from shared.config import Settings
from shared.local.database import sql_database_url
from shared.logs import log_event
from shared.worker.invocation import InvocationOptions
from shared.worker.resident import ResidentOptions, ResidentWorker
from shared.worker.shutdown import stop_then_exit_on_signals

SUPABASE_API_ONLY = ("SUPABASE_URL without DATABASE_URL: the Supabase API cannot LISTEN; set DATABASE_URL "
                     "to the direct (port 5432) or session-pooler connection string to be woken at once")


def resident_options(args: argparse.Namespace, settings: Settings) -> ResidentOptions:
    check_types(args.types)
    batch = args.batch or settings.queue_worker_default_batch
    invocation = InvocationOptions(types=args.types, batch_size=batch, time_budget_seconds=args.budget,
                                   concurrency=args.concurrency)
    if settings.database_url or not settings.supabase_url:
        return ResidentOptions(invocation, args.poll_interval, listen_url=sql_database_url(settings))
    return ResidentOptions(invocation, args.poll_interval, poll_reason=SUPABASE_API_ONLY)


def _stopping(grace_seconds: float) -> Callable[[str], None]:
    def say(signal_name: str) -> None:
        log_event(logging.WARNING, f"{signal_name} received: no new claims; running jobs have "
                  f"{grace_seconds:g}s to finish, then are given back, their attempt not counted "
                  "(send it again to give them back at once)")
    return say


def _exiting(signal_name: str) -> None:
    log_event(logging.ERROR, f"second {signal_name}: exiting now; the jobs still running are given back "
              "to pending, their attempt not counted")


def cmd_work(args: argparse.Namespace, settings: Settings) -> int:
    """Run the resident worker until SIGTERM or Ctrl-C."""
    options = resident_options(args, settings)
    signals = stop_then_exit_on_signals(_stopping(settings.queue_worker_stop_grace_seconds), _exiting)
    with backend_for(settings) as backend, signals as stop:
        totals = ResidentWorker(backend, settings, options, stop=stop).run()
    print(f"stopped after {totals.invocations} invocation(s): claimed {totals.claimed}, "
          f"completed {totals.completed}", flush=True)
    return stop.exit_status
