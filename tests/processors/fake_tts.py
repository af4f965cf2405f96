"""A local OpenAI-shaped text-to-speech server (`POST /v1/audio/speech`), standing in for
the TTS API when the worker builds its own HTTP client. Audio = `[input]` as bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.processors.local_server import serve


class _Handler(BaseHTTPRequestHandler):
    inputs: list[str]

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        self.inputs.append(body["input"])
        data = f"[{body['input']}]".encode()
        self.send_response(200)
        self.send_header("content-type", "audio/mpeg")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def fake_tts() -> Iterator[tuple[str, list[str]]]:
    """Serve on a free local port; yields (base URL, the inputs received)."""
    inputs: list[str] = []
    with serve(type("Handler", (_Handler,), {"inputs": inputs})) as url:
        yield url, inputs
