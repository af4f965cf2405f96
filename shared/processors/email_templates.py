"""The email templates (jinja2 files in `templates/`): subject, HTML part, text part.

HTML is autoescaped, so template data can never inject markup; subject and text are
plain. Undefined variables are errors (StrictUndefined): a template missing its data
fails the job permanently instead of mailing a blank.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

TEMPLATES_DIR = Path(__file__).parent / "templates"
TEMPLATES = ("welcome", "track_completed", "payout_confirmation")


def money(cents: int, currency: str = "usd") -> str:
    """`12345, "usd"` -> `USD 123.45`: from integer cents, never through floats."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{sign}{currency.upper()} {whole:,}.{part:02d}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES_DIR), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
                      keep_trailing_newline=False)
    env.filters["money"] = money
    return env


def render(template: str, data: dict[str, Any]) -> tuple[str, str, str]:
    """(subject, html, text) of `template` with `data`; raises jinja2 errors on missing data."""
    env = environment()
    subject = env.get_template(f"{template}.subject.j2").render(data).strip()
    html = env.get_template(f"{template}.html.j2").render(subject=subject, **data)
    text = env.get_template(f"{template}.txt.j2").render(data)
    return subject, html, text
