"""The audio processor: chunked TTS, progress, checkpoints, storage and the follow-up email.

Real: Postgres (the follow-up email job; in the cancel and takeover tests the job, its
claim and its heartbeat), the local storage folder, boto3 talking to
moto's S3 server over HTTP (ThreadedMotoServer, not a mocked boto3). Faked: the TTS
APIs (OpenAI and ElevenLabs shapes) at the HTTP layer with httpx.MockTransport.
"""

from __future__ import annotations

import io
import json
import uuid
import wave
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import boto3
import httpx
import psycopg
import pydantic
import pytest
from moto.server import ThreadedMotoServer
from psycopg.types.json import Jsonb

from shared.config import Settings
from shared.processors import audio
from shared.processors.audio_render import split_text
from shared.processors.base import CheckpointAndContinue, PermanentError, RateLimitedError, RetryableError
from shared.providers import tts_local
from shared.queue.postgres import PostgresBackend
from tests.processors.conftest import MakeContext
from tests.sql.factories import value

Conn = psycopg.Connection[dict[str, Any]]
SCRIPT = " ".join(f"Sentence number {i} is here." for i in range(12))  # ~330 characters


def fake_audio(text: str) -> bytes:
    """The fake's audio for `text`: whole 16-bit samples, like real PCM."""
    data = f"[{text}]".encode()
    return data + b" " * (len(data) % 2)


class FakeTTS:
    """OpenAI /v1/audio/speech and ElevenLabs /v1/text-to-speech/{voice}: audio = marked input."""

    def __init__(self, errors: list[httpx.Response] | None = None) -> None:
        self.requests: list[httpx.Request] = []
        self.errors = errors or []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.errors:
            return self.errors.pop(0)
        body = json.loads(request.content)
        if request.url.path == "/v1/audio/speech":
            assert request.headers["authorization"] == "Bearer tts_key"
            text = body["input"]
        else:
            assert request.url.path == "/v1/text-to-speech/rachel"
            assert request.headers["xi-api-key"] == "tts_key"
            text = body["text"]
        return httpx.Response(200, content=fake_audio(text))

    def texts(self) -> list[str]:
        return [json.loads(r.content).get("input") or json.loads(r.content)["text"] for r in self.requests]


