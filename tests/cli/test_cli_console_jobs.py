"""`queue-worker jobs list | show | cancel | retry`, run in-process through `main()`.

Real: PostgreSQL (a fresh migrated database per test), the CLI's parser and commands, the SQL
functions behind them. Faked: nothing.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import pytest

from shared.cli.main import main
from tests.sql.factories import Conn, enqueue, fingerprint, job, make_job, value

Capture = pytest.CaptureFixture[str]


def run(argv: list[str]) -> int:
    """main()'s status, also when argparse exits on its own (bad usage, --help)."""
    try:
        return main(argv)
    except SystemExit as exited:
        return int(exited.code or 0)


def test_list_prints_a_table_newest_first_and_the_after_of_the_next_page(
        cli_env: str, conn: Conn, capsys: Capture) -> None:
    made = [enqueue(conn) for _ in range(3)]
    assert run(["jobs", "list", "--limit", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["ID", "SEQ", "TYPE", "STATUS"]
    assert str(made[2]) in lines[1]
    assert str(made[1]) in lines[2]
    seq = value(conn, "select seq from job_queue where id = %s", (made[1],))
    assert f"--after {seq}" in out
    assert run(["jobs", "list", "--limit", "2", "--after", str(seq)]) == 0
    rest = capsys.readouterr().out
    assert str(made[0]) in rest
    assert "--after" not in rest


def test_list_filters_and_prints_json(cli_env: str, conn: Conn, capsys: Capture) -> None:
    owner = uuid4()
    target = enqueue(conn, "email", payload={"to": "ann@example.com", "template": "welcome"},
                     owner_id=owner, priority="high")
    enqueue(conn, owner_id=owner)
    argv = ["jobs", "list", "--type", "email", "--status", "ready", "--priority", "high",
            "--owner", str(owner), "--since", "1h", "--until", "2999-01-01", "--search", "ANN@", "--json"]
    assert run(argv) == 0
    page = json.loads(capsys.readouterr().out)
    assert [j["id"] for j in page["jobs"]] == [str(target)]
    assert page["next_after"] is None


def test_list_with_nothing_matching_says_so(cli_env: str, conn: Conn, capsys: Capture) -> None:
    make_job(conn)
    assert run(["jobs", "list", "--status", "completed"]) == 0
    assert "no jobs match" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "says"), [
    (["--status", "dead"], "invalid choice: 'dead'"),
    (["--priority", "urgent"], "invalid choice: 'urgent'"),
    (["--owner", "me"], "'me' is not a uuid"),
    (["--since", "yesterday"], "'yesterday' is not a time"),
    (["--limit", "500"], "'500' is not an integer from 1 to 200"),
    (["--after", "0"], "0 is not a positive integer"),
])
def test_bad_list_options_exit_2_saying_what_is_allowed(cli_env: str, capsys: Capture, argv: list[str],
                                                        says: str) -> None:
    assert run(["jobs", "list", *argv]) == 2
    assert says in capsys.readouterr().err


def test_sql_refusals_exit_1_with_the_message_and_hint(cli_env: str, capsys: Capture) -> None:
    assert run(["jobs", "list", "--type", "nope"]) == 1
    err = capsys.readouterr().err
    assert "filter type: unknown job type 'nope'" in err
    assert "hint: type is a job type: " in err


def test_show_prints_payload_errors_timeline_and_dependencies(cli_env: str, conn: Conn,
                                                              capsys: Capture) -> None:
    parent = make_job(conn, "completed")
    target = make_job(conn, "running", worker="w5", payload={"n": 7}, depends_on=[parent])
    conn.execute("select fail_job(%s, 'SMTP 451 try later', true, 60, 'w5')", (target,))
    child = enqueue(conn, depends_on=[target])
    assert run(["jobs", "show", str(target)]) == 0
    out = capsys.readouterr().out
    for expected in (f"id:              {target}", "status:          pending", '"n": 7', "errors (1):",
                     "SMTP 451 try later", "status timeline (oldest first):", "enqueued", "w5",
                     "depends on:", str(parent), "dependents:", str(child)):
        assert expected in out, expected


def test_show_of_a_dead_lettered_job_and_as_json(cli_env: str, conn: Conn, capsys: Capture) -> None:
    target = make_job(conn, "dead")
    assert run(["jobs", "show", str(target)]) == 0
    out = capsys.readouterr().out
    assert "status:          dead_letter" in out
    assert "dead letter:" in out
    assert run(["jobs", "show", str(target), "--json"]) == 0
    detail: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert detail["dead_letter"]["job_id"] == str(target)


def test_show_of_an_unknown_job_exits_1(cli_env: str, capsys: Capture) -> None:
    missing = uuid4()
    assert run(["jobs", "show", str(missing)]) == 1
    assert f"no job with id {missing}" in capsys.readouterr().err


def test_cancel_cancels_with_its_dependents_and_is_audited_as_cli(cli_env: str, conn: Conn,
                                                                  capsys: Capture) -> None:
    target = make_job(conn, "running")
    child = enqueue(conn, depends_on=[target])
    assert run(["jobs", "cancel", str(target)]) == 0
    assert capsys.readouterr().out.strip() == (f"cancelled job {target} (was running) and 1 job(s) that "
                                               "depended on it")
    assert job(conn, child)["status"] == "cancelled"
    assert value(conn, "select actor from console_actions where action = 'job.cancel'") == "cli"


def test_cancel_of_a_finished_job_exits_1_and_changes_nothing(cli_env: str, conn: Conn,
                                                              capsys: Capture) -> None:
    target = make_job(conn, "completed")
    before = fingerprint(conn)
    assert run(["jobs", "cancel", str(target)]) == 1
    assert f"job {target} is completed" in capsys.readouterr().err
    assert fingerprint(conn) == before


def test_retry_runs_a_waiting_job_now_and_replays_a_dead_one(cli_env: str, conn: Conn,
                                                             capsys: Capture) -> None:
    waiting = enqueue(conn, run_at=value(conn, "select now() + interval '1 day'"))
    assert run(["jobs", "retry", str(waiting)]) == 0
    assert f"job {waiting} runs now" in capsys.readouterr().out
    dead = make_job(conn, "dead")
    assert run(["jobs", "retry", str(dead)]) == 0
    new = UUID(capsys.readouterr().out.split()[-1])
    assert job(conn, new)["status"] == "pending"
    assert run(["jobs", "retry", str(dead)]) == 1
    assert f"already replayed as job {new}" in capsys.readouterr().err


def test_retry_of_a_running_job_exits_1_saying_why(cli_env: str, conn: Conn, capsys: Capture) -> None:
    target = make_job(conn, "running", worker="w2")
    assert run(["jobs", "retry", str(target)]) == 1
    assert "runs under worker w2" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "says"), [
    (["jobs", "--help"], "list,show,cancel,retry"),
    (["jobs", "list", "--help"], "--after SEQ"),
    (["jobs", "retry", "--help"], "dead-lettered job is replayed"),
    (["jobs", "cancel", "not-a-uuid"], "'not-a-uuid' is not a uuid"),
])
def test_help_and_usage(cli_env: str, capsys: Capture, argv: list[str], says: str) -> None:
    status = run(argv)
    captured = capsys.readouterr()
    assert status == (0 if "--help" in argv else 2)
    assert says in captured.out + captured.err
