"""The local outbox: each message as a readable `.eml` file, for development.

One file per email key (the job), written atomically; a retried job finds its file
and writes nothing new. Open the file with any mail client or a text editor.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from shared.config import Settings
from shared.providers.email_message import OutgoingEmail


def outbox_dir(settings: Settings) -> Path:
    """EMAIL_OUTBOX_DIR, else LOCAL_DIR/outbox."""
    return settings.email_outbox_dir or settings.local_dir / "outbox"


def send_email(settings: Settings, email: OutgoingEmail) -> str:
    """Write `email` to the outbox (once per key); returns the file path."""
    directory = outbox_dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{_safe(email.key)}.eml"
    if path.exists():
        return str(path)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".eml")
    with os.fdopen(fd, "wb") as handle:
        handle.write(email.to_mime().as_bytes())
    os.replace(tmp, path)
    return str(path)


def _safe(key: str) -> str:
    """The key as a file name: letters, digits, dash, underscore and dot only."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
