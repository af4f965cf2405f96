"""What every HTTP provider client shares: Retry-After parsing, a transport guard,
and redaction for logs."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import httpx

from shared.failures import RetryableError

T = TypeVar("T")
ADDRESS = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


def retry_after_seconds(response: httpx.Response, default: float) -> float:
    """The provider's Retry-After (seconds or an HTTP date), else `default`; never negative."""
    value = response.headers.get("retry-after")
    if not value:
        return default
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max((parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return default


def send(provider: str, request: Callable[[], T]) -> T:
    """Run `request`; a network failure (no answer) becomes a RetryableError naming the provider."""
    try:
        return request()
    except httpx.TransportError as exc:
        raise RetryableError(f"{provider} unreachable: {type(exc).__name__}: {exc}") from exc


def redact_address(address: str) -> str:
    """`jane.doe@example.com` -> `j***@example.com`, for logs."""
    local, _, domain = address.rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def redact_addresses(text: str) -> str:
    """Every email address in `text` redacted (provider error messages quote them)."""
    return ADDRESS.sub(r"\1***@\2", text)
