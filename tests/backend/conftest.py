"""Backend test fixtures: the PostgREST stand-in (`postgrest`) over each test's database."""

from tests.support.postgrest import postgrest

__all__ = ["postgrest"]
