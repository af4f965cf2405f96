"""Text-to-speech over HTTP: OpenAI `POST /v1/audio/speech` and ElevenLabs
`POST /v1/text-to-speech/{voice_id}`. Both return the audio bytes of one chunk.

Audio comes back as mp3 frames or raw 16-bit mono PCM, both of which concatenate
cleanly across chunks (wav is built from PCM by the audio processor).
Errors: 429 busy -> rate-limited (retry later); quota, unknown voice, text too long,
bad key -> permanent; 5xx and network -> retryable.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

from shared.config import Settings
from shared.failures import PermanentError, RateLimitedError, RetryableError
from shared.providers import tts_local
from shared.providers.http import retry_after_seconds, send
from shared.providers.tts_format import PCM_RATE, Encoding

DEFAULTS = {"openai": ("https://api.openai.com", "gpt-4o-mini-tts"),
            "elevenlabs": ("https://api.elevenlabs.io", "eleven_multilingual_v2")}
QUOTA_MARKERS = ("quota", "insufficient", "billing")


def provider_for(settings: Settings) -> str:
    """TTS_PROVIDER, else openai when TTS_API_KEY is set, else the local stand-in."""
    return settings.tts_provider or ("openai" if settings.tts_api_key else "local")


def synthesize(http: httpx.Client, settings: Settings, text: str, voice: str, encoding: Encoding) -> bytes:
    """One chunk of speech from the configured provider."""
    provider = provider_for(settings)
    if provider == "local":
        return tts_local.synthesize(text, encoding)
    if settings.tts_api_key is None:
        raise PermanentError("TTS_API_KEY is not set")
    base, model = DEFAULTS[provider]
    base, model = (settings.tts_api_base or base).rstrip("/"), settings.tts_model or model
    key = settings.tts_api_key.get_secret_value()
    if provider == "openai":
        request = _openai(http, base, key, model, text, voice, encoding)
    else:
        request = _elevenlabs(http, base, key, model, text, voice, encoding)
    response = send(provider, request)
    raise_for_tts(provider, response)
    return response.content


def _openai(http: httpx.Client, base: str, key: str, model: str, text: str, voice: str,
            encoding: Encoding) -> Callable[[], httpx.Response]:
    body = {"model": model, "input": text, "voice": voice, "response_format": encoding}
    return lambda: http.post(f"{base}/v1/audio/speech", json=body, headers={"Authorization": f"Bearer {key}"})


def _elevenlabs(http: httpx.Client, base: str, key: str, model: str, text: str, voice: str,
                encoding: Encoding) -> Callable[[], httpx.Response]:
    output = "mp3_44100_128" if encoding == "mp3" else f"pcm_{PCM_RATE}"
    url = f"{base}/v1/text-to-speech/{voice}"
    body = {"text": text, "model_id": model}
    return lambda: http.post(url, params={"output_format": output}, json=body, headers={"xi-api-key": key})


def raise_for_tts(provider: str, response: httpx.Response) -> None:
    """Map a TTS error answer to a processor error; return quietly on 2xx."""
    if response.is_success:
        return
    code, message = _error(response)
    status = response.status_code
    described = f"{provider} {status} {code}: {message}"
    if any(marker in f"{code} {message}".lower() for marker in QUOTA_MARKERS):
        raise PermanentError(f"TTS quota exhausted: {described}")
    if status == 429:
        raise RateLimitedError(f"TTS busy: {described}", retry_after=retry_after_seconds(response, 10.0))
    if status >= 500:
        raise RetryableError(f"TTS failed: {described}")
    raise PermanentError(f"TTS refused the text: {described}")


def _error(response: httpx.Response) -> tuple[str, str]:
    """(code, message) from OpenAI's {"error": {...}} or ElevenLabs' {"detail": {...}}."""
    try:
        body = response.json()
    except ValueError:
        return "error", response.text[:200]
    detail = body.get("error") or body.get("detail") or {}
    if isinstance(detail, str):
        return "error", detail
    code = detail.get("code") or detail.get("status") or detail.get("type") or "error"
    return str(code), str(detail.get("message", ""))
