"""The README's two commands are what CI and users run. Reads files only; nothing faked."""

import re

from shared.config import REPO_ROOT


def _readme_commands() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)


def test_the_readme_opens_with_the_run_and_the_test_command() -> None:
    commands = _readme_commands()
    assert commands[0].endswith("queue-worker dev")
    assert commands[1].endswith(".venv/bin/pytest")


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert f"TEST_COMMAND='{_readme_commands()[1]}'" in ci


def test_every_migration_records_its_own_version() -> None:
    for path in sorted((REPO_ROOT / "supabase" / "migrations").glob("*.sql")):
        version = path.name.split("_", 1)[0]
        assert re.fullmatch(r"\d{14}", version), path.name
        assert f"values ('{version}') on conflict do nothing;" in path.read_text(), path.name
