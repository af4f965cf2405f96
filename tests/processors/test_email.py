"""The email processor: templates, the local outbox, Resend and SMTP.

Real: jinja2 rendering, the filesystem outbox, smtplib talking to a real local SMTP
server (aiosmtpd), httpx. Faked: Resend, at the HTTP layer (httpx.MockTransport with
a handler that honours idempotency keys like Resend does). No database is needed:
the email processor does not touch it.
"""

from __future__ import annotations

import email
import json
import logging
import socket
import uuid
from collections.abc import Callable, Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from aiosmtpd.controller import Controller

from shared.config import Settings
from shared.processors import email as email_processor
from shared.processors.base import JobContext, PermanentError, RateLimitedError, RetryableError
from tests.processors.conftest import MakeContext

WELCOME = {"to": "jane.doe@example.com", "template": "welcome", "template_data": {"name": "Jane"}}


Builder = Callable[..., JobContext]


@pytest.fixture
def context(make_ctx: MakeContext) -> Builder:
    """JobContext over the test database (circuit breakers live there), HTTP through `handler`."""

    def build(settings: Settings, *, handler: Callable[[httpx.Request], httpx.Response] | None = None,
              job_id: uuid.UUID | None = None) -> JobContext:
        transport = httpx.MockTransport(handler or (lambda r: httpx.Response(599)))
        return make_ctx(settings, job_type="email", job_id=job_id, client=httpx.Client(transport=transport))

    return build


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


def test_a_template_missing_its_data_fails_permanently(context: Builder, tmp_path: Path) -> None:
    with pytest.raises(PermanentError, match="'name' is undefined"):
        run({**WELCOME, "template_data": {}}, context(Settings(local_dir=tmp_path)))


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


# --- Resend ---------------------------------------------------------------------------------

RESEND = Settings(resend_api_key="re_test", resend_api_base="https://resend.test")


