"""The audio encodings text-to-speech produces, shared by the real providers and the local stand-in."""

from __future__ import annotations

from typing import Literal

Encoding = Literal["mp3", "pcm"]
PCM_RATE = 24000  # Hz; OpenAI's pcm is 24 kHz, and we ask ElevenLabs for the same.
