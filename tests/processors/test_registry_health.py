"""Every processor is registered, and health says which are configured or which env var
each one lacks. Real: the registry, the processor modules on disk and shared.ops.health.
Nothing is faked; no database."""

from __future__ import annotations

import importlib
import pkgutil

import shared.processors
from shared.config import Settings
from shared.ops.health import processors_check
from shared.processors import load_registry


def processor_modules() -> set[str]:
    """Modules of shared/processors that are processors (a Payload model and a handle()),
    found on disk: adding a type needs no edit here."""
    found = set()
    for info in pkgutil.iter_modules(shared.processors.__path__):
        module = importlib.import_module(f"shared.processors.{info.name}")
        if hasattr(module, "Payload") and callable(getattr(module, "handle", None)):
            found.add(info.name)
    return found


def test_every_processor_module_is_registered_with_a_forbidding_payload_model() -> None:
    registry = load_registry()
    assert {module.__name__.rsplit(".", 1)[-1] for module in registry.values()} == processor_modules()
    for module in registry.values():
        assert module.Payload.model_config.get("extra") == "forbid", module.__name__


def test_with_no_secrets_only_the_stripe_processors_are_unconfigured() -> None:
    check = processors_check(load_registry(), Settings(_env_file=None))
    missing = {name: t["missing"] for name, t in check["types"].items() if not t["configured"]}
    assert missing == {"payout": ["STRIPE_SECRET_KEY"], "weekly_payouts": ["STRIPE_SECRET_KEY"]}
    assert check["ok"] is False  # nothing known about waiting jobs: unconfigured counts


def test_an_unconfigured_processor_fails_the_check_only_when_its_jobs_wait() -> None:
    settings = Settings(_env_file=None)
    idle = processors_check(load_registry(), settings, {"payout": 0, "weekly_payouts": 0})
    assert idle["ok"] is True
    assert idle["types"]["payout"]["status"] == "not configured"
    assert idle["types"]["payout"]["waiting"] == 0
    busy = processors_check(load_registry(), settings, {"payout": 3})
    assert busy["ok"] is False
    assert busy["blocked"] == ["payout"]
    assert "STRIPE_SECRET_KEY" in busy["types"]["payout"]["hint"]


def test_a_chosen_provider_without_its_key_is_reported() -> None:
    settings = Settings(_env_file=None, email_provider="resend", tts_provider="elevenlabs",
                        stripe_secret_key="sk_test_x")
    types = processors_check(load_registry(), settings)["types"]
    assert types["email"] == {"configured": False, "missing": ["RESEND_API_KEY"], "status": "not configured"}
    assert types["audio"] == {"configured": False, "missing": ["TTS_API_KEY"], "status": "not configured"}
    assert types["payout"] == {"configured": True, "missing": []}
