"""The queue's exceptions, and the one table mapping SQLSTATEs to them."""

from __future__ import annotations


class QueueError(Exception):
    """Root of every error this package raises on purpose."""

    def __init__(self, message: str, *, hint: str | None = None, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint or None
        self.sqlstate = sqlstate

    def to_dict(self) -> dict[str, str | None]:
        return {"error": type(self).__name__, "message": self.message, "hint": self.hint,
                "sqlstate": self.sqlstate}


class InvalidInput(QueueError):
    """A caller passed something the queue does not accept (HTTP 400)."""


class UnknownJobType(InvalidInput):
    """22QT1: no job_types row of that name."""


class InvalidPriority(InvalidInput):
    """22QP1."""


class InvalidPayload(InvalidInput):
    """22QJ1/22QJ2/22QJ3: payload not an object, too large, or a malformed batch."""


class InvalidBatchSize(InvalidInput):
    """22QB1/22QB2."""


class InvalidMaxAttempts(InvalidInput):
    """22QA1."""


class InvalidDependency(InvalidInput):
    """22QD1/22QD2: depends_on names a missing or cancelled job."""


class InvalidCron(InvalidInput):
    """22QC1."""


class NotFound(QueueError):
    """PT404: no such job or dead letter (HTTP 404)."""


class NotAllowed(QueueError):
    """42501: the caller's role may not do this (HTTP 403)."""


class Conflict(QueueError):
    """PT409: the row exists but is not in a state that allows this (HTTP 409)."""


class TooManyPendingJobs(QueueError):
    """PT429: a client already has job_types.client_pending_limit pending jobs of the type (HTTP 429)."""


class DatabaseUnavailable(QueueError):
    """The database could not be reached (HTTP 503)."""


class LeaseLost(QueueError):
    """The job is no longer running under this worker: it was reclaimed or cancelled."""


# SQLSTATE -> exception. Specific codes first; class "22" falls back to InvalidInput.
SQLSTATE_ERRORS: dict[str, type[QueueError]] = {
    "22QT1": UnknownJobType,
    "22QP1": InvalidPriority,
    "22QJ1": InvalidPayload,
    "22QJ2": InvalidPayload,
    "22QJ3": InvalidPayload,
    "22QB1": InvalidBatchSize,
    "22QB2": InvalidBatchSize,
    "22QA1": InvalidMaxAttempts,
    "22QD1": InvalidDependency,
    "22QD2": InvalidDependency,
    "22QC1": InvalidCron,
    "PT404": NotFound,
    "PT409": Conflict,
    "PT429": TooManyPendingJobs,
    "42501": NotAllowed,
}


def error_for_sqlstate(sqlstate: str | None, message: str, hint: str | None) -> QueueError:
    """The QueueError a database error with this SQLSTATE stands for."""
    cls = SQLSTATE_ERRORS.get(sqlstate or "")
    if cls is None and (sqlstate or "").startswith(("08", "57P")):
        # Connection lost or server shutting down: the next invocation can retry.
        cls = DatabaseUnavailable
    if cls is None:
        cls = InvalidInput if (sqlstate or "").startswith("22") else QueueError
    return cls(message, hint=hint, sqlstate=sqlstate)
