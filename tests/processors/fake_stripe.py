"""A local Stripe-shaped HTTP server for `POST /v1/transfers` (stands in for Stripe).

It does what the payout path relies on: form-encoded bodies, a bearer key, and
idempotency keys honoured like Stripe (the same key replays the first answer and
creates nothing). It counts the transfers it really created. `script` holds canned
answers `(status, json, headers)` served, one per request, before normal handling.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.processors.local_server import serve

Answer = tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class StripeState:
    key: str = "sk_test_fake"
    transfers: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    by_idempotency_key: dict[str, Answer] = field(default_factory=dict)
    script: list[Answer] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called after a transfer is created, before Stripe answers (e.g. to kill the caller).
    on_transfer: Callable[[dict[str, Any]], None] | None = None

    def answer(self, headers: dict[str, str], form: dict[str, str]) -> Answer:
        with self.lock:
            self.requests.append({"method": "POST", "headers": headers, "form": form})
            if headers.get("authorization") != f"Bearer {self.key}":
                return 401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key"}}, {}
            if self.script:
                return self.script.pop(0)
            key = headers.get("idempotency-key", "")
            if key in self.by_idempotency_key:
                return self.by_idempotency_key[key]
            answer = self._create(form)
            if key:
                self.by_idempotency_key[key] = answer
            return answer

    def _create(self, form: dict[str, str]) -> Answer:
        if not form.get("amount", "").isdigit() or not form.get("destination", "").startswith("acct_"):
            error = {"type": "invalid_request_error", "message": "Invalid amount or destination"}
            return 400, {"error": error}, {}
        transfer = {"id": f"tr_fake{len(self.transfers) + 1}", "object": "transfer",
                    "amount": int(form["amount"]), "currency": form["currency"],
                    "destination": form["destination"], "transfer_group": form.get("transfer_group")}
        self.transfers.append(transfer)
        if self.on_transfer is not None:
            self.on_transfer(transfer)
        return 200, transfer, {}


class _Handler(BaseHTTPRequestHandler):
    state: StripeState

    def do_GET(self) -> None:
        """`GET /v1/transfers?transfer_group=`: the list endpoint, filtered like Stripe's."""
        url = urlsplit(self.path)
        group = parse_qs(url.query).get("transfer_group", [None])[0]
        with self.state.lock:
            self.state.requests.append({"method": "GET", "headers": dict(self.headers.items()), "form": {}})
            found = [t for t in self.state.transfers if group is None or t["transfer_group"] == group]
        self._send(200, {"object": "list", "data": found[:1], "has_more": len(found) > 1}, {})

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path != "/v1/transfers" or "x-www-form-urlencoded" not in headers.get("content-type", ""):
            status, body, extra = 404, {"error": {"message": f"no route {self.path}"}}, dict[str, str]()
        else:
            status, body, extra = self.state.answer(headers, form)
        self._send(status, body, extra)

    def _send(self, status: int, body: dict[str, Any], extra: dict[str, str]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"content-type": "application/json", **extra}.items():
            self.send_header(name, value)
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def fake_stripe() -> Iterator[tuple[str, StripeState]]:
    """Serve a fresh fake Stripe on a free local port; yields (base URL, state)."""
    state = StripeState()
    with serve(type("Handler", (_Handler,), {"state": state})) as url:
        yield url, state