def settings_for(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(local_dir=tmp_path, tts_api_key="tts_key", tts_api_base="https://tts.test",
                    tts_chunk_chars=120, **extra)


def render(make_ctx: MakeContext, settings: Settings, fake: FakeTTS, body: dict[str, Any],
           **ctx_args: Any) -> dict[str, Any]:
    client = httpx.Client(transport=httpx.MockTransport(fake))
    ctx = make_ctx(settings, job_type="audio", client=client, **ctx_args)
    return audio.handle(audio.Payload.model_validate(body), ctx)


BODY = {"track_id": "t1", "text": SCRIPT, "voice": "alloy"}


def test_a_script_is_rendered_in_chunks_into_the_local_folder_with_progress_per_chunk(
        tmp_path: Path, make_ctx: MakeContext, progress_calls: list[tuple[int, str | None]]) -> None:
    fake = FakeTTS()
    result = render(make_ctx, settings_for(tmp_path), fake, BODY)
    texts = fake.texts()
    assert len(texts) == result["chunks"] == 3
    assert all(len(t) <= 120 for t in texts)
    assert " ".join(texts) == SCRIPT
    stored = Path(result["location"])
    assert stored.read_bytes() == b"".join(fake_audio(t) for t in texts)
    assert stored.parent == tmp_path / "audio" / "tracks" / "t1"
    assert [p for p, _ in progress_calls] == [33, 66, 99, 100]
    assert not any(stored.parent.glob("*.parts/*"))
    assert json.loads(fake.requests[0].content)["response_format"] == "mp3"


def test_wav_is_rendered_from_pcm_chunks_with_one_header(tmp_path: Path, make_ctx: MakeContext) -> None:
    fake = FakeTTS()
    result = render(make_ctx, settings_for(tmp_path), fake, {**BODY, "format": "wav"})
    assert {json.loads(r.content)["response_format"] for r in fake.requests} == {"pcm"}
    with wave.open(io.BytesIO(Path(result["location"]).read_bytes())) as wav:
        frames = wav.readframes(wav.getnframes())
        assert wav.getframerate() == 24000
    assert frames == b"".join(fake_audio(t) for t in fake.texts())


def test_elevenlabs_is_called_in_its_own_shape(tmp_path: Path, make_ctx: MakeContext) -> None:
    fake = FakeTTS()
    settings = settings_for(tmp_path, tts_provider="elevenlabs")
    render(make_ctx, settings, fake, {**BODY, "voice": "rachel", "sections": None, "text": "Hello there."})
    [request] = fake.requests
    assert request.url.params["output_format"] == "mp3_44100_128"
    assert json.loads(request.content)["model_id"] == "eleven_multilingual_v2"


def test_sections_are_chunked_separately(tmp_path: Path, make_ctx: MakeContext) -> None:
    fake = FakeTTS()
    body = {"track_id": "t2", "sections": ["Intro.", "Part two. It is short."], "voice": "alloy"}
    render(make_ctx, settings_for(tmp_path), fake, body)
    assert fake.texts() == ["Intro.", "Part two. It is short."]


def test_a_render_near_its_deadline_checkpoints_and_the_next_run_continues_where_it_stopped(
        tmp_path: Path, make_ctx: MakeContext) -> None:
    fake, job_id = FakeTTS(), uuid.uuid4()
    with pytest.raises(CheckpointAndContinue) as caught:
        render(make_ctx, settings_for(tmp_path), fake, BODY, job_id=job_id, deadline=1.0)
    assert caught.value.checkpoint == {"checkpoint": "audio", "chunks_done": 1, "chunks": 3}
    assert len(fake.requests) == 1

    result = render(make_ctx, settings_for(tmp_path), fake, BODY, job_id=job_id,
                    previous_result=caught.value.checkpoint)
    assert len(fake.requests) == 3
    assert Path(result["location"]).read_bytes() == b"".join(fake_audio(t) for t in fake.texts())


def test_a_job_retried_after_storing_renders_nothing_again_and_emails_once(
        tmp_path: Path, conn: Conn, make_ctx: MakeContext) -> None:
    fake, job_id = FakeTTS(), uuid.uuid4()
    body = {**BODY, "notify_email": "owner@example.com", "title": "Night Drive"}
    first = render(make_ctx, settings_for(tmp_path), fake, body, job_id=job_id)
    again = render(make_ctx, settings_for(tmp_path), fake, body, job_id=job_id)
    assert again == first
    assert len(fake.requests) == 3
    emails = conn.execute("select payload, idempotency_key from job_queue where type = 'email'").fetchall()
    assert [e["idempotency_key"] for e in emails] == [f"track_completed:{job_id}"]
    assert emails[0]["payload"]["template_data"]["title"] == "Night Drive"
    assert emails[0]["payload"]["to"] == ["owner@example.com"]


class FakeTTSThatInterrupts(FakeTTS):
    """The fake TTS API, which runs `interrupt` (a cancel, another worker's takeover) while it
    serves request number `at`: the render is then mid-way, its earlier parts stored."""

    def __init__(self, at: int, interrupt: Callable[[], None]) -> None:
        super().__init__()
        self.at, self.interrupt = at, interrupt

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if len(self.requests) + 1 == self.at:
            self.interrupt()
        return super().__call__(request)


def claimed_audio_job(conn: Conn, worker: str, body: dict[str, Any]) -> uuid.UUID:
    """An audio job enqueued and claimed by `worker`, as the worker's claim does."""
    job_id: uuid.UUID = value(conn, "select enqueue_job('audio', %s)", (Jsonb(body),))
    claimed = conn.execute("select id from get_next_job(%s, array['audio'], 1)", (worker,)).fetchall()
    assert [r["id"] for r in claimed] == [job_id]
    return job_id


def render_as_claimed(make_ctx: MakeContext, backend: PostgresBackend, tmp_path: Path, fake: FakeTTS,
                      job_id: uuid.UUID, worker: str) -> dict[str, Any]:
    """audio.handle with the real heartbeat: progress goes to update_job_progress as `worker`."""
    ctx = make_ctx(settings_for(tmp_path), job_type="audio", job_id=job_id,
                   client=httpx.Client(transport=httpx.MockTransport(fake)))
    ctx.worker_id = worker
    ctx.progress = partial(heartbeat, backend, job_id, worker)
    return audio.handle(audio.Payload.model_validate(BODY), ctx)


def heartbeat(backend: PostgresBackend, job_id: uuid.UUID, worker: str, percent: int,
              message: str | None = None) -> bool:
    """The worker's ctx.progress: update_job_progress as `worker`."""
    return backend.job_progress(job_id, percent, message, worker)


def part_files(tmp_path: Path) -> list[str]:
    """The .parts folders under the audio folder and what is in them."""
    root = tmp_path / "audio"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if ".parts" in str(p.relative_to(root)))


