"""`queue-worker` console commands: dlq. Wired into `shared.cli.parser.build_parser`."""

from __future__ import annotations

import argparse


def add_parsers(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add this module's subcommands to the top-level parser."""
