"""backend_from_settings picks the database path from the settings: DATABASE_URL wins,
else SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY, else a QueueError naming what to set.

Real: PostgreSQL, and the PostgREST stand-in (tests/support/postgrest.py) for the
supabase path. Faked: nothing else; settings are built directly, not read from .env.
"""

from __future__ import annotations

from typing import Any

import pytest

from shared.config import Settings
from shared.queue import backend_from_settings
from shared.queue.errors import QueueError
from shared.queue.postgres import PostgresBackend
from shared.queue.supabase import SupabaseBackend
from tests.support.postgrest import PostgrestEndpoint

SOME_URL = "https://example.supabase.co"


def settings(**values: Any) -> Settings:
    """Settings from `values` alone: no .env file, no stray environment variables."""
    base: dict[str, Any] = {"database_url": None, "supabase_url": None, "supabase_service_role_key": None}
    return Settings(_env_file=None, **(base | values))


def test_database_url_selects_the_direct_postgres_backend(db_url: str, postgrest: PostgrestEndpoint) -> None:
    backend = backend_from_settings(settings(database_url=db_url, supabase_url=postgrest.url,
                                             supabase_service_role_key=postgrest.service_role_key))
    assert isinstance(backend, PostgresBackend)
    assert backend.ping() > 0
    backend.close()


def test_supabase_url_and_service_key_select_the_supabase_backend(postgrest: PostgrestEndpoint) -> None:
    backend = backend_from_settings(settings(supabase_url=postgrest.url,
                                             supabase_service_role_key=postgrest.service_role_key))
    assert isinstance(backend, SupabaseBackend)
    assert "noop" in backend.job_types()
    backend.close()


@pytest.mark.parametrize(("values", "missing"), [
    ({}, "SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY"),
    ({"supabase_url": SOME_URL}, "SUPABASE_SERVICE_ROLE_KEY"),
    ({"supabase_url": SOME_URL, "supabase_service_role_key": ""}, "SUPABASE_SERVICE_ROLE_KEY"),
    ({"supabase_service_role_key": "key"}, "SUPABASE_URL"),
])
def test_without_a_complete_database_setting_the_error_names_the_variables(values: dict[str, Any],
                                                                           missing: str) -> None:
    with pytest.raises(QueueError) as raised:
        backend_from_settings(settings(**values))
    assert raised.value.message.endswith(f"nor {missing}")
    assert raised.value.hint is not None
    assert "DATABASE_URL" in raised.value.hint


def test_a_supabase_url_that_is_not_a_url_is_a_queue_error() -> None:
    with pytest.raises(QueueError) as raised:
        backend_from_settings(settings(supabase_url="example.supabase.co", supabase_service_role_key="key"))
    assert raised.value.hint is not None
    assert "https://" in raised.value.hint