def test_a_job_cancelled_mid_render_says_cancelled_and_leaves_no_part_files(
        tmp_path: Path, conn: Conn, backend: PostgresBackend, make_ctx: MakeContext,
        capsys: pytest.CaptureFixture[str]) -> None:
    job_id = claimed_audio_job(conn, "w1", BODY)

    def cancel() -> None:
        assert value(conn, "select cancel_job(%s)", (job_id,)) is True

    fake = FakeTTSThatInterrupts(at=2, interrupt=cancel)  # chunk 2 of 3 renders as it is cancelled
    with pytest.raises(PermanentError) as caught:
        render_as_claimed(make_ctx, backend, tmp_path, fake, job_id, "w1")
    assert str(caught.value) == "was cancelled while rendering (chunk 2/3); removed its 2 rendered parts"
    assert "lease" not in str(caught.value)
    logged = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert {"message": f"audio job {caught.value}", "state": "cancelled", "job_id": str(job_id)}.items() <= (
        next(entry for entry in logged if entry.get("state") == "cancelled").items())
    assert len(fake.requests) == 2  # it stopped at the refused heartbeat, rendering no more
    assert part_files(tmp_path) == []  # no part file and no empty .parts folder
    assert conn.execute("select status from job_queue where id = %s", (job_id,)).fetchone() == {
        "status": "cancelled"}


def test_a_lease_another_worker_took_over_keeps_the_parts_and_that_worker_continues_from_them(
        tmp_path: Path, conn: Conn, backend: PostgresBackend, make_ctx: MakeContext) -> None:
    job_id = claimed_audio_job(conn, "w1", BODY)

    def take_over() -> None:  # w1's lock expired (a frozen process); cleanup gives it back; w2 claims it
        conn.execute("select cleanup_stuck_jobs(now() + interval '1 hour')")
        conn.execute("update job_queue set run_at = now() where id = %s", (job_id,))
        claimed = conn.execute("select id from get_next_job('w2', array['audio'], 1)").fetchall()
        assert [r["id"] for r in claimed] == [job_id]

    first = FakeTTSThatInterrupts(at=2, interrupt=take_over)
    with pytest.raises(RetryableError, match=r"^lost the job's lease while rendering \(chunk 2/3\); another "
                                             r"worker continues it$"):
        render_as_claimed(make_ctx, backend, tmp_path, first, job_id, "w1")
    parts = f"tracks/t1/{job_id}.mp3.parts"
    assert part_files(tmp_path) == [parts, f"{parts}/00000", f"{parts}/00001"]  # what w1 stored, kept

    second = FakeTTS()
    result = render_as_claimed(make_ctx, backend, tmp_path, second, job_id, "w2")
    assert len(second.requests) == 1  # w2 rendered only the missing chunk
    assert Path(result["location"]).read_bytes() == b"".join(fake_audio(t) for t in first.texts()[:2]
                                                             + second.texts())
    assert part_files(tmp_path) == []


def error(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers or {})


def test_a_busy_tts_api_is_rate_limited_honouring_retry_after(tmp_path: Path, make_ctx: MakeContext) -> None:
    busy = error(429, {"detail": {"status": "too_many_concurrent_requests", "message": "busy"}},
                 {"retry-after": "12"})
    with pytest.raises(RateLimitedError) as caught:
        render(make_ctx, settings_for(tmp_path), FakeTTS([busy]), BODY)
    assert caught.value.retry_after == 12


@pytest.mark.parametrize("response", [
    error(429, {"error": {"code": "insufficient_quota", "message": "You exceeded your current quota"}}),
    error(401, {"detail": {"status": "quota_exceeded", "message": "This request exceeds your quota"}}),
    error(400, {"error": {"code": "invalid_value", "message": "Invalid voice 'nope'"}}),
    error(400, {"detail": {"status": "max_character_limit_exceeded", "message": "Text is too long"}}),
    error(404, {"detail": {"status": "voice_not_found", "message": "A voice with that id was not found"}}),
], ids=["openai quota", "elevenlabs quota", "unknown voice", "text too long", "voice not found"])
def test_quota_voice_and_length_errors_fail_permanently(response: httpx.Response, tmp_path: Path,
                                                        make_ctx: MakeContext) -> None:
    with pytest.raises(PermanentError):
        render(make_ctx, settings_for(tmp_path), FakeTTS([response]), BODY)


