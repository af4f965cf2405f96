"""The QueueBackend protocol, its two implementations, and the choice between them."""

from __future__ import annotations

from shared.config import Settings
from shared.queue.errors import QueueError
from shared.queue.protocol import JobTypeInfo, QueueBackend

__all__ = ["JobTypeInfo", "QueueBackend", "backend_from_settings"]


def backend_from_settings(settings: Settings) -> QueueBackend:
    """PostgresBackend when DATABASE_URL is set; else SupabaseBackend when SUPABASE_URL and
    SUPABASE_SERVICE_ROLE_KEY are; else QueueError naming what to set."""
    if settings.database_url:
        from shared.queue.postgres import PostgresBackend  # imported lazily: psycopg pool

        return PostgresBackend(settings.database_url, max_size=settings.db_pool_max)
    key = settings.supabase_service_role_key.get_secret_value() if settings.supabase_service_role_key else ""
    if settings.supabase_url and key:
        from shared.queue.supabase import SupabaseBackend  # imported lazily: supabase-py is heavy

        return SupabaseBackend(settings.supabase_url, key)
    missing = [name for name, value in (("SUPABASE_URL", settings.supabase_url),
                                        ("SUPABASE_SERVICE_ROLE_KEY", key)) if not value]
    raise QueueError(
        f"no database configured: DATABASE_URL is not set, nor {' and '.join(missing)}",
        hint="set DATABASE_URL (postgresql://...) for a direct connection, or SUPABASE_URL and "
             "SUPABASE_SERVICE_ROLE_KEY to go through the Supabase API")
