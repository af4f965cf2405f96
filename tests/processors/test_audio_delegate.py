"""Audio delegated to an external audio-processor service (AUDIO_PROCESSOR_URL): start,
poll, download, store; checkpoint the render id when time runs short.

Real: Postgres (circuit breaker state; the job and its heartbeat in the cancel test), the
local storage folder. Faked: the audio
processor service, at the HTTP layer (httpx.MockTransport).
"""

from __future__ import annotations

import json
import uuid
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg.types.json import Jsonb

from shared.config import Settings
from shared.processors import audio
from shared.processors.base import CheckpointAndContinue, PermanentError, RateLimitedError, RetryableError
from shared.queue.postgres import PostgresBackend
from tests.processors.conftest import MakeContext
from tests.processors.test_audio import heartbeat

BODY = {"track_id": "t9", "sections": ["Part one.", "Part two."], "voice": "alloy"}


class Service:
    """POST /renders -> r1; GET /renders/r1 answers `statuses` in turn; GET the file -> bytes."""

    def __init__(self, statuses: list[dict[str, Any]], start: httpx.Response | None = None) -> None:
        self.statuses = statuses
        self.start = start
        self.posts: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path == "/renders":
            self.posts.append(request)
            return self.start or httpx.Response(202, json={"id": "r1", "status": "queued"})
        if request.url.path == "/renders/r1":
            status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
            return httpx.Response(200, json=status)
        if str(request.url) == "https://files.test/r1.mp3":
            return httpx.Response(200, content=b"ID3-remote-audio")
        return httpx.Response(404, json={"error": "no route"})


RUNNING = {"status": "running", "progress": 40}
DONE = {"status": "succeeded", "progress": 100, "audio_url": "https://files.test/r1.mp3"}


def run(make_ctx: MakeContext, tmp_path: Path, service: Service, **ctx_args: Any) -> dict[str, Any]:
    settings = Settings(local_dir=tmp_path, audio_processor_url="https://audio.test", audio_poll_seconds=0.01)
    client = httpx.Client(transport=httpx.MockTransport(service))
    ctx = make_ctx(settings, job_type="audio", client=client, **ctx_args)
    return audio.handle(audio.Payload.model_validate(BODY), ctx)


def test_a_delegated_render_is_polled_downloaded_and_stored(
        make_ctx: MakeContext, tmp_path: Path, progress_calls: list[tuple[int, str | None]]) -> None:
    service, job_id = Service([RUNNING, RUNNING, DONE]), uuid.uuid4()
    result = run(make_ctx, tmp_path, service, job_id=job_id)
    assert Path(result["location"]).read_bytes() == b"ID3-remote-audio"
    [post] = service.posts
    assert post.headers["idempotency-key"] == str(job_id)
    assert json.loads(post.content) == {"track_id": "t9", "text": "Part one.\n\nPart two.", "voice": "alloy",
                                        "format": "mp3"}
    assert (40, "rendering remotely (r1)") in progress_calls


def test_a_delegated_render_checkpoints_its_id_and_resumes_without_starting_again(
        make_ctx: MakeContext, tmp_path: Path) -> None:
    service, job_id = Service([RUNNING, DONE]), uuid.uuid4()
    with pytest.raises(CheckpointAndContinue) as caught:
        run(make_ctx, tmp_path, service, job_id=job_id, deadline=1.0)
    assert caught.value.checkpoint == {"checkpoint": "audio", "delegate_render_id": "r1"}
    result = run(make_ctx, tmp_path, service, job_id=job_id, previous_result=caught.value.checkpoint)
    assert Path(result["location"]).read_bytes() == b"ID3-remote-audio"
    assert len(service.posts) == 1


def test_a_failed_remote_render_fails_permanently(make_ctx: MakeContext, tmp_path: Path) -> None:
    service = Service([{"status": "failed", "error": "unknown voice alloy"}])
    with pytest.raises(PermanentError, match="unknown voice alloy"):
        run(make_ctx, tmp_path, service)


@pytest.mark.parametrize(("response", "error"), [
    (httpx.Response(503, text="down"), RetryableError),
    (httpx.Response(429, text="busy", headers={"retry-after": "4"}), RateLimitedError),
    (httpx.Response(400, text="bad format"), PermanentError),
])
def test_service_errors_are_classified(response: httpx.Response, error: type[Exception],
                                       make_ctx: MakeContext, tmp_path: Path) -> None:
    with pytest.raises(error):
        run(make_ctx, tmp_path, Service([DONE], start=response))


def test_with_a_delegate_configured_no_tts_key_is_needed() -> None:
    assert audio.missing_settings(Settings(audio_processor_url="https://audio.test")) == []


def test_a_job_cancelled_while_its_remote_render_runs_says_cancelled_not_lease_lost(
        make_ctx: MakeContext, tmp_path: Path, conn: Any, backend: PostgresBackend) -> None:
    job_id = conn.execute("select enqueue_job('audio', %s) as id", (Jsonb(BODY),)).fetchone()["id"]
    conn.execute("select get_next_job('w1', array['audio'], 1)")

    class CancelledMidRender(Service):
        def __call__(self, request: httpx.Request) -> httpx.Response:
            if request.url.path == "/renders/r1":  # an operator cancels while the service renders
                conn.execute("select cancel_job(%s)", (job_id,))
            return super().__call__(request)

    settings = Settings(local_dir=tmp_path, audio_processor_url="https://audio.test", audio_poll_seconds=0.01)
    ctx = make_ctx(settings, job_type="audio", job_id=job_id,
                   client=httpx.Client(transport=httpx.MockTransport(CancelledMidRender([RUNNING]))))
    ctx.worker_id = "w1"
    ctx.progress = partial(heartbeat, backend, job_id, "w1")
    with pytest.raises(PermanentError, match=r"^was cancelled while polling remote render r1$"):
        audio.handle(audio.Payload.model_validate(BODY), ctx)
    assert not any((tmp_path / "audio").rglob("*.mp3"))
