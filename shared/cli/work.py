"""`queue-worker work`: the resident worker, for hosts that keep a process running (a
container, Cloud Run with minimum instances, a VM). See shared/worker/resident.py.

Exit status: 0 after SIGTERM/SIGINT once the jobs it held are finished or given back;
128 + the signal's number when a second signal ends it at once; 2 bad usage.
"""

from __future__ import annotations

import argparse
import logging

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


def _stopping(signal_name: str) -> None:
    log_event(logging.WARNING, f"{signal_name} received: no new claims; running jobs finish, the others are "
              "given back (send it again to exit at once)")


def _exiting(signal_name: str) -> None:
    log_event(logging.ERROR, f"second {signal_name}: exiting now; jobs still running wait for their locks "
              "to expire (cleanup_stuck_jobs gives them back)")


def cmd_work(args: argparse.Namespace, settings: Settings) -> int:
    """Run the resident worker until SIGTERM or Ctrl-C."""
    options = resident_options(args, settings)
    with backend_for(settings) as backend, stop_then_exit_on_signals(_stopping, _exiting) as stop:
        totals = ResidentWorker(backend, settings, options, stop=stop).run()
    print(f"stopped after {totals.invocations} invocation(s): claimed {totals.claimed}, "
          f"completed {totals.completed}", flush=True)
    return 0