class FakeResend:
    """Resend's POST /emails: checks the key, replays answers per Idempotency-Key, counts sends."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.requests: list[httpx.Request] = []
        self.by_key: dict[str, str] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        authorized = request.headers["authorization"] == "Bearer re_test"
        if request.url != "https://resend.test/emails" or not authorized:
            return httpx.Response(401, json={"statusCode": 401, "name": "missing_api_key", "message": "no"})
        key = request.headers["idempotency-key"]
        if key not in self.by_key:
            self.sent.append(json.loads(request.content))
            self.by_key[key] = f"msg_{len(self.sent)}"
        return httpx.Response(200, json={"id": self.by_key[key]})


def test_resend_gets_the_email_with_a_job_idempotency_key_and_its_id_is_recorded(context: Builder) -> None:
    fake, job_id = FakeResend(), uuid.uuid4()
    result = run({**WELCOME, "tags": {"kind": "welcome"}, "reply_to": "help@example.com"},
                 context(RESEND, handler=fake, job_id=job_id))
    assert result == {"provider": "resend", "message_id": "msg_1", "recipients": 1, "template": "welcome"}
    assert fake.requests[0].headers["idempotency-key"] == f"email-{job_id}"
    [sent] = fake.sent
    assert sent["to"] == ["jane.doe@example.com"]
    assert sent["subject"] == "Welcome to Queue Worker, Jane!"
    assert "Welcome, Jane!" in sent["html"]
    assert "Welcome, Jane!" in sent["text"]
    assert sent["tags"] == [{"name": "kind", "value": "welcome"}]
    assert sent["reply_to"] == ["help@example.com"]


def test_a_job_retried_after_resend_answered_sends_one_email(context: Builder) -> None:
    fake, job_id = FakeResend(), uuid.uuid4()
    first = run(WELCOME, context(RESEND, handler=fake, job_id=job_id))
    second = run(WELCOME, context(RESEND, handler=fake, job_id=job_id))
    assert first["message_id"] == second["message_id"]
    assert len(fake.requests) == 2
    assert len(fake.sent) == 1


Handler = Callable[[httpx.Request], httpx.Response]


def answer(status: int, name: str, headers: dict[str, str] | None = None) -> Handler:
    body = {"statusCode": status, "name": name, "message": f"resend says {name}"}
    return lambda request: httpx.Response(status, json=body, headers=headers or {})


@pytest.mark.parametrize(("status", "name", "retry_after"), [
    (429, "rate_limit_exceeded", 3.0),
    (409, "concurrent_idempotent_requests", 1.0),
])
def test_resend_asking_us_to_wait_is_rate_limited_honouring_retry_after(context: Builder,
        status: int, name: str, retry_after: float) -> None:
    headers = {"retry-after": "3"} if status == 429 else {}
    with pytest.raises(RateLimitedError) as caught:
        run(WELCOME, context(RESEND, handler=answer(status, name, headers)))
    assert caught.value.retry_after == retry_after


@pytest.mark.parametrize(("status", "name"), [
    (422, "validation_error"),
    (429, "daily_quota_exceeded"),
    (429, "monthly_quota_exceeded"),
    (409, "invalid_idempotent_request"),
    (403, "invalid_api_key"),
])
def test_resend_refusals_and_exhausted_quotas_fail_permanently(context: Builder,
        status: int, name: str) -> None:
    with pytest.raises(PermanentError, match=f"resend says {name}"):
        run(WELCOME, context(RESEND, handler=answer(status, name)))


def test_addresses_quoted_in_provider_errors_are_redacted(context: Builder,
        smtp_server: tuple[Settings, Inbox]) -> None:
    def quoting(request: httpx.Request) -> httpx.Response:
        return httpx.Response(422, json={"statusCode": 422, "name": "validation_error",
                                         "message": "Invalid `to`: jane.doe@example.com is blocked"})

    with pytest.raises(PermanentError) as resend_error:
        run(WELCOME, context(RESEND, handler=quoting))
    with pytest.raises(PermanentError) as smtp_error:
        run({**WELCOME, "to": "someone@refused.example"}, context(smtp_server[0]))
    assert "j***@example.com is blocked" in str(resend_error.value)
    assert "jane.doe" not in str(resend_error.value)
    assert "<s***@refused.example>: no such user" in str(smtp_error.value)


def test_resend_server_errors_are_retryable(context: Builder) -> None:
    with pytest.raises(RetryableError, match="500"):
        run(WELCOME, context(RESEND, handler=answer(500, "internal_server_error")))


def test_resend_unreachable_is_retryable(context: Builder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryableError, match="resend unreachable"):
        run(WELCOME, context(RESEND, handler=refuse))


# --- SMTP against a real local server ---------------------------------------------------------

class Inbox:
    """aiosmtpd handler: keeps what it receives; refuses recipients at refuse.example."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.envelopes: list[Any] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address.endswith("@refused.example"):
            return f"550 5.1.1 <{address}>: no such user"
        if address.endswith("@busy.example"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.messages.append(email.message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted"


def smtp_settings(port: int) -> Settings:
    return Settings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, smtp_timeout_seconds=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Settings, Inbox]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield smtp_settings(port), inbox
    finally:
        controller.stop()


def test_smtp_delivers_a_multipart_message_with_a_message_id_from_the_job(context: Builder,
        smtp_server: tuple[Settings, Inbox]) -> None:
    settings, inbox = smtp_server
    job_id = uuid.uuid4()
    to = ["jane.doe@example.com", "ops@example.com"]
    result = run({**WELCOME, "to": to}, context(settings, job_id=job_id))
    assert result["provider"] == "smtp"
    assert result["message_id"] == f"<email-{job_id}@queue-worker>"
    [message] = inbox.messages
    assert message["Message-ID"] == result["message_id"]
    assert inbox.envelopes[0].rcpt_tos == ["jane.doe@example.com", "ops@example.com"]
    types = {p.get_content_type() for p in message.walk()}
    assert types == {"multipart/alternative", "text/plain", "text/html"}


def test_an_smtp_recipient_refused_with_5xx_fails_permanently(context: Builder,
        smtp_server: tuple[Settings, Inbox]) -> None:
    settings, inbox = smtp_server
    with pytest.raises(PermanentError, match="550"):
        run({**WELCOME, "to": "x@refused.example"}, context(settings))
    assert inbox.messages == []


def test_an_smtp_4xx_reply_is_retryable(context: Builder, smtp_server: tuple[Settings, Inbox]) -> None:
    settings, _ = smtp_server
    with pytest.raises(RetryableError, match="451"):
        run({**WELCOME, "to": "x@busy.example"}, context(settings))


def test_an_smtp_server_that_is_down_is_retryable(context: Builder) -> None:
    settings = smtp_settings(free_port())
    with pytest.raises(RetryableError, match="ConnectionRefusedError"):
        run(WELCOME, context(settings))


def test_starttls_required_but_not_offered_fails_permanently(context: Builder,
        smtp_server: tuple[Settings, Inbox]) -> None:
    settings = smtp_server[0].model_copy(update={"smtp_starttls": True})
    with pytest.raises(PermanentError, match="SMTP_STARTTLS"):
        run(WELCOME, context(settings))
