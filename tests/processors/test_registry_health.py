"""Every processor is registered, and health says which are configured or which env var
each one lacks. Real: the registry and shared.ops.health. Nothing is faked; no database."""

from __future__ import annotations

from shared.config import Settings
from shared.ops.health import processors_check
from shared.processors import load_registry

TYPES = {"noop", "email", "audio", "payout", "weekly_payouts", "analytics"}


def test_every_job_type_has_a_processor_with_a_forbidding_payload_model() -> None:
    registry = load_registry()
    assert set(registry) == TYPES
    for module in registry.values():
        assert module.Payload.model_config.get("extra") == "forbid", module.__name__


def test_with_no_secrets_only_the_stripe_processors_are_unconfigured() -> None:
    check = processors_check(load_registry(), Settings(_env_file=None))
    missing = {name: t["missing"] for name, t in check["types"].items() if not t["configured"]}
    assert missing == {"payout": ["STRIPE_SECRET_KEY"], "weekly_payouts": ["STRIPE_SECRET_KEY"]}
    assert check["ok"] is False


def test_a_chosen_provider_without_its_key_is_reported() -> None:
    settings = Settings(_env_file=None, email_provider="resend", tts_provider="elevenlabs",
                        stripe_secret_key="sk_test_x")
    types = processors_check(load_registry(), settings)["types"]
    assert types["email"] == {"configured": False, "missing": ["RESEND_API_KEY"]}
    assert types["audio"] == {"configured": False, "missing": ["TTS_API_KEY"]}
    assert types["payout"] == {"configured": True, "missing": []}
