"""`shared.queue.run_at`: the one reading of a job's run_at that the CLI, `?action=enqueue`
(the console's form posts there) and `enqueue --file` share.

Real: the parser and NewJob's validation. Nothing faked; `now` is passed in, so nothing sleeps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from shared.queue.models import NewJob
from shared.queue.run_at import RUN_AT_ALLOWED, BadRunAt, parse_run_at

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("+30s", NOW + timedelta(seconds=30)), ("+5m", NOW + timedelta(minutes=5)),
    ("+2h", NOW + timedelta(hours=2)), ("+1d", NOW + timedelta(days=1)),
    ("+1.5h", NOW + timedelta(minutes=90)),
    (" +5m ", NOW + timedelta(minutes=5)),
    ("2026-12-24T18:00:00Z", datetime(2026, 12, 24, 18, tzinfo=UTC)),
    ("2026-12-24T19:00:00+01:00", datetime(2026, 12, 24, 19, tzinfo=timezone(timedelta(hours=1)))),
    ("2026-12-24 18:00:00.250+00:00", datetime(2026, 12, 24, 18, 0, 0, 250_000, tzinfo=UTC)),
])
def test_the_allowed_forms_name_a_moment(text: str, expected: datetime) -> None:
    assert parse_run_at(text, now=NOW) == expected


@pytest.mark.parametrize(("text", "says"), [
    ("soon", "'soon' is not a time"), ("", "'' is not a time"), ("+5", "'+5' is not a time"),
    ("+5 minutes", "is not a time"), ("-5m", "is not a time"), ("5m", "is not a time"),
    ("+1w", "is not a time"), ("2026-13-01T00:00:00Z", "is not a time"),
    ("2026-12-01T09:00:00", "'2026-12-01T09:00:00' has no offset"), ("2026-12-01", "has no offset"),
    ("+99999999999d", "further away than a datetime goes"),
])
def test_anything_else_is_refused_naming_the_allowed_forms(text: str, says: str) -> None:
    with pytest.raises(BadRunAt) as refused:
        parse_run_at(text, now=NOW)
    assert says in str(refused.value)
    assert str(refused.value).endswith(RUN_AT_ALLOWED)


def test_new_job_reads_run_at_text_with_the_same_parser() -> None:
    job = NewJob.model_validate({"type": "noop", "run_at": "+5m"})
    assert job.run_at is not None
    assert job.run_at.tzinfo is not None
    assert NewJob(type="noop", run_at=NOW).run_at == NOW  # a datetime passes as it is


@pytest.mark.parametrize("given", ["in five minutes", "2026-12-01T09:00:00", 1_800_000_000, [1]])
def test_new_job_refuses_other_run_at_values_saying_which_forms_are_allowed(given: object) -> None:
    with pytest.raises(ValidationError) as refused:
        NewJob.model_validate({"type": "noop", "run_at": given})
    (error,) = refused.value.errors()
    assert error["loc"] == ("run_at",)
    assert error["msg"].endswith(RUN_AT_ALLOWED)
