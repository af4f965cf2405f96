"""The rendered email every email provider sends, and its MIME form."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate


@dataclass(frozen=True)
class OutgoingEmail:
    """A message ready to send. `key` is stable per job (retries reuse it)."""

    key: str
    sender: str
    to: list[str]
    subject: str
    html: str | None
    text: str | None
    reply_to: list[str] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)

    @property
    def message_id(self) -> str:
        """A Message-ID derived from the key, so a resent copy can be recognised as the same."""
        return f"<{self.key}@queue-worker>"

    def to_mime(self) -> EmailMessage:
        """The message as MIME: text/plain, with an text/html alternative when there is HTML."""
        mime = EmailMessage()
        mime["From"] = self.sender
        mime["To"] = ", ".join(self.to)
        mime["Subject"] = self.subject
        mime["Date"] = formatdate(usegmt=True)
        mime["Message-ID"] = self.message_id
        if self.reply_to:
            mime["Reply-To"] = ", ".join(self.reply_to)
        for name, value in self.tags.items():
            mime[f"X-Tag-{name}"] = value
        mime.set_content(self.text or "")
        if self.html:
            mime.add_alternative(self.html, subtype="html")
        return mime
