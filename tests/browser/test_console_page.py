"""The console in a real browser: signing in (admin, read-only, wrong token), the CSP,
live counts as jobs complete, the enqueue form's field errors, and the read-only token
seeing no action buttons while the server refuses its writes.

Real: Chromium (Playwright), functions-framework in a subprocess, PostgreSQL, the worker
and the noop processor (run by POST ?action=process). Nothing faked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from shared.api.dashboard import CSP
from tests.browser.conftest import needs_actions
from tests.functions.conftest import READONLY_SECRET, SECRET

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_BROWSER=1)
    expect = None  # type: ignore[assignment]

SignIn = Callable[[str], Any]
POST_AS_PAGE = """async ([action, body]) => {
  const token = sessionStorage.getItem('queue-worker.token');
  const r = await fetch('/?action=' + action, {method: 'POST', body: JSON.stringify(body),
    headers: {Authorization: 'Bearer ' + token, 'Content-Type': 'application/json'}});
  return [r.status, (await r.json()).error];
}"""


def tile(page: Any, label: str) -> Any:
    return page.locator(".tile").filter(has=page.get_by_text(label, exact=True)).locator(".tile-value")


def test_the_page_is_served_with_the_csp_and_the_admin_signs_in(page: Any, sign_in: SignIn) -> None:
    response = page.goto("dashboard")
    assert response.status == 200
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    sign_in(SECRET)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("#role")).to_have_text("admin")
    expect(page.get_by_role("region", name="Health")).to_contain_text("database")
    assert SECRET not in page.url
    assert page.context.cookies() == []
    assert page.evaluate("sessionStorage.getItem('queue-worker.token')") == SECRET
    for view in ("Jobs", "Dead letters", "Types", "Schedules", "Enqueue", "Overview"):  # every view renders
        page.get_by_role("navigation", name="Views").get_by_role("link", name=view).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(view)
        page.wait_for_timeout(150)


def test_a_wrong_token_is_refused_and_asked_for_again(page: Any, sign_in: SignIn) -> None:
    sign_in("not-the-secret")
    expect(page.get_by_role("alert")).to_contain_text("not accepted")
    expect(page.get_by_label("Token")).to_be_visible()
    expect(page.get_by_role("navigation", name="Views")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('queue-worker.token')") is None
    page.get_by_label("Token").fill(SECRET)
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#role")).to_have_text("admin")


def test_the_token_survives_a_reload_of_the_tab_and_sign_out_forgets_it(page: Any, sign_in: SignIn) -> None:
    sign_in(SECRET)
    expect(page.locator("#role")).to_have_text("admin")
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_label("Token")).to_be_visible()
    assert page.evaluate("sessionStorage.getItem('queue-worker.token')") is None


def test_counts_change_live_as_jobs_complete(page: Any, sign_in: SignIn, api: httpx.Client) -> None:
    for i in range(3):
        assert api.post("?action=enqueue", json={"type": "noop", "payload": {"i": i}}).status_code == 201
    sign_in(SECRET)
    expect(tile(page, "pending")).to_have_text("3")
    expect(tile(page, "completed")).to_have_text("0")
    counts = page.get_by_role("table", name="Counts by type")
    expect(counts.get_by_role("row").filter(has_text="noop")).to_be_visible()
    url = page.url
    assert api.post("?action=process&type=noop").json()["completed"] == 3
    expect(tile(page, "completed")).to_have_text("3", timeout=10_000)  # refreshed without a reload
    expect(tile(page, "pending")).to_have_text("0")
    assert page.url == url


def test_the_enqueue_form_shows_field_errors_next_to_the_fields(page: Any, sign_in: SignIn,
                                                                 api: httpx.Client) -> None:
    sign_in(SECRET)
    page.get_by_role("link", name="Enqueue").click()
    page.get_by_label("Job type").select_option("email")
    form = page.get_by_role("form", name="Enqueue email")
    fields = form.get_by_role("table", name="Payload fields")
    to_row = fields.get_by_role("row").filter(has=page.get_by_role("cell", name="to", exact=True))
    expect(to_row).to_contain_text("required")
    form.get_by_label("Payload (JSON)").fill('{"subject": 5}')
    form.get_by_role("button", name="Enqueue email").click()
    payload_errors = form.locator("#enqueue-email-payload-errors")
    expect(payload_errors).to_contain_text("payload.to")
    expect(payload_errors).to_contain_text("payload.subject")
    form.get_by_label("Payload (JSON)").fill("{not json")
    form.get_by_role("button", name="Enqueue email").click()
    expect(payload_errors).to_contain_text("not JSON")
    assert api.get("?action=stats").json()["by_status"] == {}  # nothing was enqueued
    page.get_by_label("Job type").select_option("noop")
    noop = page.get_by_role("form", name="Enqueue noop")
    noop.get_by_label("Payload (JSON)").fill('{"i": 1}')
    noop.get_by_label("Priority").select_option("high")
    noop.get_by_role("button", name="Enqueue noop").click()
    expect(noop.get_by_role("status")).to_contain_text("Enqueued job")
    assert api.get("?action=stats").json()["by_priority"] == {"high": 1}


def test_the_readonly_token_sees_no_action_buttons_and_the_server_refuses_its_writes(
        page: Any, sign_in: SignIn, api: httpx.Client) -> None:
    api.post("?action=enqueue", json={"type": "noop", "payload": {}})
    sign_in(READONLY_SECRET)
    expect(page.locator("#role")).to_have_text("read-only")
    expect(tile(page, "pending")).to_have_text("1")
    page.get_by_role("link", name="Enqueue").click()
    expect(page.get_by_label("Payload (JSON)")).to_be_visible()
    expect(page.get_by_role("status").filter(has_text="Read-only token")).to_be_visible()
    for view in ("Enqueue", "Types", "Schedules", "Dead letters"):
        page.get_by_role("navigation", name="Views").get_by_role("link", name=view).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(view)
        page.wait_for_timeout(300)
        main = page.locator("#view")
        for name in ("Enqueue", "Pause", "Resume", "Reset", "Enable", "Disable", "Replay", "Delete"):
            assert main.get_by_role("button", name=name).count() == 0, (view, name)
    for action, body in (("enqueue", {"type": "noop", "payload": {}}), ("process", {})):
        assert page.evaluate(POST_AS_PAGE, [action, body]) == [403, "ReadOnly"]
    assert api.get("?action=stats").json()["by_status"] == {"pending": 1}


@needs_actions("types")
def test_the_readonly_token_sees_types_without_pause_buttons(page: Any, sign_in: SignIn) -> None:
    sign_in(READONLY_SECRET)
    page.get_by_role("link", name="Types").click()
    types = page.get_by_role("table", name="Job types")
    expect(types.get_by_role("row").filter(has_text="noop")).to_be_visible()
    assert types.get_by_role("button").count() == 0


def test_the_health_panel_puts_failing_checks_first_with_their_hint(page: Any, sign_in: SignIn,
                                                                    db_url: str) -> None:
    """A backlog past its type's threshold (made in the database) shows first, as critical,
    with its value, threshold and hint; the passing checks are folded under a summary."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("select worker_run_start('w-page', '{}')")
        conn.execute("update job_types set max_backlog_age_seconds = 60 where name = 'noop'")
        conn.execute("select enqueue_job('noop', p_run_at => '2000-01-01T00:00:00Z')")
    sign_in(SECRET)
    health = page.get_by_role("region", name="Health")
    failing = health.get_by_role("list", name="Failing health checks").get_by_role("listitem")
    expect(failing.first).to_contain_text("backlog_age:noop")
    expect(failing.first).to_contain_text("critical")
    expect(failing.first).to_contain_text("of at most 60 seconds (critical above 180)")
    expect(failing.first).to_contain_text("max_backlog_age_seconds")
    passing = health.get_by_role("list", name="Passing health checks")
    expect(passing).to_be_hidden()
    health.get_by_text("checks ok").click()
    expect(passing).to_be_visible()
    expect(passing).to_contain_text("xmin_horizon")
    expect(health).to_contain_text("Not checked: pg_net_backlog (pg_net is not installed)")
