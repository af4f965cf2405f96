"""Delegating a whole render to an external audio-processor service (AUDIO_PROCESSOR_URL).

The service's contract, as this worker uses it:
- `POST /renders` `{track_id, text, voice, format}` with `Idempotency-Key: <job id>`
  -> `{"id": ...}` (the same render for the same key);
- `GET /renders/{id}` -> `{"status": "queued"|"running"|"succeeded"|"failed",
  "progress": 0-100, "audio_url": ..., "error": ...}`;
- `GET <audio_url>` -> the audio bytes.
The render id is the checkpoint: when the invocation's time runs short the job saves
it and continues polling in a later invocation instead of starting a new render.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from shared.processors.base import (
    CheckpointAndContinue,
    JobContext,
    PermanentError,
    RateLimitedError,
    RetryableError,
)
from shared.processors.lease import lease_refused
from shared.providers.http import retry_after_seconds, send

PROVIDER = "audio_processor"
SAFETY_SECONDS = 2.0


def render_remote(ctx: JobContext, body: dict[str, Any]) -> bytes:
    """Start (or resume) the render, poll it to the end, and return the audio bytes."""
    base = (ctx.settings.audio_processor_url or "").rstrip("/")
    previous = ctx.previous_result if isinstance(ctx.previous_result, dict) else {}
    render_id = previous.get("delegate_render_id") or _start(ctx, base, body)
    while True:
        status = _call(ctx, "GET", f"{base}/renders/{render_id}").json()
        if status["status"] == "succeeded":
            return _call(ctx, "GET", status["audio_url"]).content
        if status["status"] == "failed":
            raise PermanentError(f"audio processor failed render {render_id}: {status.get('error')}")
        _wait(ctx, render_id, int(status.get("progress") or 0))


def _start(ctx: JobContext, base: str, body: dict[str, Any]) -> str:
    response = _call(ctx, "POST", f"{base}/renders", json=body, headers={"Idempotency-Key": str(ctx.job_id)})
    render_id: str = response.json()["id"]
    return render_id


def _wait(ctx: JobContext, render_id: str, progress: int) -> None:
    """Report the service's progress, then sleep one poll interval or checkpoint."""
    if not ctx.progress(min(progress, 99), f"rendering remotely ({render_id})"):
        raise lease_refused(ctx, f"polling remote render {render_id}")
    interval = ctx.settings.audio_poll_seconds
    if ctx.deadline_seconds() < interval + SAFETY_SECONDS:
        raise CheckpointAndContinue({"checkpoint": "audio", "delegate_render_id": render_id},
                                    retry_after=interval)
    time.sleep(interval)


def _call(ctx: JobContext, method: str, url: str, **kwargs: Any) -> httpx.Response:
    response = send(PROVIDER, lambda: ctx.http.request(method, url, **kwargs))
    if response.is_success:
        return response
    text = response.text[:200]
    if response.status_code == 429:
        delay = retry_after_seconds(response, 10.0)
        raise RateLimitedError(f"audio processor busy: {text}", retry_after=delay)
    if response.status_code >= 500:
        raise RetryableError(f"audio processor {response.status_code}: {text}")
    raise PermanentError(f"audio processor refused {method} {url} ({response.status_code}): {text}")
