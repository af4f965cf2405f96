"""How a job's work can fail on purpose: the classes processors and providers raise.

They sit below both: a provider client (Stripe, Resend, SMTP, TTS) says how a call
failed, a processor may add its own, and the worker maps each to a settle call
(dead letter, backoff, retry after a delay, checkpoint). Anything else a job raises
counts as retryable.
"""

from __future__ import annotations

from typing import Any


class ProcessorError(Exception):
    """Root of the errors a processor raises on purpose."""


class PermanentError(ProcessorError):
    """Retrying cannot help (bad input, rejected by the provider): dead-letter now."""


class RetryableError(ProcessorError):
    """A transient failure: retry with the type's backoff."""


class RateLimitedError(ProcessorError):
    """The provider asked us to slow down: retry after `retry_after` seconds without
    counting the attempt."""

    def __init__(self, message: str, retry_after: float = 30.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CheckpointAndContinue(ProcessorError):
    """The job made progress but cannot finish within this invocation: save
    `checkpoint` (the worker stores it as the job's result, handed back next time as
    `ctx.previous_result`) and run it again after `retry_after` seconds, without
    counting the attempt."""

    def __init__(self, checkpoint: dict[str, Any], retry_after: float = 0.0,
                 message: str = "checkpointed; continuing later") -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
        self.retry_after = retry_after
