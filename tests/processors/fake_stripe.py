"""A local Stripe-shaped HTTP server for `POST /v1/transfers` (stands in for Stripe).

It does what the payout path relies on, the way Stripe does it: form-encoded bodies, a
bearer key on every request, and idempotency keys (the same key with the same
parameters replays the first answer, with `Idempotent-Replayed: true`, and creates
nothing; the same key with other parameters is answered 400 `idempotency_error`).
`GET /v1/transfers?transfer_group=` lists transfers of a group, newest first. It counts
the transfers it really created. `script` holds canned answers `(status, json,
headers)` served, one per request, before normal handling; `drop_answers` makes the
next N transfers and then closes the connection without answering (the answer lost).
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
UNAUTHORIZED: Answer = (
    401, {"error": {"type": "invalid_request_error", "message": "Invalid API Key provided"}}, {})


@dataclass
class StripeState:
    key: str = "sk_test_fake"
    transfers: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    by_idempotency_key: dict[str, tuple[dict[str, str], Answer]] = field(default_factory=dict)
    script: list[Answer] = field(default_factory=list)
    drop_answers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Called after a transfer is created, before Stripe answers (e.g. to kill the caller).
    on_transfer: Callable[[dict[str, Any]], None] | None = None

    def answer(self, headers: dict[str, str], form: dict[str, str]) -> Answer | None:
        """Stripe's answer to a POST, or None to drop the connection unanswered."""
        with self.lock:
            self.requests.append({"method": "POST", "headers": headers, "form": form})
            if headers.get("authorization") != f"Bearer {self.key}":
                return UNAUTHORIZED
            if self.script:
                return self.script.pop(0)
            key = headers.get("idempotency-key", "")
            if key in self.by_idempotency_key:
                return self._replay(key, form)
            answer = self._create(form)
            if key:
                self.by_idempotency_key[key] = (form, answer)
            if answer[0] == 200 and self.drop_answers > 0:
                self.drop_answers -= 1
                return None
            return answer

    def list_transfers(self, headers: dict[str, str], group: str | None, limit: int) -> Answer:
        with self.lock:
            self.requests.append({"method": "GET", "headers": headers, "form": {"transfer_group": group}})
            if headers.get("authorization") != f"Bearer {self.key}":
                return UNAUTHORIZED
            found = [t for t in reversed(self.transfers) if group is None or t["transfer_group"] == group]
        return 200, {"object": "list", "data": found[:limit], "has_more": len(found) > limit}, {}

    def _replay(self, key: str, form: dict[str, str]) -> Answer:
        first_form, (status, body, extra) = self.by_idempotency_key[key]
        if first_form != form:
            message = (f"Keys for idempotent requests can only be used with the same parameters they were "
                       f"first used with. Try using a key other than '{key}' if you meant to execute a "
                       f"different request.")
            return 400, {"error": {"type": "idempotency_error", "message": message}}, {}
        return status, body, {**extra, "Idempotent-Replayed": "true"}

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
        query = parse_qs(url.query)
        headers = {k.lower(): v for k, v in self.headers.items()}
        if url.path != "/v1/transfers":
            self._send(404, {"error": {"message": f"no route {url.path}"}}, {})
            return
        limit = int(query.get("limit", ["10"])[0])
        self._send(*self.state.list_transfers(headers, query.get("transfer_group", [None])[0], limit))

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        raw = self.rfile.read(length).decode()
        form = {k: v[0] for k, v in parse_qs(raw).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        if self.path != "/v1/transfers" or "x-www-form-urlencoded" not in headers.get("content-type", ""):
            self._send(404, {"error": {"message": f"no route {self.path}"}}, {})
            return
        answer = self.state.answer(headers, form)
        if answer is None:
            self.close_connection = True  # the transfer is made; its answer never arrives
            return
        self._send(*answer)

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
