"""Every setting the queue reads, in one place, from the environment (or `.env`).

Names are the environment variables, upper-cased: `database_url` is `DATABASE_URL`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Runtime configuration. Secrets are `SecretStr` so they never print."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # Database: direct Postgres when DATABASE_URL is set, else supabase-py.
    database_url: str | None = Field(None, description="postgresql:// URL; wins over Supabase")
    db_pool_max: int = Field(4, ge=1, le=100, description="Connections per worker process")
    supabase_url: str | None = Field(None, description="https://<ref>.supabase.co")
    supabase_service_role_key: SecretStr | None = None

    # HTTP function.
    queue_worker_secret: SecretStr | None = Field(None, description="Bearer token callers send")
    queue_worker_allow_unauthenticated: bool = Field(False, description="Only `queue-worker dev` sets it")
    queue_worker_time_budget_seconds: float = Field(50.0, gt=0, le=3600)
    queue_worker_default_batch: int = Field(10, ge=1, le=1000)

    # Local state (embedded Postgres, outbox, audio output).
    local_dir: Path = Field(REPO_ROOT / ".local", description="Where local dev keeps its state")
    migrations_dir: Path = Field(REPO_ROOT / "supabase" / "migrations")

    @property
    def worker_secret(self) -> str | None:
        """The bearer token the function expects: QUEUE_WORKER_SECRET, else the service key."""
        for secret in (self.queue_worker_secret, self.supabase_service_role_key):
            if secret is not None and secret.get_secret_value():
                return secret.get_secret_value()
        return None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests build `Settings(...)` directly instead."""
    return Settings()
