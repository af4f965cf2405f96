"""`email`: one transactional email, through Resend, SMTP or the local outbox.

The provider is EMAIL_PROVIDER, else Resend when RESEND_API_KEY is set, else SMTP
when SMTP_HOST is set, else the local outbox (LOCAL_DIR/outbox). Every provider is
handed a key derived from the job id: Resend's Idempotency-Key, the outbox file
name and the SMTP Message-ID, so a retried job does not send a second email.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from jinja2 import TemplateError
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator

from shared.config import Settings
from shared.processors.base import JobContext, PermanentError
from shared.processors.circuit_breaker import guarded
from shared.processors.email_template_data import TEMPLATE_DATA
from shared.processors.email_templates import render
from shared.providers import outbox, resend, smtp
from shared.providers.email_message import OutgoingEmail
from shared.providers.http import redact_address

JOB_TYPE = "email"
log = logging.getLogger(__name__)


class Payload(BaseModel):
    """Give a `template` with its `template_data`, or `html` and/or `text` with a `subject`
    (not both). `to` and `reply_to` take one address or a list."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    to: list[EmailStr] = Field(min_length=1, max_length=50, description="One address or a list")
    subject: str | None = Field(None, min_length=1, max_length=998, description="Required without a template")
    template: Literal["welcome", "track_completed", "payout_confirmation"] | None = Field(
        None, description="A template; its fields go in template_data (see below)")
    template_data: dict[str, Any] = Field(default_factory=dict, description="The template's fields")
    html: str | None = Field(None, description="The HTML part, without a template")
    text: str | None = Field(None, description="The text part, without a template")
    from_: str | None = Field(None, alias="from", description="Default EMAIL_FROM")
    reply_to: list[EmailStr] = Field(default_factory=list, description="One address or a list")
    tags: dict[str, str] = Field(default_factory=dict, description="Provider tags, name -> value")

    @field_validator("to", "reply_to", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("tags")
    @classmethod
    def _tag_names(cls, tags: dict[str, str]) -> dict[str, str]:
        bad = [n for n in tags if not n or not all(c.isascii() and (c.isalnum() or c in "_-") for c in n)]
        if bad:
            raise ValueError(f"tag names may hold only ASCII letters, digits, _ and -: {bad}")
        return tags

    @model_validator(mode="after")
    def _content(self) -> Payload:
        if self.template is not None and (self.html is not None or self.text is not None):
            raise ValueError("give either template (with template_data) or html/text, not both")
        if self.template is None and self.html is None and self.text is None:
            raise ValueError("give a template, or html and/or text")
        if self.template is None and self.subject is None:
            raise ValueError("subject is required when no template is given")
        if self.template is not None:
            self._check_template_data(self.template)
        return self

    def _check_template_data(self, template: str) -> None:
        """template_data against the template's model: each problem named by its field."""
        try:
            TEMPLATE_DATA[template].model_validate(self.template_data)
        except ValidationError as exc:
            problems = "; ".join(
                (f"template_data.{'.'.join(str(p) for p in e['loc'])}: " if e["loc"] else "")
                + e["msg"].removeprefix("Value error, ") for e in exc.errors())
            allowed = ", ".join(TEMPLATE_DATA[template].model_fields)
            raise ValueError(f"{problems} (the {template} template takes: {allowed})") from None


def provider_for(settings: Settings) -> str:
    """EMAIL_PROVIDER, else the first configured of resend, smtp; else the outbox."""
    if settings.email_provider:
        return settings.email_provider
    if settings.resend_api_key is not None:
        return "resend"
    return "smtp" if settings.smtp_host else "outbox"


def missing_settings(settings: Settings) -> list[str]:
    provider = provider_for(settings)
    if provider == "resend" and settings.resend_api_key is None:
        return ["RESEND_API_KEY"]
    if provider == "smtp" and not settings.smtp_host:
        return ["SMTP_HOST"]
    return []


def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    email = build(payload, ctx)
    provider = provider_for(ctx.settings)
    message_id = _send(provider, email, ctx)
    log.info("email job %s sent via %s to %s", ctx.job_id, provider,
             ", ".join(redact_address(a) for a in email.to))
    return {"provider": provider, "message_id": message_id, "recipients": len(email.to),
            "template": payload.template}


def build(payload: Payload, ctx: JobContext) -> OutgoingEmail:
    """Render the payload into the message to send, keyed by the job id."""
    subject, html, text = payload.subject, payload.html, payload.text
    if payload.template is not None:
        try:
            rendered_subject, html, text = render(payload.template, payload.template_data)
        except TemplateError as exc:
            raise PermanentError(f"template {payload.template!r} cannot render: {exc}") from exc
        subject = subject or rendered_subject
    return OutgoingEmail(key=f"email-{ctx.job_id}", sender=payload.from_ or ctx.settings.email_from,
                         to=[str(a) for a in payload.to], subject=subject or "", html=html, text=text,
                         reply_to=[str(a) for a in payload.reply_to], tags=payload.tags)


def _send(provider: str, email: OutgoingEmail, ctx: JobContext) -> str:
    if provider == "resend":
        return guarded(ctx, resend.PROVIDER, lambda: resend.send_email(ctx.http, ctx.settings, email))
    if provider == "smtp":
        return guarded(ctx, smtp.PROVIDER, lambda: smtp.send_email(ctx.settings, email))
    return outbox.send_email(ctx.settings, email)
