"""Shared fixtures for processor tests: a real Postgres backend and a JobContext factory."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from shared.config import Settings
from shared.processors.base import JobContext
from shared.queue.postgres import PostgresBackend
from shared.queue.protocol import QueueBackend
from tests.processors.fake_stripe import StripeState, fake_stripe

MakeContext = Callable[..., JobContext]


@pytest.fixture
def backend(db_url: str) -> Iterator[PostgresBackend]:
    """The direct-Postgres backend over this test's fresh database."""
    b = PostgresBackend(db_url, max_size=2)
    yield b
    b.close()


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=5.0) as client:
        yield client


@pytest.fixture
def progress_calls() -> list[tuple[int, str | None]]:
    return []


@pytest.fixture
def make_ctx(backend: PostgresBackend, http: httpx.Client,
             progress_calls: list[tuple[int, str | None]]) -> MakeContext:
    """Build a JobContext like the worker does; keyword arguments override the defaults."""

    def make(settings: Settings, *, job_type: str, job_id: uuid.UUID | None = None,
             backend_: QueueBackend | None = None, client: httpx.Client | None = None,
             deadline: float = 60.0, previous_result: Any = None, attempt: int = 1) -> JobContext:
        def progress(pct: int, msg: str | None) -> bool:
            progress_calls.append((pct, msg))
            return True

        return JobContext(job_id=job_id or uuid.uuid4(), job_type=job_type, attempt=attempt, max_attempts=5,
                          worker_id="test-worker", settings=settings, backend=backend_ or backend,
                          http=client or http, progress=progress, deadline_seconds=lambda: deadline,
                          previous_result=previous_result)

    return make


@pytest.fixture
def stripe() -> Iterator[tuple[str, StripeState]]:
    """A fresh local Stripe stand-in: (base URL, its state)."""
    with fake_stripe() as served:
        yield served


@pytest.fixture
def settings(stripe: tuple[str, StripeState]) -> Settings:
    """Payout settings pointed at the Stripe stand-in (10% fee, 1000-cent minimum)."""
    return Settings(stripe_api_base=stripe[0], stripe_secret_key="sk_test_fake",
                    payout_fee_bps=1000, payout_min_cents=1000)


EmailContext = Callable[..., JobContext]


@pytest.fixture
def context(make_ctx: MakeContext) -> EmailContext:
    """Email JobContexts over the test database (circuit breakers live there), HTTP through `handler`."""

    def build(settings: Settings, *, handler: Callable[[httpx.Request], httpx.Response] | None = None,
              job_id: uuid.UUID | None = None) -> JobContext:
        transport = httpx.MockTransport(handler or (lambda r: httpx.Response(599)))
        return make_ctx(settings, job_type="email", job_id=job_id, client=httpx.Client(transport=transport))

    return build
