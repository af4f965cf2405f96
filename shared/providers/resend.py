"""Resend: `POST /emails` with an Idempotency-Key, so a retried job sends one email.

Error names from https://resend.com/docs/api-reference/errors: 429 rate_limit_exceeded
and 409 concurrent_idempotent_requests wait (Retry-After); daily/monthly quota, 4xx
validation and key errors are permanent; 5xx and network failures are retryable.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.config import Settings
from shared.failures import PermanentError, RateLimitedError, RetryableError
from shared.providers.email_message import OutgoingEmail
from shared.providers.http import redact_addresses, retry_after_seconds, send

PROVIDER = "resend"
QUOTA_ERRORS = frozenset({"daily_quota_exceeded", "monthly_quota_exceeded"})


def send_email(http: httpx.Client, settings: Settings, email: OutgoingEmail) -> str:
    """Send `email`; returns Resend's message id. The idempotency key is the email's key."""
    if settings.resend_api_key is None:
        raise PermanentError("RESEND_API_KEY is not set")
    headers = {"Authorization": f"Bearer {settings.resend_api_key.get_secret_value()}",
               "Idempotency-Key": email.key}
    url = settings.resend_api_base.rstrip("/") + "/emails"
    response = send(PROVIDER, lambda: http.post(url, json=_body(email), headers=headers))
    raise_for_resend(response)
    message_id: str = response.json()["id"]
    return message_id


def _body(email: OutgoingEmail) -> dict[str, Any]:
    body: dict[str, Any] = {"from": email.sender, "to": email.to, "subject": email.subject,
                            "headers": {"Message-ID": email.message_id}}
    if email.html:
        body["html"] = email.html
    if email.text:
        body["text"] = email.text
    if email.reply_to:
        body["reply_to"] = email.reply_to
    if email.tags:
        body["tags"] = [{"name": k, "value": v} for k, v in email.tags.items()]
    return body


def raise_for_resend(response: httpx.Response) -> None:
    """Map a Resend error answer to a processor error; return quietly on 2xx."""
    if response.is_success:
        return
    name, message = _error(response)
    status = response.status_code
    if name in QUOTA_ERRORS:
        raise PermanentError(f"Resend quota exhausted ({name}): {message}")
    if status == 429 or name == "concurrent_idempotent_requests":
        raise RateLimitedError(f"Resend {name}: {message}", retry_after=retry_after_seconds(response, 1.0))
    if status >= 500:
        raise RetryableError(f"Resend {status} {name}: {message}")
    raise PermanentError(f"Resend refused the email ({status} {name}): {message}")


def _error(response: httpx.Response) -> tuple[str, str]:
    """(name, message); addresses Resend quotes back are redacted (they end up in logs)."""
    try:
        body = response.json()
        return str(body.get("name", "error")), redact_addresses(str(body.get("message", "")))
    except ValueError:
        return "error", redact_addresses(response.text[:200])
