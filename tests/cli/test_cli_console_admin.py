"""`queue-worker types | breakers | schedules | audit`, run in-process through `main()`.

Real: PostgreSQL (this test's database through DATABASE_URL), the CLI's parser and commands,
breakers and schedules made through the SQL API. Nothing faked.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from shared.cli.main import main
from tests.sql.factories import claim, enqueue

Conn = psycopg.Connection[dict[str, Any]]


def exit_status(argv: list[str]) -> int:
    """main()'s status, also when argparse exits on its own (bad usage)."""
    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)


def _audit(conn: Conn) -> list[tuple[str, str, dict[str, Any]]]:
    rows = conn.execute("select actor, action, target from console_actions order by id").fetchall()
    return [(r["actor"], r["action"], r["target"]) for r in rows]


@pytest.fixture
def setup(cli_env: str, conn: Conn) -> Conn:
    conn.execute("select circuit_breaker_record('resend', false, 1, 60, 'HTTP 503')")
    conn.execute("select set_job_schedule('every_minute', '* * * * *', 'noop', '{}', 'normal', false)")
    return conn


def test_types_list_prints_a_table_and_json(setup: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue(setup, "email")
    assert main(["types", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["NAME", "ENABLED", "PENDING", "RUNNING"]
    email = next(line.split() for line in lines if line.startswith("email "))
    assert email[1:4] == ["True", "1", "0"]
    assert main(["types", "list", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert {t["name"] for t in body["types"]} >= {"email", "noop"}
    assert body["breakers"][0]["provider"] == "resend"


def test_pause_keeps_a_types_jobs_unclaimed_until_resume(setup: Conn,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    job_id = enqueue(setup, "email")
    assert main(["types", "pause", "email"]) == 0
    assert capsys.readouterr().out.strip() == "type: email, enabled: False"
    assert claim(setup, types=["email"]) == []
    assert main(["types", "resume", "email", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"type": "email", "enabled": True}
    assert [row["id"] for row in claim(setup, types=["email"])] == [job_id]
    assert _audit(setup) == [("cli", "type.pause", {"type": "email"}),
                             ("cli", "type.resume", {"type": "email"})]


def test_an_unknown_type_fails_with_the_known_ones(setup: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["types", "pause", "nope"]) == 1
    err = capsys.readouterr().err
    assert "queue-worker types pause: error: unknown job type 'nope'" in err
    assert "hint: known types:" in err
    assert _audit(setup) == []


def test_breakers_list_and_reset(setup: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["breakers", "list"]) == 0
    out = capsys.readouterr().out
    header = ["PROVIDER", "STATE", "CONSECUTIVE_FAILURES", "OPEN_UNTIL", "LAST_ERROR"]
    assert out.splitlines()[0].split() == header
    assert "resend" in out
    assert "HTTP 503" in out
    assert main(["breakers", "reset", "resend"]) == 0
    assert "state: closed" in capsys.readouterr().out
    assert main(["breakers", "reset", "nope"]) == 1
    assert "no circuit breaker for provider 'nope'" in capsys.readouterr().err
    assert _audit(setup) == [("cli", "breaker.reset", {"provider": "resend"})]


def test_schedules_list_enable_and_disable(setup: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schedules", "enable", "every_minute"]) == 0
    assert "enabled: True" in capsys.readouterr().out
    assert main(["schedules", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["schedules"]
    minute = next(s for s in listed if s["name"] == "every_minute")
    assert minute["enabled"] is True
    assert minute["next_run_at"] is not None
    assert main(["schedules", "disable", "every_minute"]) == 0
    capsys.readouterr()
    assert main(["schedules", "list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = next(line.split() for line in lines if line.startswith("every_minute"))
    assert row[1:3] == ["False", "*"]
    assert main(["schedules", "enable", "nope"]) == 1
    assert "no schedule named 'nope'" in capsys.readouterr().err


def test_audit_lists_newest_first_and_pages(setup: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("email", "noop", "audio"):
        assert main(["types", "pause", name]) == 0
    capsys.readouterr()
    assert main(["audit", "--limit", "2", "--json"]) == 0
    actions = json.loads(capsys.readouterr().out)["actions"]
    assert [a["target"]["type"] for a in actions] == ["audio", "noop"]
    assert main(["audit", "--before", str(actions[-1]["id"])]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["ID", "AT", "ACTOR", "ACTION", "TARGET", "AFFECTED"]
    assert len(lines) == 2
    assert '{"type":"email"}' in lines[1]


def test_an_empty_audit_says_so(setup: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit"]) == 0
    assert capsys.readouterr().out.strip() == "(no actions)"


@pytest.mark.parametrize("argv", [["audit", "--limit", "0"], ["audit", "--limit", "1001"],
                                  ["audit", "--before", "x"], ["types", "pause"], ["breakers", "reset"],
                                  ["schedules", "enable"]])
def test_bad_usage_exits_2(setup: Conn, argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status(argv) == 2
    command = " ".join(argv[:1] if argv[0] == "audit" else argv[:2])
    assert capsys.readouterr().err.endswith(f"Try 'queue-worker {command} --help'.\n")
    assert _audit(setup) == []


@pytest.mark.parametrize("group", ["types", "breakers", "schedules"])
def test_a_group_without_its_command_prints_help(setup: Conn, group: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert exit_status([group]) == 2
    assert f"{group} commands" in capsys.readouterr().err


def test_overview_prints_the_per_type_table_and_json(setup: Conn, capsys: pytest.CaptureFixture[str]) -> None:
    enqueue(setup, "noop")
    enqueue(setup, "noop")
    claim(setup, "w-overview", 1)
    assert main(["overview"]) == 0
    out = capsys.readouterr().out
    noop = next(line for line in out.splitlines() if line.startswith("noop "))
    assert noop.split()[:5] == ["noop", "True", "1", "0", "1"]  # type, enabled, ready, scheduled, running
    assert "recent_runs:" in out
    assert "stale_claims:" in out
    assert main(["overview", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert len(answer["series"]["minute"]) == 60
    assert {t["type"] for t in answer["types"]} >= {"noop", "email"}
