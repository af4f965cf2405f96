"""How `queue-worker` meets a person who typed something wrong, or cut its output short:
the error from the subcommand typed with one line pointing at its --help (status 2), the
closest option suggested, `| head` ending quietly, and every command's --help.

Real: the argparse tree, PostgreSQL and the installed console script in a subprocess for
the broken pipe and the README's example. Nothing faked.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.cli.parser import build_parser
from tests.cli.test_cli_dlq import bulk
from tests.cli.test_cli_jobs import exit_status
from tests.support.readme import example

SCRIPT = Path(sys.executable).parent / "queue-worker"


@pytest.mark.parametrize(("argv", "prog", "error"), [
    (["enqueue", "noop", "--priorty", "high"], "queue-worker enqueue",
     "unrecognized arguments: --priorty high (did you mean --priority?)"),
    (["dlq", "list", "--limt", "5"], "queue-worker dlq list",
     "unrecognized arguments: --limt 5 (did you mean --limit?)"),
    (["jobs", "list", "--stauts=ready"], "queue-worker jobs list", "unrecognized arguments: --stauts=ready "
     "(did you mean --status?)"),
    (["process", "--once", "--zzz"], "queue-worker process", "unrecognized arguments: --zzz"),
    (["dql", "list"], "queue-worker", "argument COMMAND: invalid choice: 'dql' (choose from "),
])
def test_a_typo_is_reported_by_the_subcommand_typed_with_the_closest_option(
        argv: list[str], prog: str, error: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(argv) == 2
    first, second = capsys.readouterr().err.splitlines()
    assert first.startswith(f"{prog}: error: {error}")
    assert second == f"Try '{prog} --help'."


def test_the_readmes_usage_error_is_what_the_cli_prints(tmp_path: Path) -> None:
    """The README block `cli-usage-error`, run as printed through the console script."""
    command, *printed = example("cli-usage-error").splitlines()
    argv = shlex.split(command.removeprefix("$ "))
    env = {"PATH": f"{SCRIPT.parent}:/usr/bin:/bin", "LOCAL_DIR": str(tmp_path)}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr.splitlines()) == (2, "", printed)


def test_a_mistyped_command_suggests_the_closest(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["dql", "list"]) == 2
    assert capsys.readouterr().err.splitlines()[0].endswith("; did you mean 'dlq'?")


def test_an_unknown_word_with_nothing_close_gets_no_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["stats", "--xyzzy"]) == 2
    first = capsys.readouterr().err.splitlines()[0]
    assert first == "queue-worker stats: error: unrecognized arguments: --xyzzy"


def test_dlq_list_into_a_closed_pipe_ends_quietly_with_status_141(
        cli_env: str, conn: psycopg.Connection[Any], tmp_path: Path) -> None:
    """As `queue-worker dlq list --json | head -1`: far more output than a pipe holds, so the
    writes after the reader left fail with EPIPE."""
    bulk(conn, 1000, "smtp 421 try %s")
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": cli_env, "LOCAL_DIR": str(tmp_path)}
    reader = subprocess.Popen([str(SCRIPT), "dlq", "list", "--limit", "1000", "--json"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert reader.stdout is not None
    assert reader.stderr is not None
    assert reader.stdout.readline() == b"[\n"
    reader.stdout.close()  # what head does after its line
    stderr = reader.stderr.read().decode()
    assert reader.wait(timeout=60) == 141
    assert stderr == ""  # no BrokenPipeError traceback, no "Exception ignored"


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every parser of a command that runs (not a group like `dlq`)."""
    groups = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not groups:
        return [parser]
    children = {id(p): p for group in groups for p in group.choices.values()}
    return [leaf for child in children.values() for leaf in leaf_parsers(child)]


def summaries(parser: argparse.ArgumentParser) -> dict[str, str | None]:
    """`prog` of each subcommand -> its one-line summary (the help in its parent's list)."""
    found: dict[str, str | None] = {}
    for group in (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)):
        for listed in group._choices_actions:
            found[f"{parser.prog} {listed.dest}"] = listed.help
        for child in dict.fromkeys(group.choices.values()):
            found |= summaries(child)
    return found


def test_every_command_has_a_one_line_summary() -> None:
    listed = summaries(build_parser())
    assert {p.prog for p in leaf_parsers(build_parser())} <= set(listed)
    assert [prog for prog, text in listed.items() if not text or "\n" in text] == []


@pytest.mark.parametrize("parser", leaf_parsers(build_parser()), ids=lambda p: p.prog)
def test_every_command_has_a_description(parser: argparse.ArgumentParser,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert len(parser.description or "") > 20, parser.prog
    assert exit_status([*parser.prog.split()[1:], "--help"]) == 0
    assert capsys.readouterr().out.startswith(f"usage: {parser.prog}")


def test_enqueue_help_shows_examples_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(["enqueue", "--help"]) == 0
    out = capsys.readouterr().out
    assert "\nexamples:\n  queue-worker enqueue email '{\"to\": \"ada@example.com\"" in out
    assert "\n  queue-worker enqueue --file jobs.jsonl --priority low > ids.txt\n" in out
