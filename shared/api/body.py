"""Reading a request body under a size cap, only when an action asks for it.

The entries hand `shared.api.actions.ApiRequest` a reader instead of the bytes, so nothing
reads a body before the caller is authenticated and a refused request costs nothing. The
cap is `QUEUE_WORKER_MAX_BODY_BYTES`; past it the answer is 413, and a body that
declares a larger Content-Length is refused before a byte of it is read.
"""

from __future__ import annotations

from typing import Protocol

from shared.api.params import HttpProblem

_CHUNK = 64 * 1024


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


def body_too_large(cap: int, size: int | None) -> HttpProblem:
    """413 saying how big the body was (when known) and how big it may be."""
    given = f"is {size} bytes" if size is not None else "is longer than that"
    return HttpProblem(413, "BodyTooLarge", f"the request body {given}; at most {cap} bytes are accepted",
                       hint="enqueue fewer jobs per request, or store large data elsewhere (e.g. Storage) "
                       "and pass a reference; the limit is QUEUE_WORKER_MAX_BODY_BYTES",
                       max_body_bytes=cap)


def read_capped(stream: Readable, content_length: int | None, cap: int) -> bytes:
    """At most `cap` bytes of `stream`; a declared length over the cap is refused unread,
    an undeclared (chunked) one as soon as byte cap + 1 arrives."""
    if content_length is not None and content_length > cap:
        raise body_too_large(cap, content_length)
    chunks: list[bytes] = []
    size = 0
    while size <= cap:
        chunk = stream.read(min(_CHUNK, cap + 1 - size))  # a stream may return less than asked
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    if size > cap:
        raise body_too_large(cap, None)
    return b"".join(chunks)


def capped(body: bytes, cap: int) -> bytes:
    """`body` itself when within the cap (a platform that hands over the whole body)."""
    if len(body) > cap:
        raise body_too_large(cap, len(body))
    return body
