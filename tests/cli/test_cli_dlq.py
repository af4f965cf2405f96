"""`queue-worker dlq groups | list | replay | delete`, run in-process through `main()`.

Real: PostgreSQL, the CLI's own code paths, the worker loop (`process --once`) with the noop
processor. Faked: the terminal: stdin is replaced by a text stream that says it is (or is
not) a TTY and holds the person's answer.
"""

from __future__ import annotations

import io
import json
import sys
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from shared.cli.main import main
from tests.sql.factories import fingerprint, value

Conn = psycopg.Connection[dict[str, Any]]
GROUP = "smtp <n> try <n>"
Capture = pytest.CaptureFixture[str]
Patch = pytest.MonkeyPatch


class Terminal(io.StringIO):
    """stdin of a person at a terminal who will type `answer`."""

    def isatty(self) -> bool:
        return True


def bulk(conn: Conn, n: int, error: str, job_type: str = "noop", ago: str = "1 hour") -> None:
    conn.execute(
        "insert into job_dead_letter (job_id, type, payload, priority, attempts, max_attempts, last_error,"
        " job_created_at, failed_at) select gen_random_uuid(), %s, '{}', 'normal', 3, 3, format(%s, i),"
        " now() - interval '1 day', now() - %s::interval - make_interval(secs => i)"
        " from generate_series(1, %s) i", (job_type, error, ago, n))


def not_a_terminal(monkeypatch: Patch) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))


