"""The email processor: templates, the local outbox, payload validation, provider choice.
Resend and SMTP have their own modules (test_email_resend.py, test_email_smtp.py).

Real: jinja2 rendering, the filesystem outbox, Postgres (the JobContext's backend).
Faked: nothing.
"""

from __future__ import annotations

import email
import logging
import uuid
from email.message import Message
from pathlib import Path
from typing import Any

import pydantic
import pytest

from shared.config import Settings
from shared.processors import email as email_processor
from shared.processors.base import JobContext, PermanentError
from tests.processors.conftest import EmailContext as Builder

WELCOME = {"to": "jane.doe@example.com", "template": "welcome", "template_data": {"name": "Jane"}}


def run(body: dict[str, Any], ctx: JobContext) -> dict[str, Any]:
    return email_processor.handle(email_processor.Payload.model_validate(body), ctx)


def outbox_message(result: dict[str, Any]) -> Message:
    return email.message_from_bytes(Path(result["message_id"]).read_bytes())


def parts_of(message: Message) -> dict[str, bytes]:
    """Content type -> decoded body of each leaf part."""
    parts: dict[str, bytes] = {}
    for part in message.walk():
        if not part.is_multipart():
            body = part.get_payload(decode=True)
            assert isinstance(body, bytes)
            parts[part.get_content_type()] = body
    return parts


# --- templates and the outbox ---------------------------------------------------------

def test_without_provider_settings_the_email_lands_in_the_local_outbox_as_an_eml(context: Builder,
        tmp_path: Path) -> None:
    result = run(WELCOME, context(Settings(local_dir=tmp_path)))
    assert result["provider"] == "outbox"
    path = Path(result["message_id"])
    assert path.parent == tmp_path / "outbox"
    message = email.message_from_bytes(path.read_bytes())
    assert message["Subject"] == "Welcome to Queue Worker, Jane!"
    assert message["To"] == "jane.doe@example.com"
    parts = parts_of(message)
    assert b"Welcome, Jane!" in parts["text/plain"]
    assert b"<h1>Welcome, Jane!</h1>" in parts["text/html"]


def test_a_retried_job_writes_its_outbox_message_once(context: Builder, tmp_path: Path) -> None:
    job_id = uuid.uuid4()
    first = run(WELCOME, context(Settings(local_dir=tmp_path), job_id=job_id))
    second = run(WELCOME, context(Settings(local_dir=tmp_path), job_id=job_id))
    assert first == second
    assert len(list((tmp_path / "outbox").iterdir())) == 1


def test_template_data_is_escaped_in_html_and_kept_in_text(context: Builder, tmp_path: Path) -> None:
    body = {**WELCOME, "template_data": {"name": "<script>alert(1)</script>"}}
    message = outbox_message(run(body, context(Settings(local_dir=tmp_path))))
    parts = parts_of(message)
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in parts["text/html"]
    assert b"<script>" not in parts["text/html"]
    assert b"<script>alert(1)</script>" in parts["text/plain"]  # plain text: markup is inert there


@pytest.mark.parametrize(("template", "data", "expected"), [
    ("track_completed", {"track_id": "t1", "title": "Night Drive", "key": "audio/t1.mp3"}, "Night Drive"),
    ("payout_confirmation", {"payout_id": "p1", "amount_cents": 1234567, "fee_cents": 10,
                             "gross_cents": 1234577, "currency": "usd", "transfer_id": "tr_1"},
     "USD 12,345.67"),
])
def test_each_template_renders_a_subject_html_and_text(context: Builder,
        template: str, data: dict[str, Any], expected: str,
                                                       tmp_path: Path) -> None:
    body = {"to": ["a@example.com"], "template": template, "template_data": data}
    message = outbox_message(run(body, context(Settings(local_dir=tmp_path))))
    assert expected in str(message["Subject"])
    assert all(expected.encode() in body for body in parts_of(message).values())


@pytest.mark.parametrize(("template", "data", "message"), [
    ("welcome", {}, "template_data.name: Field required (the welcome template takes: name, login_url, "
                    "app_name)"),
    ("welcome", {"name": "Jane", "nam": "x"}, "template_data.nam: Extra inputs are not permitted"),
    ("track_completed", {"title": "Night Drive"}, "track_completed needs url or key in template_data"),
    ("track_completed", {"key": "audio/t1.mp3"}, "track_completed needs title or track_id in template_data"),
    ("payout_confirmation", {"payout_id": "p1"}, "template_data.transfer_id: Field required"),
])
def test_template_data_the_template_cannot_render_is_refused_by_field(template: str, data: dict[str, Any],
                                                                       message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        email_processor.Payload.model_validate({"to": "a@example.com", "template": template,
                                                "template_data": data})
    assert message in str(refused.value)


def test_a_template_missing_its_data_at_render_fails_permanently(context: Builder, tmp_path: Path) -> None:
    """A job enqueued before template_data was checked (model_construct skips the check)."""
    payload = email_processor.Payload.model_construct(to=["jane.doe@example.com"], template="welcome",
                                                      template_data={}, subject=None, html=None, text=None,
                                                      from_=None, reply_to=[], tags={})
    with pytest.raises(PermanentError, match="'name' is undefined"):
        email_processor.handle(payload, context(Settings(local_dir=tmp_path)))


def test_logs_redact_the_recipient(context: Builder,
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="shared.processors.email"):
        run(WELCOME, context(Settings(local_dir=tmp_path)))
    assert "j***@example.com" in caplog.text
    assert "jane.doe" not in caplog.text


# --- payload validation -----------------------------------------------------------------

@pytest.mark.parametrize(("body", "field"), [
    ({**WELCOME, "to": "not-an-address"}, "to"),
    ({**WELCOME, "to": []}, "to"),
    ({**WELCOME, "template": "nope"}, "template"),
    ({**WELCOME, "html": "<p>x</p>"}, "either template"),
    ({"to": "a@example.com", "subject": "hi"}, "give a template"),
    ({"to": "a@example.com", "text": "hi"}, "subject is required"),
    ({**WELCOME, "cc": "b@example.com"}, "cc"),
    ({**WELCOME, "tags": {"bad name": "x"}}, "tag names"),
])
def test_a_bad_payload_is_rejected_naming_the_problem(body: dict[str, Any], field: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        email_processor.Payload.model_validate(body)
    assert field in str(caught.value)


def test_from_is_accepted_under_its_json_name() -> None:
    payload = email_processor.Payload.model_validate({**WELCOME, "from": "Shop <shop@example.com>"})
    assert payload.from_ == "Shop <shop@example.com>"


# --- provider choice and health -------------------------------------------------------------

def test_the_provider_is_chosen_from_the_settings() -> None:
    assert email_processor.provider_for(Settings()) == "outbox"
    assert email_processor.provider_for(Settings(smtp_host="mail")) == "smtp"
    assert email_processor.provider_for(Settings(smtp_host="mail", resend_api_key="re_x")) == "resend"
    assert email_processor.provider_for(Settings(email_provider="outbox", resend_api_key="re_x")) == "outbox"


def test_health_names_what_the_chosen_provider_lacks() -> None:
    assert email_processor.missing_settings(Settings()) == []
    assert email_processor.missing_settings(Settings(email_provider="resend")) == ["RESEND_API_KEY"]
    assert email_processor.missing_settings(Settings(email_provider="smtp")) == ["SMTP_HOST"]
