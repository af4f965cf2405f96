"""Fixtures for the `queue-worker` command tests.

Real: PostgreSQL (a fresh migrated database per test), the CLI's own code paths.
Nothing faked.
"""

from __future__ import annotations

import pytest

from tests.functions.conftest import ENV_NAMES

__all__ = ["ENV_NAMES"]


@pytest.fixture
def cli_env(db_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """DATABASE_URL pointing at this test's database; returns it."""
    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", db_url)
    return db_url
