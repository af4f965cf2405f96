"""Fixtures for the console in a real browser: one headless Chromium per session
(Playwright's sync API, the system's /usr/bin/chromium), a fresh browser context per
test, and a real `functions-framework` server per test on a free port against that
test's migrated database, with the worker and the read-only secrets set.

Real: Chromium, Playwright, functions-framework and gunicorn in a subprocess, HTTP over
TCP, PostgreSQL, the worker. Nothing faked. Without /usr/bin/chromium or the playwright
package every browser test skips, saying why; with REQUIRE_BROWSER=1 they fail instead.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.api.catalog import ACTIONS
from tests.functions.conftest import AUTH, READONLY_SECRET, SECRET, serving

CHROMIUM = Path("/usr/bin/chromium")
# Chromium logs every non-2xx fetch as a console error; those answers are what some tests
# are about (401, 403, 422, and 400 UnknownAction for a view whose action is not there).
NETWORK_NOISE = "Failed to load resource: the server responded with a status of"
# Records CSP violations in the page (init scripts run outside the page's CSP).
CSP_LISTENER = ("window.__cspViolations = [];"
                "document.addEventListener('securitypolicyviolation', (e) =>"
                " window.__cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));")


def _missing_browser() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    return None


def needs_actions(*names: str) -> pytest.MarkDecorator:
    """Skip a test whose view needs HTTP actions that are not in the catalog yet."""
    missing = [name for name in names if name not in ACTIONS]
    return pytest.mark.skipif(bool(missing), reason=f"needs ?action={','.join(missing)} (not on main yet)")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    reason = _missing_browser()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture
def server(db_url: str) -> Iterator[str]:
    """The function's base URL ("http://127.0.0.1:PORT/")."""
    with serving(db_url, QUEUE_WORKER_READONLY_SECRET=READONLY_SECRET) as (url, _):
        yield url


@pytest.fixture
def api(server: str) -> Iterator[httpx.Client]:
    """The JSON API as the admin, to set the scene and to check what the page did."""
    with httpx.Client(base_url=server, headers=AUTH, timeout=30) as client:
        yield client


class Problems:
    """Console errors, uncaught exceptions and CSP violations seen by the page."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def console(self, message: Any) -> None:
        if message.type == "error" and NETWORK_NOISE not in message.text:
            self.seen.append(f"console: {message.text}")


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    """A page in a fresh context; after the test, no console error, page error or CSP violation."""
    context = browser.new_context(base_url=server)
    context.set_default_timeout(10_000)
    context.add_init_script(CSP_LISTENER)
    problems = Problems()
    tab = context.new_page()
    tab.on("console", problems.console)
    tab.on("pageerror", lambda error: problems.seen.append(f"pageerror: {error}"))
    yield tab
    violations = tab.evaluate("window.__cspViolations || []") if not tab.is_closed() else []
    context.close()
    assert violations == [], f"CSP violations: {violations}"
    assert problems.seen == [], f"problems in the page: {problems.seen}"


@pytest.fixture
def sign_in(page: Any) -> Callable[[str], Any]:
    """Open the console and sign in with `token`; returns the page."""
    def go(token: str = SECRET) -> Any:
        page.goto("dashboard/")
        page.get_by_label("Token").fill(token)
        page.get_by_role("button", name="Sign in").click()
        return page
    return go