def test_tts_server_errors_and_network_failures_are_retryable(tmp_path: Path, make_ctx: MakeContext) -> None:
    with pytest.raises(RetryableError, match="500"):
        render(make_ctx, settings_for(tmp_path), FakeTTS([error(500, {"error": {"message": "oops"}})]), BODY)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    client = httpx.Client(transport=httpx.MockTransport(refuse))
    ctx = make_ctx(settings_for(tmp_path), job_type="audio", client=client)
    with pytest.raises(RetryableError, match="openai unreachable"):
        audio.handle(audio.Payload.model_validate(BODY), ctx)


# --- S3 through moto's server ------------------------------------------------------------------

@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_the_track_is_stored_in_s3_when_a_bucket_is_configured(
        tmp_path: Path, make_ctx: MakeContext, s3_endpoint: str) -> None:
    bucket = f"audio-{uuid.uuid4().hex[:8]}"
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    s3.create_bucket(Bucket=bucket)
    settings = settings_for(tmp_path, s3_endpoint_url=s3_endpoint, s3_bucket=bucket,
                            s3_access_key_id="testing", s3_secret_access_key="testing")
    fake = FakeTTS()
    result = render(make_ctx, settings, fake, BODY)
    assert result["storage"] == "s3"
    assert result["location"] == f"s3://{bucket}/{result['key']}"
    stored = s3.get_object(Bucket=bucket, Key=result["key"])
    assert stored["Body"].read() == b"".join(fake_audio(t) for t in fake.texts())
    assert stored["ContentType"] == "audio/mpeg"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == [result["key"]]


# --- chunking, payloads, health ------------------------------------------------------------------

def test_chunks_respect_the_limit_and_keep_every_word() -> None:
    text = "Short one. " + "word " * 60 + "end. " + "x" * 250
    chunks = split_text(text, 100)
    assert all(len(c) <= 100 for c in chunks)
    assert " ".join(chunks).split() == [*text.split()[:-1], "x" * 100, "x" * 100, "x" * 50]


@pytest.mark.parametrize(("body", "message"), [
    ({**BODY, "sections": ["a"]}, "exactly one of text or sections"),
    ({"track_id": "t1", "voice": "alloy"}, "exactly one of text or sections"),
    ({**BODY, "track_id": "../etc"}, "track_id"),
    ({**BODY, "format": "ogg"}, "format"),
    ({**BODY, "voice": ""}, "voice"),
    ({**BODY, "text": None, "sections": ["ok", " "]}, "sections must not be empty"),
    ({**BODY, "speed": 2}, "speed"),
])
def test_a_bad_payload_is_rejected_naming_the_problem(body: dict[str, Any], message: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        audio.Payload.model_validate(body)
    assert message in str(caught.value)


def test_health_names_the_missing_tts_key_only_for_a_hosted_provider() -> None:
    assert audio.missing_settings(Settings(tts_provider="openai")) == ["TTS_API_KEY"]
    assert audio.missing_settings(Settings(tts_provider="elevenlabs", tts_api_key="k")) == []
    assert audio.missing_settings(Settings()) == []  # the local stand-in


def test_without_a_tts_key_the_local_stand_in_renders_playable_silence_of_the_right_length(
        tmp_path: Path, make_ctx: MakeContext) -> None:
    fake = FakeTTS()
    settings = Settings(local_dir=tmp_path)
    mp3 = render(make_ctx, settings, fake, BODY)
    wav = render(make_ctx, settings, fake, {**BODY, "format": "wav"})
    assert fake.requests == []
    assert mp3["provider"] == "local"
    data = Path(mp3["location"]).read_bytes()
    assert data.startswith(tts_local.MP3_FRAME)
    assert len(data) % len(tts_local.MP3_FRAME) == 0
    with wave.open(str(wav["location"])) as reader:
        seconds = reader.getnframes() / reader.getframerate()
    assert seconds == pytest.approx(len(SCRIPT.split()) * tts_local.SECONDS_PER_WORD)
