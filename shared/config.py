"""Every setting the queue reads, in one place, from the environment (or `.env`).

Names are the environment variables, upper-cased: `database_url` is `DATABASE_URL`.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

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
    queue_worker_readonly_secret: SecretStr | None = Field(
        None, description="Bearer token of the read-only role: the console and GET actions, no changes")
    queue_worker_allow_unauthenticated: bool = Field(False, description="Only `queue-worker dev` sets it")
    queue_worker_time_budget_seconds: float = Field(50.0, gt=0, le=3600)
    queue_worker_stop_grace_seconds: float = Field(
        8.0, ge=0, le=3600, description="After a stop signal, how long running jobs may finish before they "
        "are given back (Cloud Run kills 10 s after SIGTERM)")
    queue_worker_default_batch: int | None = Field(
        None, ge=1, le=1000, description="Jobs per claim; unset: adapt to how fast jobs finish, up to 1000")
    queue_worker_job_logs: Literal["failures", "all"] = Field(
        "failures", description="failures: a line per job that did not complete, completions counted in the "
        "invocation's summary; all: a line per job too")
    # 4 MiB: a job with the largest payload enqueue takes (payload_max_bytes, 1 MiB of
    # stored JSON) still fits when its text spells non-ASCII as \uXXXX escapes (up to 3x
    # longer), with room for the envelope; a bulk enqueue of many jobs is split to fit.
    # Below AWS Lambda's 6 MB request limit, so every platform refuses at the same size.
    queue_worker_max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024,
                                             description="Largest request body; larger is 413")

    # Local state (embedded Postgres, outbox, audio output).
    local_dir: Path = Field(REPO_ROOT / ".local", description="Where local dev keeps its state")
    migrations_dir: Path = Field(REPO_ROOT / "supabase" / "migrations")

    # Processors: provider endpoints, keys and knobs. Base URLs are settings so tests
    # (and local fakes) can point them at a local server.
    email_provider: str | None = Field(None, pattern="^(resend|smtp|outbox)$",
                                       description="resend|smtp|outbox; default: resend if "
                                       "RESEND_API_KEY, else smtp if SMTP_HOST, else outbox")
    email_from: str = Field("Queue Worker <noreply@localhost>", description="Default From header")
    email_outbox_dir: Path | None = Field(None, description="Local outbox; default LOCAL_DIR/outbox")
    resend_api_base: str = Field("https://api.resend.com", description="Resend API root")
    resend_api_key: SecretStr | None = Field(None, description="Resend API key (re_...)")
    smtp_host: str | None = Field(None, description="SMTP server host")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = Field(True, description="Upgrade with STARTTLS before login")
    smtp_timeout_seconds: float = Field(20.0, gt=0, le=300)
    stripe_api_base: str = Field("https://api.stripe.com", description="Stripe API root")
    stripe_secret_key: SecretStr | None = Field(None, description="Stripe secret key (sk_...)")
    payout_fee_bps: int = Field(1000, ge=0, le=10000, description="Platform fee, basis points of the balance")
    payout_min_cents: int = Field(1000, ge=1, description="Balances that net below this are skipped")
    payout_currency: str = Field("usd", pattern="^[a-z]{3}$", description="Default payout currency")
    tts_provider: str | None = Field(None, pattern="^(openai|elevenlabs|local)$",
                                     description="openai|elevenlabs|local; default openai with TTS_API_KEY, "
                                     "else local (silence of the speech's length, no network)")
    tts_api_base: str | None = Field(None, description="TTS API root; default per provider")
    tts_api_key: SecretStr | None = Field(None, description="TTS API key")
    tts_model: str | None = Field(None, description="TTS model; default per provider")
    tts_chunk_chars: int = Field(4000, ge=100, le=100_000, description="Largest text per TTS request")
    audio_processor_url: str | None = Field(None, description="External audio renderer (delegation)")
    audio_poll_seconds: float = Field(2.0, gt=0, le=60, description="How often to poll a delegated render")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint (Supabase Storage S3, MinIO)")
    s3_bucket: str | None = Field(None, description="Bucket for audio; unset: LOCAL_DIR/audio")
    s3_region: str = Field("us-east-1")
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    circuit_breaker_threshold: int = Field(5, ge=1, le=1000,
                                           description="Consecutive failures that open a provider's breaker")
    circuit_breaker_cooldown_seconds: int = Field(60, ge=1, le=86400,
                                                  description="How long an open breaker stays open")

    @property
    def worker_secret(self) -> str | None:
        """The bearer token the function expects: QUEUE_WORKER_SECRET, else the service key."""
        for secret in (self.queue_worker_secret, self.supabase_service_role_key):
            if secret is not None and secret.get_secret_value():
                return secret.get_secret_value()
        return None

    @property
    def readonly_secret(self) -> str | None:
        """The read-only role's bearer token, QUEUE_WORKER_READONLY_SECRET, if set."""
        secret = self.queue_worker_readonly_secret
        return secret.get_secret_value() if secret is not None and secret.get_secret_value() else None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings read once per process; tests build `Settings(...)` directly instead."""
    return Settings()
