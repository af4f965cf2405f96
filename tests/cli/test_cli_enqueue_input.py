"""`queue-worker enqueue` fed from files and stdin: a payload as `@file.json` or `-`, and
`--file JOBS` (JSON lines) enqueued in chunks with progress on stderr.

Real: PostgreSQL, the CLI through `main()`, and the installed console script in a
subprocess for stdin and a payload too large for a command-line argument. Faked: the
terminal for the progress line (a stderr stream that says it is a TTY).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from shared.cli import enqueue_file
from shared.cli.main import main
from tests.cli.test_cli_jobs import exit_status
from tests.sql.factories import fingerprint, job, value

Conn = psycopg.Connection[dict[str, Any]]
Capture = pytest.CaptureFixture[str]
SCRIPT = Path(sys.executable).parent / "queue-worker"


class TerminalErr(io.StringIO):
    """stderr of a person at a terminal."""

    def isatty(self) -> bool:
        return True


def stdin_of(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_a_payload_from_a_file(cli_env: str, conn: Conn, tmp_path: Path, capsys: Capture) -> None:
    (tmp_path / "payload.json").write_text('{\n  "i": 41\n}\n')
    assert main(["enqueue", "noop", f"@{tmp_path / 'payload.json'}"]) == 0
    assert job(conn, UUID(capsys.readouterr().out.strip()))["payload"] == {"i": 41}
    assert main(["enqueue", "noop", "--payload", f"@{tmp_path / 'payload.json'}"]) == 0
    assert job(conn, UUID(capsys.readouterr().out.strip()))["payload"] == {"i": 41}


def test_a_payload_from_stdin(cli_env: str, conn: Conn, monkeypatch: pytest.MonkeyPatch,
                              capsys: Capture) -> None:
    stdin_of(monkeypatch, b'{"i": 7}')
    assert main(["enqueue", "noop", "-"]) == 0
    assert job(conn, UUID(capsys.readouterr().out.strip()))["payload"] == {"i": 7}


def test_a_payload_too_large_for_an_argument_goes_in_through_stdin(cli_env: str, conn: Conn,
                                                                  tmp_path: Path) -> None:
    """One argument may hold at most 128 KiB on Linux ("Argument list too long")."""
    payload = {"to": "ada@example.com", "subject": "big", "html": "<p>" + "x" * 300_000 + "</p>"}
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": cli_env, "LOCAL_DIR": str(tmp_path)}
    done = subprocess.run([str(SCRIPT), "enqueue", "email", "-"], input=json.dumps(payload).encode(), env=env,
                          capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stderr) == (0, b"")
    assert job(conn, UUID(done.stdout.decode().strip()))["payload"]["html"] == payload["html"]


@pytest.mark.parametrize(("write", "message"), [
    (None, "argument JSON: @{path}: no such file"),
    ("dir", "argument JSON: @{path}: is a directory, not a JSON file"),
    ('{\n  "i": 1,\n  "sleep_seconds" 2\n}', "argument JSON: @{path}: not valid JSON at line 3, column 19: "
     "Expecting ':' delimiter"),
    ("", "argument JSON: @{path}: not valid JSON at line 1, column 1: Expecting value"),
    ("[1, 2]", "argument JSON: @{path}: must be a JSON object like '{{\"key\": 1}}'"),
    (b"\xff\xfe{", "argument JSON: @{path}: not UTF-8 text, which JSON is"),
    ('{"fail": "x\\u0000"}', "argument JSON: @{path}: payload.fail: the string contains \\u0000 (NUL)"),
])
def test_a_bad_payload_file_is_status_2_and_says_what_is_wrong(
        cli_env: str, conn: Conn, tmp_path: Path, capsys: Capture, write: str | bytes | None,
        message: str) -> None:
    path = tmp_path / "payload.json"
    if write == "dir":
        path.mkdir()
    elif isinstance(write, bytes):
        path.write_bytes(write)
    elif write is not None:
        path.write_text(write)
    before = fingerprint(conn)
    assert exit_status(["enqueue", "noop", f"@{path}"]) == 2
    first, second = capsys.readouterr().err.splitlines()
    assert first.startswith(f"queue-worker enqueue: error: {message.format(path=path)}")
    assert second == "Try 'queue-worker enqueue --help'."
    assert fingerprint(conn) == before


def test_broken_json_on_stdin_names_stdin_and_the_spot(cli_env: str, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: Capture) -> None:
    stdin_of(monkeypatch, b'{"i": 1}\n{"i": 2}\n')
    assert exit_status(["enqueue", "noop", "-"]) == 2
    assert "argument JSON: stdin: not valid JSON at line 2, column 1: Extra data" in capsys.readouterr().err


def test_the_payload_given_twice_is_refused(cli_env: str, capsys: Capture) -> None:
    assert exit_status(["enqueue", "noop", "{}", "--payload", "{}"]) == 2
    assert "give the payload once: as JSON or as --payload, not both" in capsys.readouterr().err


def jobs_file(path: Path, lines: list[dict[str, Any] | str]) -> str:
    path.write_text("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines))
    return str(path)


def test_a_jobs_file_is_enqueued_in_chunks_with_ids_in_file_order(
        cli_env: str, conn: Conn, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enqueue_file, "CHUNK", 100)
    lines: list[dict[str, Any] | str] = [{"type": "noop", "payload": {"i": i}} for i in range(250)]
    lines[3] = {"type": "noop", "payload": {"i": 3}, "priority": "critical", "run_at": "+1h"}
    lines.insert(10, "   ")  # blank lines are skipped
    path = jobs_file(tmp_path / "jobs.jsonl", lines)
    assert main(["enqueue", "--file", path, "--priority", "low"]) == 0
    out, err = capsys.readouterr()
    ids = [UUID(line) for line in out.splitlines()]
    query = "select id, payload, priority, run_at > now() + interval '50 min' as later from job_queue"
    rows = {r["id"]: r for r in conn.execute(query).fetchall()}
    assert [rows[i]["payload"]["i"] for i in ids] == list(range(250))
    assert [(rows[i]["priority"], rows[i]["later"]) for i in ids[2:5]] == [
        ("low", False), ("critical", True), ("low", False)]  # --priority is a default; a line's own wins
    assert err.startswith(f"enqueued 250 jobs from {path} in ")
    assert err.endswith(" s (3 call(s) of at most 100)\n")  # not a terminal: the summary alone


def test_on_a_terminal_the_jobs_file_shows_a_running_count(
        cli_env: str, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(enqueue_file, "CHUNK", 100)
    terminal = TerminalErr()
    monkeypatch.setattr(sys, "stderr", terminal)
    path = jobs_file(tmp_path / "jobs.jsonl", [{"type": "noop"}] * 250)
    assert main(["enqueue", "--file", path]) == 0
    shown = terminal.getvalue()
    assert shown.startswith("\r\x1b[Kenqueued 100/250\r\x1b[Kenqueued 200/250\r\x1b[Kenqueued 250/250"
                            f"\r\x1b[Kenqueued 250 jobs from {path} in ")
    assert shown.endswith("\n")
    assert shown.count("\n") == 1


def test_a_jobs_file_from_stdin(cli_env: str, conn: Conn, monkeypatch: pytest.MonkeyPatch,
                                capsys: Capture) -> None:
    stdin_of(monkeypatch, b'{"type": "noop", "payload": {"i": 1}}\n{"type": "email", "payload": '
             b'{"to": "ada@example.com", "subject": "hi", "text": "hello"}}\n')
    assert main(["enqueue", "--file", "-"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert value(conn, "select count(*) from job_queue") == 2


def test_a_jobs_file_with_bad_lines_enqueues_nothing_and_names_each_line(
        cli_env: str, conn: Conn, tmp_path: Path, capsys: Capture) -> None:
    path = jobs_file(tmp_path / "jobs.jsonl", [
        {"type": "noop"}, {"type": "nope"}, "[1]", "{bad", {"type": "email", "payload": {}},
        {"type": "noop", "run_at": "tomorrow"}, {"type": "noop", "depends_on": ["abc"]}])
    before = fingerprint(conn)
    assert exit_status(["enqueue", "--file", path]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "queue-worker enqueue: error: 6 bad line(s), nothing enqueued:"
    assert err[1].startswith(f"  {path} line 2: type: unknown job type 'nope'")
    assert err[2] == f'  {path} line 3: must be a JSON object like {{"type": "noop", "payload": {{}}}}'
    assert err[3].startswith(f"  {path} line 4: not valid JSON at line 1, column 2")
    assert err[4].startswith(f"  {path} line 5: payload.to: Field required")
    assert err[5].startswith(f"  {path} line 6: run_at: 'tomorrow' is not a time; use an ISO 8601 time")
    assert err[6].startswith(f"  {path} line 7: depends_on.0: ")
    assert err[7] == "Try 'queue-worker enqueue --help'."
    assert fingerprint(conn) == before


@pytest.mark.parametrize(("argv", "message"), [
    (["enqueue", "noop", "--file", "jobs.jsonl"], "TYPE does not go with --file"),
    (["enqueue", "--file", "jobs.jsonl", "--depends-on", "0b7e1d2c-4b8a-4f5e-9c3d-2a1f6e8b9c07"],
     "--depends-on does not go with --file"),
    (["enqueue", "--file", "/nonexistent/jobs.jsonl"], "--file /nonexistent/jobs.jsonl: no such file"),
    (["enqueue", "--file", "/"], "--file /: cannot read it (Is a directory)"),
])
def test_bad_file_mode_usage_is_status_2(cli_env: str, capsys: Capture, argv: list[str],
                                         message: str) -> None:
    assert exit_status(argv) == 2
    assert f"queue-worker enqueue: error: {message}" in capsys.readouterr().err


def test_an_empty_jobs_file_says_so(cli_env: str, tmp_path: Path, capsys: Capture) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    assert exit_status(["enqueue", "--file", str(path)]) == 2
    assert f"{path} has no jobs (one JSON object a line)" in capsys.readouterr().err


@pytest.mark.parametrize(("total", "bad"), [(250, 150), (201, 201)])  # 201: a last chunk of one job
def test_a_chunk_the_database_refuses_stops_the_file_naming_the_line(
        cli_env: str, conn: Conn, tmp_path: Path, capsys: Capture, monkeypatch: pytest.MonkeyPatch,
        total: int, bad: int) -> None:
    """Only the database knows a dependency is missing: the chunks before it stay enqueued."""
    monkeypatch.setattr(enqueue_file, "CHUNK", 100)
    lines: list[dict[str, Any] | str] = [{"type": "noop", "payload": {"i": i}} for i in range(total)]
    lines[bad - 1] = {"type": "noop", "depends_on": ["0b7e1d2c-4b8a-4f5e-9c3d-2a1f6e8b9c07"]}
    path = jobs_file(tmp_path / "jobs.jsonl", lines)
    assert main(["enqueue", "--file", path]) == 1
    out, err = capsys.readouterr()
    before = (bad - 1) // 100 * 100
    assert len(out.splitlines()) == before
    assert value(conn, "select count(*) from job_queue") == before
    first, second = err.splitlines()[:2]
    assert first == f"enqueued {before} of {total} (their ids are on stdout) before this error:"
    assert second == (f"queue-worker enqueue: error: {path} line {bad}: depends_on names job "
                      "0b7e1d2c-4b8a-4f5e-9c3d-2a1f6e8b9c07, which does not exist")
