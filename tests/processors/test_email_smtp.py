"""The email processor through SMTP, against a real local SMTP server (aiosmtpd).

Real: smtplib, aiosmtpd on a local port, Postgres (the JobContext's backend and
circuit breaker state). Faked: Resend in the redaction test (httpx.MockTransport).
"""

from __future__ import annotations

import email
import socket
import uuid
from collections.abc import Iterator
from email.message import Message
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from shared.config import Settings
from shared.processors.base import PermanentError, RetryableError
from tests.processors.conftest import EmailContext as Builder
from tests.processors.test_email import WELCOME, run
from tests.processors.test_email_resend import RESEND


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
