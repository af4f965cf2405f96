"""Each email template's data model names every variable the template uses, so the payload
check (and the README table generated from the models) cannot drift from the jinja2 files.

Real: the jinja2 templates on disk, parsed with jinja2.meta; the pydantic models. Nothing faked.
"""

from __future__ import annotations

from typing import Any

from jinja2 import meta

from shared.processors.email_template_data import TEMPLATE_DATA
from shared.processors.email_templates import TEMPLATES, environment, render

LAYOUT_ONLY = {"subject"}  # _layout.html.j2 is handed the rendered subject, not template_data


def _variables(template: str) -> set[str]:
    env = environment()
    assert env.loader is not None
    names: set[str] = set()
    for part in ("subject", "html", "txt"):
        source = env.loader.get_source(env, f"{template}.{part}.j2")[0]
        names |= meta.find_undeclared_variables(env.parse(source))
    return names - LAYOUT_ONLY


def test_every_template_has_a_data_model() -> None:
    assert set(TEMPLATE_DATA) == set(TEMPLATES)


def test_every_variable_a_template_uses_is_a_field_of_its_model() -> None:
    for template, model in TEMPLATE_DATA.items():
        assert _variables(template) == set(model.model_fields), template


def test_data_its_model_accepts_renders() -> None:
    minimal: dict[str, dict[str, Any]] = {
        "welcome": {"name": "Jane"},
        "track_completed": {"track_id": "t1", "key": "audio/t1.mp3"},
        "payout_confirmation": {"payout_id": "p1", "transfer_id": "tr_1", "amount_cents": 900,
                                "gross_cents": 1000, "fee_cents": 100, "currency": "usd"}}
    for template, data in minimal.items():
        TEMPLATE_DATA[template].model_validate(data)
        subject, html, text = render(template, data)
        assert subject
        assert html
        assert text
