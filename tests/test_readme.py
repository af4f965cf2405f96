"""The README agrees with the repo: its two commands are what CI runs, its SQLSTATE table
lists what the migrations raise
(each of which Python maps to InvalidInput). Reads files only; nothing faked."""

import re

from shared.config import REPO_ROOT
from shared.queue.errors import InvalidInput, error_for_sqlstate
from tests.support.readme import blocks, example


def test_the_readme_opens_with_the_run_and_the_test_command() -> None:
    first, second = blocks()[:2]
    assert (first.name, second.name) == ("run-command", "test-command")
    assert example("run-command").endswith("queue-worker dev")
    assert example("test-command").endswith(".venv/bin/pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    command = example("test-command")
    assert f"TEST_COMMAND='{command}'" in ci


def test_every_migration_records_its_own_version() -> None:
    for path in sorted((REPO_ROOT / "supabase" / "migrations").glob("*.sql")):
        version = path.name.split("_", 1)[0]
        assert re.fullmatch(r"\d{14}", version), path.name
        assert f"values ('{version}') on conflict do nothing;" in path.read_text(), path.name


def test_every_sqlstate_the_migrations_raise_is_mapped_and_documented() -> None:
    raised = set()
    for path in (REPO_ROOT / "supabase" / "migrations").glob("*.sql"):
        raised |= set(re.findall(r"queue\.raise\('(22Q[A-Z0-9]{2})'", path.read_text()))
    readme = (REPO_ROOT / "README.md").read_text()
    assert raised, "no queue.raise calls found: the pattern is stale"
    # Each becomes InvalidInput (HTTP 400) in Python, by its own entry or by its class 22.
    assert sorted(c for c in raised if not isinstance(error_for_sqlstate(c, "m", None), InvalidInput)) == []
    # A row names the code itself, or its family as a range (`22QY1` to `22QY5`, en dash).
    family = "`{}1`\N{EN DASH}".format
    undocumented = [code for code in raised if f"`{code}`" not in readme and family(code[:4]) not in readme]
    assert sorted(undocumented) == []
