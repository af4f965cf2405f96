"""The operator console's page: `GET /dashboard` and `GET /dashboard/static/<file>`.

Framework-free (path and headers in, status, bytes and headers out), so the
functions-framework entry (`functions/queue_worker/main.py`) and the Lambda handler
(`functions/queue_worker/aws_lambda.py`) serve the same bytes with the same headers.

The page holds no data, so loading it needs no token; every data call it makes sends
`Authorization: Bearer <token>` to the JSON actions. Only the files that exist in
`shared/console/static/` are served, looked up by exact name among them, so no path can
reach anything else. Every answer carries a strict Content-Security-Policy (no inline
script or style, nothing from other origins, no framing), `nosniff` and `no-referrer`.
Files are revalidated on each load (`no-cache` plus an ETag: 304 when unchanged), so a
deploy is picked up without a build step hashing names.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent.parent / "console" / "static"
PREFIX = "/dashboard"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "frame-ancestors 'none'; base-uri 'none'; form-action 'none'")
SECURITY_HEADERS = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
                    "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json",
                 ".ico": "image/x-icon", ".png": "image/png"}


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes
    headers: dict[str, str]


def is_dashboard(path: str) -> bool:
    """Whether `path` belongs to the page rather than to the JSON actions."""
    return path == PREFIX or path.startswith(PREFIX + "/")


def static_files() -> dict[str, Path]:
    """Every servable file, by its name relative to the static folder ("views/jobs.js")."""
    return {p.relative_to(STATIC_DIR).as_posix(): p for p in STATIC_DIR.rglob("*")
            if p.is_file() and p.suffix in CONTENT_TYPES}


def serve(method: str, path: str, if_none_match: str | None = None) -> Page:
    """The answer to `method path` under /dashboard (GET or HEAD; HEAD without the body)."""
    if method not in ("GET", "HEAD"):
        return _problem(405, "MethodNotAllowed", f"the page takes GET, not {method}", {"Allow": "GET, HEAD"})
    page = _lookup(path, if_none_match)
    return Page(page.status, b"" if method == "HEAD" else page.body, page.headers)


def _lookup(path: str, if_none_match: str | None) -> Page:
    rest = path[len(PREFIX):]
    if rest in ("", "/", "/index.html"):
        body = (STATIC_DIR / "index.html").read_bytes()
        if rest == "":  # /dashboard: the page's relative links must resolve under /dashboard/
            body = body.replace(b'"static/', b'"dashboard/static/')
        return _file(body, "text/html; charset=utf-8", if_none_match)
    name = rest.removeprefix("/static/") if rest.startswith("/static/") else None
    found = static_files().get(name) if name else None
    if found is None:
        return _problem(404, "NotFound", f"no such page or file: {path}",
                        hint=f"the console is at {PREFIX}/; its files are under {PREFIX}/static/")
    return _file(found.read_bytes(), CONTENT_TYPES[found.suffix], if_none_match)


def _file(body: bytes, content_type: str, if_none_match: str | None) -> Page:
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {**SECURITY_HEADERS, "Content-Type": content_type, "ETag": etag, "Cache-Control": "no-cache"}
    if if_none_match and etag in (tag.strip().removeprefix("W/") for tag in if_none_match.split(",")):
        return Page(304, b"", headers)
    return Page(200, body, headers | {"Content-Length": str(len(body))})


def _problem(status: int, error: str, message: str, headers: dict[str, str] | None = None, *,
             hint: str | None = None) -> Page:
    body = {"error": error, "message": message} | ({"hint": hint} if hint else {})
    data = json.dumps(body).encode()
    return Page(status, data, {**SECURITY_HEADERS, "Content-Type": "application/json",
                               "Content-Length": str(len(data)), **(headers or {})})
