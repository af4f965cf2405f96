"""Circuit breakers: the SQL state machine (time passed in as p_now, never slept) and
the guard around a provider call in the email processor.

Real: Postgres (circuit_breaker_allow / record / states). Faked: Resend, at the HTTP
layer (httpx.MockTransport).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import httpx
import psycopg
import pytest

from shared.config import Settings
from shared.processors import email as email_processor
from shared.processors.base import PermanentError, RateLimitedError, RetryableError
from shared.processors.circuit_breaker import breaker_states
from shared.queue.errors import InvalidInput
from shared.queue.postgres import PostgresBackend
from tests.processors.conftest import MakeContext

Conn = psycopg.Connection[dict[str, Any]]
T0 = dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC)


def at(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).isoformat()


def allow(backend: PostgresBackend, seconds: float, provider: str = "resend") -> dict[str, Any]:
    state: dict[str, Any] = backend.rpc("circuit_breaker_allow", {
        "p_provider": provider, "p_cooldown_seconds": 60, "p_now": at(seconds)})
    return state


def record(backend: PostgresBackend, success: bool, seconds: float,
           provider: str = "resend") -> dict[str, Any]:
    state: dict[str, Any] = backend.rpc("circuit_breaker_record", {
        "p_provider": provider, "p_success": success, "p_threshold": 3, "p_cooldown_seconds": 60,
        "p_error": None if success else "503 from provider", "p_now": at(seconds)})
    return state


def test_an_unknown_provider_is_closed_and_allowed(backend: PostgresBackend) -> None:
    assert allow(backend, 0)["allowed"] is True


def test_the_breaker_opens_at_the_threshold_of_consecutive_failures_for_the_cool_down(
        backend: PostgresBackend) -> None:
    assert [record(backend, False, s)["state"] for s in (0, 1)] == ["closed", "closed"]
    opened = record(backend, False, 2)
    assert (opened["state"], opened["consecutive_failures"]) == ("open", 3)
    refused = allow(backend, 22)
    assert (refused["allowed"], refused["retry_after_seconds"]) == (False, 40)
    assert refused["last_error"] == "503 from provider"
    assert allow(backend, 22, provider="stripe")["allowed"] is True  # other providers unaffected


def test_a_success_resets_the_count_so_only_consecutive_failures_open_it(backend: PostgresBackend) -> None:
    for seconds, success in enumerate((False, False, True, False, False)):
        state = record(backend, success, seconds)
    assert (state["state"], state["consecutive_failures"]) == ("closed", 2)


def test_after_the_cool_down_exactly_one_caller_probes(backend: PostgresBackend) -> None:
    for s in (0, 1, 2):
        record(backend, False, s)
    probe = allow(backend, 63)
    assert (probe["allowed"], probe["state"]) == (True, "half_open")
    other = allow(backend, 64)
    assert (other["allowed"], other["retry_after_seconds"]) == (False, 59)


def test_a_successful_probe_closes_and_a_failed_probe_reopens_for_a_full_cool_down(
        backend: PostgresBackend) -> None:
    for s in (0, 1, 2):
        record(backend, False, s)
    allow(backend, 63)
    reopened = record(backend, False, 64)
    assert reopened["state"] == "open"
    assert allow(backend, 65)["retry_after_seconds"] == 59
    allow(backend, 125)
    assert record(backend, True, 126)["state"] == "closed"
    assert allow(backend, 127)["allowed"] is True


def test_a_probe_that_never_reports_back_is_replaced_after_the_cool_down(backend: PostgresBackend) -> None:
    for s in (0, 1, 2):
        record(backend, False, s)
    allow(backend, 63)  # this probe's worker dies
    assert allow(backend, 124)["allowed"] is True


def test_states_list_every_breaker_for_health(backend: PostgresBackend) -> None:
    for s in (0, 1, 2):
        record(backend, False, s)
    record(backend, True, 3, provider="stripe")
    states = breaker_states(backend)
    assert states["resend"]["state"] == "open"
    assert states["resend"]["consecutive_failures"] == 3
    assert states["stripe"]["state"] == "closed"


@pytest.mark.parametrize("args", [{"p_threshold": 0}, {"p_cooldown_seconds": 0}, {"p_success": None}])
def test_bad_arguments_are_refused(backend: PostgresBackend, args: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput, match="threshold and cool-down"):
        backend.rpc("circuit_breaker_record", {"p_provider": "resend", "p_success": False, **args})


# --- the guard in a processor ----------------------------------------------------------------

SETTINGS = Settings(resend_api_key="re_test", resend_api_base="https://resend.test",
                    circuit_breaker_threshold=2, circuit_breaker_cooldown_seconds=120)
BODY = {"to": "a@example.com", "subject": "Hi", "text": "Hello"}


class Resend:
    def __init__(self, status: int) -> None:
        self.status = status
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.status == 200:
            return httpx.Response(200, json={"id": f"msg_{self.calls}"})
        name = "validation_error" if self.status == 422 else "internal_server_error"
        return httpx.Response(self.status, json={"statusCode": self.status, "name": name, "message": "x"})


def send(make_ctx: MakeContext, resend: Resend) -> dict[str, Any]:
    client = httpx.Client(transport=httpx.MockTransport(resend))
    ctx = make_ctx(SETTINGS, job_type="email", job_id=uuid.uuid4(), client=client)
    return email_processor.handle(email_processor.Payload.model_validate(BODY), ctx)


def test_after_n_failures_jobs_are_put_back_for_the_cool_down_without_calling_the_provider(
        make_ctx: MakeContext) -> None:
    failing = Resend(500)
    for _ in range(2):
        with pytest.raises(RetryableError):
            send(make_ctx, failing)
    with pytest.raises(RateLimitedError, match="circuit breaker for resend is open") as caught:
        send(make_ctx, failing)
    assert 118 <= caught.value.retry_after <= 120
    assert failing.calls == 2


def test_refusals_do_not_open_the_breaker(make_ctx: MakeContext) -> None:
    refusing = Resend(422)
    for _ in range(3):
        with pytest.raises(PermanentError):
            send(make_ctx, refusing)
    assert refusing.calls == 3


def test_once_cooled_down_a_successful_job_closes_the_breaker(make_ctx: MakeContext, conn: Conn) -> None:
    for _ in range(2):
        with pytest.raises(RetryableError):
            send(make_ctx, Resend(500))
    conn.execute("update circuit_breakers set open_until = now() - interval '1 second'")
    assert send(make_ctx, Resend(200))["message_id"] == "msg_1"
    row = conn.execute("select state, consecutive_failures from circuit_breakers").fetchone()
    assert row == {"state": "closed", "consecutive_failures": 0}
