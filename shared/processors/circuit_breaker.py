"""Circuit breakers per external provider, with their state in Postgres.

A stateless function remembers nothing between invocations, so `guarded` asks the
database (`circuit_breaker_allow`) before calling a provider and records the outcome
(`circuit_breaker_record`). After CIRCUIT_BREAKER_THRESHOLD consecutive failures the
provider is open for CIRCUIT_BREAKER_COOLDOWN_SECONDS: its jobs raise
RateLimitedError for the rest of the cool-down, which puts them back without
burning an attempt. Then one job probes; its success closes the breaker.

Only transient failures (RetryableError: 5xx, network) count against a provider. A
rate limit or a permanent refusal means the provider answered, which is a success.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from shared.processors.base import JobContext, ProcessorError, RateLimitedError, RetryableError

if TYPE_CHECKING:
    from shared.queue.protocol import QueueBackend

T = TypeVar("T")
log = logging.getLogger(__name__)


def guarded(ctx: JobContext, provider: str, call: Callable[[], T]) -> T:
    """Run `call` unless `provider`'s breaker is open; record how it went."""
    state = ctx.backend.rpc("circuit_breaker_allow", {
        "p_provider": provider, "p_cooldown_seconds": ctx.settings.circuit_breaker_cooldown_seconds})
    if not state["allowed"]:
        raise RateLimitedError(f"circuit breaker for {provider} is {state['state']}; "
                               f"last error: {state.get('last_error')}",
                               retry_after=float(state["retry_after_seconds"]))
    try:
        result = call()
    except RetryableError as exc:
        _record(ctx, provider, success=False, error=str(exc))
        raise
    except ProcessorError:
        _record(ctx, provider, success=True)
        raise
    _record(ctx, provider, success=True)
    return result


def _record(ctx: JobContext, provider: str, *, success: bool, error: str | None = None) -> None:
    state = ctx.backend.rpc("circuit_breaker_record", {
        "p_provider": provider, "p_success": success,
        "p_threshold": ctx.settings.circuit_breaker_threshold,
        "p_cooldown_seconds": ctx.settings.circuit_breaker_cooldown_seconds, "p_error": error})
    if not success and state["state"] == "open":
        log.warning("circuit breaker for %s is open for %ss after %s consecutive failures",
                    provider, state["retry_after_seconds"], state["consecutive_failures"])


def breaker_states(backend: QueueBackend) -> dict[str, Any]:
    """Every provider's breaker (for health): {provider: {state, consecutive_failures, ...}}."""
    states: dict[str, Any] = backend.rpc("circuit_breaker_states", {})
    return states
