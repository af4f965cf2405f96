"""`queue-worker dashboard`: the operator console on this machine.

Migrates DATABASE_URL (or the embedded PostgreSQL), serves the function with
functions-framework on localhost exactly as `queue-worker dev` does (no scheduler, no
kicks: nothing is processed unless the page or a caller asks), prints the page's URL and
the token to sign in with, and runs until Ctrl-C. Opens no browser.
Wired into `shared.cli.parser.build_parser`.
"""

from __future__ import annotations

import argparse
import threading

from shared.cli import args as cli_args
from shared.config import Settings
from shared.local.database import describe, migrate_database, sql_database_url
from shared.local.stack import DevOptions, port_is_free, start_server, stop_server, wait_until_serving
from shared.queue.errors import QueueError
from shared.worker.shutdown import stop_on_signals

DEFAULT_PORT = 8081


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the top-level parser."""
    text = "serve the operator console locally and print its URL"
    parser = subparsers.add_parser("dashboard", help=text, description=(
        "Migrate DATABASE_URL (or the embedded PostgreSQL), serve the function on localhost and print "
        "the console's URL (/dashboard). Ctrl-C stops it."))
    parser.set_defaults(run=cmd_dashboard, command="dashboard", parser=parser)
    parser.add_argument("--port", type=cli_args.port, default=DEFAULT_PORT,
                        help=f"port to serve on (default {DEFAULT_PORT})")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")


def cmd_dashboard(args: argparse.Namespace, settings: Settings) -> int:
    options = DevOptions(port=args.port, host=args.host)
    if not port_is_free(options.host, options.port):
        raise QueueError(f"port {options.port} on {options.host} is in use", hint="pass --port")
    with stop_on_signals() as stop:
        return serve_dashboard(settings, options, stop)


def serve_dashboard(settings: Settings, options: DevOptions, stop: threading.Event) -> int:
    """Serve until `stop` is set (0) or the server dies (1)."""
    database_url = sql_database_url(settings)
    migrate_database(database_url, settings)
    server = start_server(database_url, settings, options)
    try:
        wait_until_serving(server, options.url, stop)
        if not stop.is_set():
            print(banner(options, database_url, settings), flush=True)
        while not stop.wait(0.5):
            if server.poll() is not None:
                print(f"queue-worker dashboard: the server exited with {server.returncode}", flush=True)
                return 1
        return 0
    finally:
        stop_server(server)


def banner(options: DevOptions, database_url: str, settings: Settings) -> str:
    token = ("sign in with QUEUE_WORKER_SECRET (or QUEUE_WORKER_READONLY_SECRET to only read)"
             if settings.worker_secret else "no QUEUE_WORKER_SECRET is set: any token signs in as admin")
    return "\n".join([f"dashboard: {options.url}dashboard", f"database: {describe(database_url)}",
                      f"token: {token}", "Ctrl-C stops it."])
