"""Fixtures for the `queue-worker` command tests.

Real: PostgreSQL (a fresh migrated database per test), the CLI's own code paths.
Nothing faked.
"""

from __future__ import annotations

import pytest

from tests.functions.conftest import empty_db_url

__all__ = ["ENV_NAMES", "empty_db_url"]

# Settings the CLI reads; cleared so the machine's environment cannot leak in.
ENV_NAMES = ("DATABASE_URL", "SUPABASE_URL", "SUPABASE_SERVICE_ROLE_KEY", "QUEUE_WORKER_SECRET",
             "QUEUE_WORKER_ALLOW_UNAUTHENTICATED", "LOCAL_DIR", "MIGRATIONS_DIR")


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL pointing at this test's database; returns it."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url
