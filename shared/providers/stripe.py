"""Stripe Connect transfers: `POST /v1/transfers`, form-encoded, with an Idempotency-Key.

Stripe replays the first answer for a key it has seen (for 24 hours), so a retried
payout that sends its payout id again gets the original transfer back, never a new one.
The same key with different parameters is refused with `idempotency_error`
(`IdempotencyKeyReused`): that says nothing about whether the first request made a
transfer, so the caller must look it up rather than treat it as a refusal.
"""

from __future__ import annotations

from typing import Any

import httpx

from shared.config import Settings
from shared.failures import PermanentError, RateLimitedError, RetryableError
from shared.providers.http import retry_after_seconds, send

PROVIDER = "stripe"


class IdempotencyKeyReused(PermanentError):
    """Stripe refused the key because it was first used with other parameters. Resending
    cannot help, but the first request may have made a transfer: look it up."""


def create_transfer(http: httpx.Client, settings: Settings, *, amount_cents: int, currency: str,
                    destination: str, transfer_group: str, idempotency_key: str) -> dict[str, Any]:
    """Create (or, for a known key, get back) a transfer; returns Stripe's transfer object."""
    if settings.stripe_secret_key is None:
        raise PermanentError("STRIPE_SECRET_KEY is not set")
    form = {"amount": str(amount_cents), "currency": currency, "destination": destination,
            "transfer_group": transfer_group, "metadata[payout_id]": idempotency_key}
    headers = {"Authorization": f"Bearer {settings.stripe_secret_key.get_secret_value()}",
               "Idempotency-Key": idempotency_key}
    url = settings.stripe_api_base.rstrip("/") + "/v1/transfers"
    response = send(PROVIDER, lambda: http.post(url, data=form, headers=headers))
    raise_for_stripe(response)
    body: dict[str, Any] = response.json()
    return body


def find_transfer(http: httpx.Client, settings: Settings, transfer_group: str) -> dict[str, Any] | None:
    """The transfer already made for `transfer_group`, if any (`GET /v1/transfers?transfer_group=`).

    The one way to learn whether a request whose answer was lost made a transfer, and
    the only one once Stripe has forgotten the idempotency key (after 24 hours).
    """
    if settings.stripe_secret_key is None:
        raise PermanentError("STRIPE_SECRET_KEY is not set")
    headers = {"Authorization": f"Bearer {settings.stripe_secret_key.get_secret_value()}"}
    url = settings.stripe_api_base.rstrip("/") + "/v1/transfers"
    params = {"transfer_group": transfer_group, "limit": "1"}
    response = send(PROVIDER, lambda: http.get(url, params=params, headers=headers))
    raise_for_stripe(response)
    found: list[dict[str, Any]] = response.json().get("data", [])
    return found[0] if found else None


def raise_for_stripe(response: httpx.Response) -> None:
    """Map a Stripe error answer to a processor error; return quietly on 2xx."""
    if response.is_success:
        return
    message = _error_message(response)
    if response.status_code == 429:
        delay = retry_after_seconds(response, 5.0)
        raise RateLimitedError(f"Stripe rate limit: {message}", retry_after=delay)
    if response.status_code == 409:
        # A concurrent request with the same idempotency key is still in flight.
        raise RateLimitedError(f"Stripe idempotency conflict: {message}", retry_after=2.0)
    if _error_type(response) == "idempotency_error":
        raise IdempotencyKeyReused(f"Stripe refused the idempotency key: {message}")
    if response.status_code >= 500 or response.headers.get("stripe-should-retry") == "true":
        raise RetryableError(f"Stripe {response.status_code}: {message}")
    raise PermanentError(f"Stripe refused the transfer ({response.status_code}): {message}")


def _error_type(response: httpx.Response) -> str | None:
    try:
        error = response.json().get("error", {})
    except ValueError:
        return None
    return str(error.get("type")) if isinstance(error, dict) and error.get("type") else None


def _error_message(response: httpx.Response) -> str:
    """Stripe's `error.message` (with its code), or the start of the body."""
    try:
        error = response.json().get("error", {})
    except ValueError:
        return response.text[:200] or response.reason_phrase
    code = error.get("code") or error.get("type") or "error"
    return f"{error.get('message', 'no message')} [{code}]"