def test_groups_print_counts_and_fingerprints(cli_env: str, conn: Conn, capsys: Capture) -> None:
    assert main(["dlq", "groups"]) == 0
    assert "no dead letters waiting for a replay" in capsys.readouterr().out
    bulk(conn, 3, "smtp 421 try %s")
    bulk(conn, 1, "tts quota %s", "audio")
    assert main(["dlq", "groups"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:2] == ["3", "noop"]
    assert lines[0].endswith(GROUP)
    assert main(["dlq", "groups", "--type", "audio", "--json"]) == 0
    (group,) = json.loads(capsys.readouterr().out)
    assert (group["type"], group["count"], group["fingerprint"]) == ("audio", 1, "tts quota <n>")


def test_list_filters_and_pages_past_200(cli_env: str, conn: Conn, capsys: Capture) -> None:
    bulk(conn, 230, "smtp 421 try %s")
    bulk(conn, 2, "tts quota %s", "audio", ago="3 days")
    assert main(["dlq", "list", "--limit", "220", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 220
    assert main(["dlq", "list", "--type", "audio"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert "tts quota 1" in out[0]
    assert main(["dlq", "list", "--search", "QUOTA", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
    assert main(["dlq", "list", "--until", "2d", "--json"]) == 0
    assert {d["type"] for d in json.loads(capsys.readouterr().out)} == {"audio"}
    assert main(["dlq", "list", "--fingerprint", GROUP, "--since", "2h", "--limit", "1000", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 230
    assert main(["dlq", "list", "--type", "email"]) == 0
    assert "no dead letters match" in capsys.readouterr().out


def test_replay_of_a_group_asks_on_a_terminal_and_replays_on_yes(
        cli_env: str, conn: Conn, capsys: Capture, monkeypatch: Patch) -> None:
    bulk(conn, 3, "smtp 421 try %s")
    bulk(conn, 2, "tts quota %s")
    monkeypatch.setattr(sys, "stdin", Terminal("y\n"))
    assert main(["dlq", "replay", "--group", GROUP]) == 0
    captured = capsys.readouterr()
    assert "3 dead letters to replay" in captured.out
    assert "Replay 3 dead letters? [y/N]" in captured.out
    assert "replayed 3 dead letters (console action" in captured.out
    assert "replayed 3 of 3 (0 left)" in captured.err
    assert value(conn, "select count(*) from job_queue where status = 'pending'") == 3
    assert value(conn, "select actor from console_actions") == "cli"


def test_a_no_at_the_prompt_changes_nothing(
        cli_env: str, conn: Conn, capsys: Capture, monkeypatch: Patch) -> None:
    bulk(conn, 3, "smtp 421 try %s")
    before = fingerprint(conn)
    monkeypatch.setattr(sys, "stdin", Terminal("n\n"))
    assert main(["dlq", "delete", "--all"]) == 1
    assert "nothing done" in capsys.readouterr().err
    assert fingerprint(conn) == before
    assert value(conn, "select count(*) from console_actions") == 0


@pytest.mark.parametrize("argv", [["dlq", "replay", "--group", GROUP], ["dlq", "delete", "--all"],
                                  ["dlq", "replay", str(uuid4()), str(uuid4())]])
def test_without_a_terminal_it_refuses_unless_yes(
        cli_env: str, conn: Conn, capsys: Capture, monkeypatch: Patch,
        argv: list[str]) -> None:
    bulk(conn, 3, "smtp 421 try %s")
    ids = [str(r["id"]) for r in conn.execute("select id from job_dead_letter limit 2").fetchall()]
    argv = [*argv[:2], *ids] if len(argv) == 4 else argv
    before = fingerprint(conn)
    not_a_terminal(monkeypatch)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "stdin is not a terminal" in err
    assert "pass --yes" in err
    assert fingerprint(conn) == before
    assert main([*argv, "--yes"]) == 0
    assert fingerprint(conn) != before


def test_replay_all_shows_progress_per_batch_and_the_total(
        cli_env: str, conn: Conn, capsys: Capture, monkeypatch: Patch) -> None:
    bulk(conn, 25, "smtp 421 try %s")
    bulk(conn, 2, "tts quota %s", "audio")
    not_a_terminal(monkeypatch)
    assert main(["dlq", "replay", "--all", "--type", "noop", "--batch", "10", "--yes"]) == 0
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ["replayed 10 of 25 (15 left)", "replayed 20 of 25 (5 left)",
                                         "replayed 25 of 25 (0 left)"]
    assert "replayed 25 dead letters" in captured.out
    assert value(conn, "select affected from console_actions") == 25
    assert value(conn, "select count(*) from job_dead_letter where replayed_job_id is null") == 2


def test_delete_by_ids_says_how_many_ids_were_not_found(
        cli_env: str, conn: Conn, capsys: Capture, monkeypatch: Patch) -> None:
    bulk(conn, 2, "x %s")
    ids = [str(r["id"]) for r in conn.execute("select id from job_dead_letter").fetchall()]
    not_a_terminal(monkeypatch)
    assert main(["dlq", "delete", *ids, str(uuid4()), "--yes"]) == 0
    out = capsys.readouterr().out
    assert "2 dead letters to delete" in out
    assert "of the ids 1 not found" in out
    assert "deleted 2 dead letters" in out
    assert value(conn, "select count(*) from job_dead_letter") == 0


def test_nothing_to_do_says_so_without_asking(
        cli_env: str, conn: Conn, capsys: Capture, monkeypatch: Patch) -> None:
    not_a_terminal(monkeypatch)
    assert main(["dlq", "replay", "--all"]) == 0
    assert "0 dead letters to replay" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "message"), [
    (["dlq", "replay"], "exactly one of them"),
    (["dlq", "replay", "--all", "--group", GROUP], "exactly one of them"),
    (["dlq", "delete", str(uuid4()), "--type", "noop"], "--type does not go with IDs"),
    (["dlq", "replay", "--group", GROUP, "--search", "x"], "--search goes with --all"),
])
def test_bad_selections_are_usage_errors(cli_env: str, conn: Conn, capsys: Capture,
                                         argv: list[str], message: str) -> None:
    bulk(conn, 1, "x %s")
    before = fingerprint(conn)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert fingerprint(conn) == before


def test_a_bad_time_is_refused_by_argparse(cli_env: str, capsys: Capture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["dlq", "list", "--since", "last tuesday"])
    assert exited.value.code == 2
    assert "is not a time" in capsys.readouterr().err


def test_a_replayed_group_drains_through_the_worker(
        cli_env: str, conn: Conn, capsys: Capture, monkeypatch: Patch) -> None:
    bulk(conn, 4, "smtp 421 try %s")
    bulk(conn, 1, "tts quota %s")
    not_a_terminal(monkeypatch)
    assert main(["dlq", "replay", "--group", GROUP, "--yes"]) == 0
    assert main(["process", "--once", "--type", "noop"]) == 0
    statuses = conn.execute("select j.status::text as status from job_dead_letter d"
                            " join job_queue j on j.id = d.replayed_job_id").fetchall()
    assert [r["status"] for r in statuses] == ["completed"] * 4
    capsys.readouterr()
    assert main(["dlq", "groups", "--json"]) == 0
    assert [g["fingerprint"] for g in json.loads(capsys.readouterr().out)] == ["tts quota <n>"]
