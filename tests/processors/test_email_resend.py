"""The email processor through Resend: request shape, idempotency key, error classes.

Real: httpx, Postgres (the JobContext's backend and circuit breaker state). Faked:
Resend, at the HTTP layer (httpx.MockTransport; FakeResend honours idempotency keys
like Resend does).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.processors.base import PermanentError, RateLimitedError, RetryableError
from tests.processors.conftest import EmailContext as Builder
from tests.processors.test_email import WELCOME, run

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


def test_resend_server_errors_are_retryable(context: Builder) -> None:
    with pytest.raises(RetryableError, match="500"):
        run(WELCOME, context(RESEND, handler=answer(500, "internal_server_error")))


def test_resend_unreachable_is_retryable(context: Builder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryableError, match="resend unreachable"):
        run(WELCOME, context(RESEND, handler=refuse))
