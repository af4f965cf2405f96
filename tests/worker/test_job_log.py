"""Job outcome log lines: by default a line per job that did not complete and an exact count
of the completions; `all` adds a line per completed job; a long invocation logs progress.

Real: the queue's JSON logger writing to (captured) stderr. Faked: nothing; no database needed,
the outcomes are built directly.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from shared.worker import job_log
from shared.worker.job_log import JobLog
from shared.worker.report import InvocationReport, JobOutcome


def _outcomes() -> list[JobOutcome]:
    return [JobOutcome(uuid.uuid4(), "email", 1, "completed", 1.0) for _ in range(5)] + [
        JobOutcome(uuid.uuid4(), "email", 2, "retried", 2.0, error="smtp 421"),
        JobOutcome(uuid.uuid4(), "audio", 3, "dead_lettered", 3.0, error="bad voice")]


def _lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.strip()]


def _log(mode: str) -> tuple[JobLog, InvocationReport, list[JobOutcome]]:
    report = InvocationReport(worker_id="w")
    outcomes = _outcomes()
    report.add(outcomes)
    log = JobLog("w", mode)
    log.outcomes(outcomes, report)
    return log, report, outcomes


def test_by_default_only_jobs_that_did_not_complete_get_a_line(
        capsys: pytest.CaptureFixture[str]) -> None:
    _log("failures")
    lines = _lines(capsys)
    assert [(line["severity"], line["message"], line["type"], line["error"]) for line in lines] == [
        ("WARNING", "job retried", "email", "smtp 421"),
        ("WARNING", "job dead_lettered", "audio", "bad voice")]
    assert all(line["worker_id"] == "w" for line in lines)


def test_all_adds_an_info_line_per_completed_job(capsys: pytest.CaptureFixture[str]) -> None:
    _log("all")
    lines = _lines(capsys)
    assert [line["message"] for line in lines].count("job completed") == 5
    assert len(lines) == 7


def test_a_long_invocation_logs_exact_progress_counts(capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    log, report, _ = _log("failures")
    capsys.readouterr()
    monkeypatch.setattr(job_log.time, "monotonic", lambda: 1e12)  # the progress interval has passed
    log.outcomes([], report)
    (line,) = _lines(capsys)
    assert line["message"] == "invocation progress"
    assert (line["claimed"], line["completed"], line["retried"], line["dead_lettered"]) == (7, 5, 1, 1)
    assert line["by_type"] == {"email": {"completed": 5, "retried": 1}, "audio": {"dead_lettered": 1}}


def test_an_unknown_mode_is_refused_with_the_modes_allowed() -> None:
    with pytest.raises(ValueError, match="one of failures, all, got 'some'"):
        JobLog("w", "some")
