"""Backend fixtures: every QueueBackend over this test's real database.

`backend` is parametrized: `postgres` is PostgresBackend on the database directly;
`supabase` is SupabaseBackend (supabase-py) through the PostgREST stand-in
(tests/support/postgrest.py) over the same database. `postgrest` is the stand-in alone.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.queue import QueueBackend
from shared.queue.postgres import PostgresBackend
from shared.queue.supabase import SupabaseBackend
from tests.support.postgrest import PostgrestEndpoint, postgrest

__all__ = ["backend", "postgrest"]


@pytest.fixture(params=["postgres", "supabase"])
def backend(request: pytest.FixtureRequest, db_url: str) -> Iterator[QueueBackend]:
    """Each QueueBackend implementation, over this test's database."""
    chosen: QueueBackend
    if request.param == "postgres":
        chosen = PostgresBackend(db_url, max_size=2)
    else:
        endpoint: PostgrestEndpoint = request.getfixturevalue("postgrest")
        chosen = SupabaseBackend(endpoint.url, endpoint.service_role_key, timeout=10)
    yield chosen
    chosen.close()
