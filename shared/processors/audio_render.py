"""Rendering a script through a TTS API in chunks, resumable across invocations.

Each chunk's audio is stored as a part (`<key>.parts/00000`) as soon as it arrives,
so a render cut short (deadline, crash) resumes at the first missing part instead of
starting again. The parts belong to the job, not to an attempt (the key holds the job's
id): a worker that takes the job over after a lost lease uses them. A job cancelled mid
render (or gone from the queue) never runs again: its parts are removed. Parts are mp3
frames or raw PCM, which concatenate cleanly; wav is raw PCM with a header written once
at the end.
"""

from __future__ import annotations

import io
import re
import time
import wave
from collections.abc import Callable
from functools import partial

from shared.processors.base import CheckpointAndContinue, JobContext
from shared.processors.circuit_breaker import guarded
from shared.processors.lease import lease_refused
from shared.providers import tts
from shared.providers.storage import Storage
from shared.providers.tts_format import PCM_RATE, Encoding

SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")
# Seconds kept in hand before the deadline, beyond the slowest chunk seen so far.
SAFETY_SECONDS = 2.0


def split_text(text: str, limit: int) -> list[str]:
    """`text` as chunks of at most `limit` characters, cut at sentence ends, else spaces."""
    chunks: list[str] = []
    current = ""
    for sentence in SENTENCE_END.split(text.strip()):
        for piece in _fit(sentence, limit):
            if current and len(current) + 1 + len(piece) > limit:
                chunks.append(current)
                current = ""
            current = f"{current} {piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def _fit(sentence: str, limit: int) -> list[str]:
    """A sentence longer than `limit` cut at spaces (or hard, for one enormous word)."""
    pieces: list[str] = []
    while len(sentence) > limit:
        cut = sentence.rfind(" ", 0, limit + 1)
        cut = cut if cut > 0 else limit
        pieces.append(sentence[:cut].strip())
        sentence = sentence[cut:].strip()
    return [*pieces, sentence] if sentence else pieces


def part_key(key: str, index: int) -> str:
    return f"{key}.parts/{index:05d}"


def render_parts(ctx: JobContext, storage: Storage, key: str, chunks: list[str], voice: str,
                 encoding: Encoding) -> None:
    """Make sure every chunk's part is stored, reporting progress; checkpoints near the deadline."""
    slowest, done_here = 0.0, 0
    for index, chunk in enumerate(chunks):
        if storage.exists(part_key(key, index)):
            continue
        if done_here and ctx.deadline_seconds() < slowest + SAFETY_SECONDS:
            raise CheckpointAndContinue({"checkpoint": "audio", "chunks_done": index, "chunks": len(chunks)})
        started = time.monotonic()
        audio = _synthesize(ctx, chunk, voice, encoding)
        storage.put(part_key(key, index), audio, "application/octet-stream")
        slowest, done_here = max(slowest, time.monotonic() - started), done_here + 1
        _report(ctx, index + 1, len(chunks), partial(remove_parts, storage, key, len(chunks), index + 1))


def remove_parts(storage: Storage, key: str, chunks: int, stored: int) -> str:
    """Delete every part of `key` (`stored` of them exist: parts are made in order)."""
    storage.delete([part_key(key, i) for i in range(chunks)])
    return f"removed its {stored} rendered part{'' if stored == 1 else 's'}"


def _synthesize(ctx: JobContext, text: str, voice: str, encoding: Encoding) -> bytes:
    """One chunk through the TTS provider, behind its circuit breaker (the local stand-in
    cannot fail the way a remote API does, so it has none)."""
    provider = tts.provider_for(ctx.settings)
    call = partial(tts.synthesize, ctx.http, ctx.settings, text, voice, encoding)
    return call() if provider == "local" else guarded(ctx, provider, call)


def _report(ctx: JobContext, done: int, total: int, remove: Callable[[], str]) -> None:
    """Progress as chunks finish. Refused: cancelled (remove the parts) or taken over (keep them)."""
    if not ctx.progress(min(99, done * 100 // total), f"rendered chunk {done}/{total}"):
        raise lease_refused(ctx, f"rendering (chunk {done}/{total})", remove)


def assemble(storage: Storage, key: str, chunks: int, audio_format: str) -> bytes:
    """The stored parts joined into one file of `audio_format`."""
    data = b"".join(storage.get(part_key(key, i)) for i in range(chunks))
    if audio_format != "wav":
        return data
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(PCM_RATE)
        wav.writeframes(data)
    return out.getvalue()
