"""The local text-to-speech stand-in: silence as long as the text would take to say.

For development without an API key (`queue-worker dev`): the whole audio pipeline
(chunks, progress, storage, the track_completed email) runs and the file plays.
mp3 is a run of silent MPEG-1 Layer III frames (a frame header and zeroed side
information decode as silence); pcm is zeroed 16-bit samples at 24 kHz.
"""

from __future__ import annotations

from shared.providers.tts_format import PCM_RATE, Encoding

SECONDS_PER_WORD = 0.4
# MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, no padding, mono: 417-byte frames of 1152 samples.
MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0xC4]) + bytes(413)
MP3_FRAME_SECONDS = 1152 / 44100


def synthesize(text: str, encoding: Encoding) -> bytes:
    """Silence lasting about as long as `text` takes to read aloud."""
    seconds = max(len(text.split()), 1) * SECONDS_PER_WORD
    if encoding == "mp3":
        return MP3_FRAME * max(round(seconds / MP3_FRAME_SECONDS), 1)
    return bytes(2 * round(seconds * PCM_RATE))
