"""SMTP with the standard library's smtplib.

SMTP has no idempotency key: a retry after a connection lost mid-DATA may deliver a
second copy. The Message-ID is derived from the job, so mail clients and the
recipient can recognise the copy as the same message.
"""

from __future__ import annotations

import smtplib

from shared.config import Settings
from shared.failures import PermanentError, RetryableError
from shared.providers.email_message import OutgoingEmail
from shared.providers.http import redact_addresses

PROVIDER = "smtp"


def send_email(settings: Settings, email: OutgoingEmail) -> str:
    """Send `email` through SMTP_HOST; returns its Message-ID."""
    if not settings.smtp_host:
        raise PermanentError("SMTP_HOST is not set")
    timeout = settings.smtp_timeout_seconds
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            _open(smtp, settings)
            smtp.send_message(email.to_mime())
    except smtplib.SMTPResponseException as exc:
        raise _classify(exc.smtp_code, exc.smtp_error) from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise PermanentError(f"SMTP server does not support what we asked ({exc}); "
                             "check SMTP_STARTTLS and the credentials") from exc
    except smtplib.SMTPRecipientsRefused as exc:
        code, error = next(iter(exc.recipients.values()))
        raise _classify(code, error, f"{len(exc.recipients)} recipient(s) refused") from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise RetryableError(f"SMTP {settings.smtp_host}:{settings.smtp_port} failed: "
                             f"{type(exc).__name__}: {redact_addresses(str(exc))}") from exc
    return email.message_id


def _open(smtp: smtplib.SMTP, settings: Settings) -> None:
    smtp.ehlo()
    if settings.smtp_starttls:
        smtp.starttls()
        smtp.ehlo()
    if settings.smtp_username and settings.smtp_password is not None:
        smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())


def _classify(code: int, error: bytes | str, what: str = "SMTP") -> Exception:
    """4xx replies are transient (greylisting, mailbox busy); 5xx are final."""
    text = redact_addresses(error.decode(errors="replace") if isinstance(error, bytes) else error)
    if 400 <= code < 500:
        return RetryableError(f"{what}: {code} {text}")
    return PermanentError(f"{what}: {code} {text}")
