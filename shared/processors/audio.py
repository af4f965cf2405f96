"""`audio`: render a track's script to speech and store it (S3 or a local folder).

With AUDIO_PROCESSOR_URL set the whole render is delegated to that service and
polled (audio_delegate.py). Otherwise the script is cut into chunks within the TTS
API's input limit; each rendered chunk
is stored as it finishes and progress is reported, so a render longer than one
invocation checkpoints and continues later where it stopped. On success the file is
`tracks/<track_id>/<job_id>.<format>` and a `track_completed` email is enqueued for
`notify_email` (once per job).
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from shared.config import Settings
from shared.processors.audio_delegate import PROVIDER, render_remote
from shared.processors.audio_render import assemble, part_key, render_parts, split_text
from shared.processors.base import JobContext
from shared.processors.circuit_breaker import guarded
from shared.providers import tts
from shared.providers.http import redact_address
from shared.providers.storage import Storage, storage_for
from shared.queue.models import NewJob

JOB_TYPE = "audio"
CONTENT_TYPES = {"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/L16"}
log = logging.getLogger(__name__)


class Payload(BaseModel):
    """Give exactly one of `text` or `sections` (none of them empty)."""

    model_config = ConfigDict(extra="forbid")

    track_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,100}$", description="Names the stored file")
    text: str | None = Field(None, min_length=1, max_length=500_000, description="The whole script")
    sections: list[str] | None = Field(None, min_length=1, max_length=1000, description="Script sections")
    voice: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$",
                       description="The TTS provider's voice, e.g. alloy (OpenAI)")
    format: Literal["mp3", "wav", "pcm"] = Field("mp3", description="Of the stored file")
    title: str | None = Field(None, max_length=200, description="For the email; default track_id")
    notify_email: EmailStr | None = Field(None, description="Who gets the track_completed email")

    @model_validator(mode="after")
    def _one_script(self) -> Payload:
        if (self.text is None) == (self.sections is None):
            raise ValueError("give exactly one of text or sections")
        if self.sections is not None and not all(s.strip() for s in self.sections):
            raise ValueError("sections must not be empty")
        return self


def missing_settings(settings: Settings) -> list[str]:
    """TTS_API_KEY when a hosted TTS provider is chosen without one (local needs none)."""
    hosted = tts.provider_for(settings) != "local" and not settings.audio_processor_url
    return ["TTS_API_KEY"] if hosted and settings.tts_api_key is None else []


def handle(payload: Payload, ctx: JobContext) -> dict[str, Any]:
    storage = storage_for(ctx.settings)
    key = f"tracks/{payload.track_id}/{ctx.job_id}.{payload.format}"
    chunks = _chunks(payload, ctx.settings.tts_chunk_chars)
    if storage.exists(key):  # stored by an attempt that died before finishing: tidy up only
        storage.delete([part_key(key, i) for i in range(len(chunks))])
    else:
        _render(payload, ctx, storage, key, chunks)
    _enqueue_email(payload, ctx, storage, key)
    ctx.progress(100, "stored")
    provider = "audio_processor" if ctx.settings.audio_processor_url else tts.provider_for(ctx.settings)
    return {"track_id": payload.track_id, "key": key, "location": storage.location(key),
            "storage": storage.kind, "chunks": len(chunks), "format": payload.format, "provider": provider}


def _chunks(payload: Payload, limit: int) -> list[str]:
    sections = payload.sections if payload.sections is not None else [payload.text or ""]
    return [chunk for section in sections for chunk in split_text(section, limit)]


def _render(payload: Payload, ctx: JobContext, storage: Storage, key: str, chunks: list[str]) -> None:
    if ctx.settings.audio_processor_url:
        text = payload.text if payload.text is not None else "\n\n".join(payload.sections or [])
        body = {"track_id": payload.track_id, "text": text, "voice": payload.voice, "format": payload.format}
        audio = guarded(ctx, PROVIDER, lambda: render_remote(ctx, body))
        storage.put(key, audio, CONTENT_TYPES[payload.format])
        return
    encoding: Literal["mp3", "pcm"] = "mp3" if payload.format == "mp3" else "pcm"
    render_parts(ctx, storage, key, chunks, payload.voice, encoding)
    storage.put(key, assemble(storage, key, len(chunks), payload.format), CONTENT_TYPES[payload.format])
    storage.delete([part_key(key, i) for i in range(len(chunks))])


def _enqueue_email(payload: Payload, ctx: JobContext, storage: Storage, key: str) -> None:
    if payload.notify_email is None:
        return
    data = {"track_id": payload.track_id, "title": payload.title or payload.track_id,
            "key": storage.location(key)}
    body = {"to": [payload.notify_email], "template": "track_completed", "template_data": data}
    ctx.backend.jobs_enqueue([NewJob(type="email", payload=body, owner_id=ctx.owner_id,
                                     idempotency_key=f"track_completed:{ctx.job_id}")])
    log.info("audio job %s: track_completed email enqueued for %s", ctx.job_id,
             redact_address(str(payload.notify_email)))
