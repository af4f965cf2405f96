"""The console's views that act, in a real browser: filter jobs, open a job, replay a
dead-letter group after its confirmation and see the replayed jobs processed, delete a
selection, cancel a job, pause a type and see its jobs left unclaimed, reset a breaker,
enable and disable a schedule.

Real: Chromium (Playwright), functions-framework in a subprocess, PostgreSQL, the worker
and the noop processor (run by POST ?action=process). Faked: nothing; the "fix" before a
replay is an UPDATE of the dead letters' stored payload, standing in for a deploy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import psycopg

from tests.browser.conftest import needs_actions
from tests.functions.conftest import SECRET

try:
    from playwright.sync_api import expect
except ImportError:  # the `browser` fixture skips (or fails under REQUIRE_BROWSER=1)
    expect = None  # type: ignore[assignment]

SignIn = Callable[[str], Any]
Conn = psycopg.Connection[dict[str, Any]]
EMAIL = {"to": "ada@example.com", "subject": "Hello", "text": "It works."}


def enqueue(api: httpx.Client, job_type: str, payload: dict[str, Any]) -> str:
    response = api.post("?action=enqueue", json={"type": job_type, "payload": payload})
    assert response.status_code == 201, response.text
    job_id: str = response.json()["id"]
    return job_id


def nav(page: Any, view: str) -> None:
    page.get_by_role("navigation", name="Views").get_by_role("link", name=view).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(view)


@needs_actions("jobs")
def test_the_jobs_filter_narrows_the_list(page: Any, sign_in: SignIn, api: httpx.Client) -> None:
    for i in range(3):
        enqueue(api, "noop", {"i": i})
    email = enqueue(api, "email", EMAIL)
    sign_in(SECRET)
    nav(page, "Jobs")
    rows = page.get_by_role("table", name="Jobs").locator("tbody tr")
    expect(rows).to_have_count(4)
    page.get_by_label("Type", exact=True).fill("email")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(email[:8])
    assert "type=email" in page.url
    page.get_by_label("Type", exact=True).fill("")
    page.get_by_label("Status").select_option("completed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No jobs match these filters.")).to_be_visible()


@needs_actions("jobs", "job")
def test_a_job_page_shows_payload_result_and_timeline(page: Any, sign_in: SignIn, api: httpx.Client) -> None:
    job_id = enqueue(api, "noop", {"i": 42})
    assert api.post("?action=process&type=noop").json()["completed"] == 1
    sign_in(SECRET)
    nav(page, "Jobs")
    page.get_by_role("link", name=job_id[:8]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(job_id)
    assert page.url.endswith(f"#/jobs/{job_id}")
    expect(page.get_by_role("region", name="Payload")).to_contain_text('"i": 42')
    expect(page.get_by_role("region", name="Result")).to_contain_text('"ok": true')
    expect(page.get_by_role("region", name="Summary")).to_contain_text("completed")
    timeline = page.get_by_role("table", name="Status timeline")
    expect(timeline).to_contain_text("running")
    assert page.get_by_role("button", name="Cancel job").count() == 0  # finished: nothing to cancel


@needs_actions("dead_letter_groups", "dead_letters", "dead_letters_count", "dead_letters_replay")
def test_replaying_a_dead_letter_group_asks_first_then_the_jobs_run(
        page: Any, sign_in: SignIn, api: httpx.Client, conn: Conn) -> None:
    for i in range(3):
        enqueue(api, "noop", {"fail": "permanent", "i": i})
    assert api.post("?action=process&type=noop").json()["dead_lettered"] == 3
    conn.execute("update job_dead_letter set payload = payload - 'fail'")  # the fix is deployed
    sign_in(SECRET)
    nav(page, "Dead letters")
    groups = page.get_by_role("table", name="Dead-letter groups")
    expect(groups.get_by_role("row").filter(has_text="noop")).to_contain_text("3")
    groups.get_by_role("button", name="Replay group").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This will replay 3 dead letters")
    expect(page.locator("#live")).to_have_text("paused")  # no refresh under an open confirmation
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    assert api.get("?action=stats").json()["by_status"].get("pending", 0) == 0  # cancelled: nothing replayed
    groups.get_by_role("button", name="Replay group").click()
    dialog.get_by_role("button", name="Replay 3").click()
    expect(page.get_by_role("status").filter(has_text="Replayed 3 dead letters")).to_be_visible()
    assert api.get("?action=stats").json()["by_status"].get("pending") == 3
    assert api.post("?action=process&type=noop").json()["completed"] == 3
    replayed = page.get_by_role("table", name="Dead letters").get_by_role("checkbox", disabled=True)
    expect(replayed).to_have_count(3)  # each shows the job it was replayed as


@needs_actions("dead_letters", "dead_letters_count", "dead_letters_delete")
def test_deleting_selected_dead_letters_touches_only_the_selection(
        page: Any, sign_in: SignIn, api: httpx.Client, conn: Conn) -> None:
    for i in range(2):
        enqueue(api, "noop", {"fail": "permanent", "i": i})
    api.post("?action=process&type=noop")
    keep, drop = (str(r["id"]) for r in conn.execute("select id from job_dead_letter order by failed_at, id"))
    sign_in(SECRET)
    nav(page, "Dead letters")
    page.get_by_role("checkbox", name=f"Select dead letter {drop}").check()
    page.get_by_role("button", name="Delete selected").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("This will delete 1 dead letter ")
    dialog.get_by_role("button", name="Delete 1").click()
    expect(page.get_by_role("status").filter(has_text="Deleted 1 dead letter")).to_be_visible()
    assert [str(r["id"]) for r in conn.execute("select id from job_dead_letter")] == [keep]


@needs_actions("types", "type_pause", "type_resume")
def test_a_paused_type_is_not_claimed_until_resumed(page: Any, sign_in: SignIn, api: httpx.Client) -> None:
    enqueue(api, "noop", {})
    sign_in(SECRET)
    nav(page, "Types")
    row = page.get_by_role("table", name="Job types").get_by_role("row").filter(has_text="noop")
    row.get_by_role("button", name="Pause noop").click()
    page.get_by_role("dialog").get_by_role("button", name="Pause").click()
    expect(row).to_contain_text("paused")
    assert api.post("?action=process&type=noop").json()["claimed"] == 0
    assert api.get("?action=stats").json()["by_status"] == {"pending": 1}
    row.get_by_role("button", name="Resume noop").click()
    expect(row).to_contain_text("enabled")
    assert api.post("?action=process&type=noop").json()["completed"] == 1


@needs_actions("schedules", "schedule_enable", "schedule_disable")
def test_a_schedule_is_enabled_and_disabled_from_its_row(page: Any, sign_in: SignIn, conn: Conn) -> None:
    name = conn.execute("select name from job_schedules order by name limit 1").fetchone()
    assert name is not None
    schedule = name["name"]
    conn.execute("update job_schedules set enabled = false where name = %s", (schedule,))
    sign_in(SECRET)
    nav(page, "Schedules")
    row = page.get_by_role("table", name="Schedules").get_by_role("row").filter(has_text=schedule)
    row.get_by_role("button", name=f"Enable {schedule}").click()
    expect(row).to_contain_text("enabled")
    assert conn.execute("select enabled from job_schedules where name = %s", (schedule,)).fetchone() == {
        "enabled": True}
    row.get_by_role("button", name=f"Disable {schedule}").click()
    expect(row).to_contain_text("disabled")
    assert conn.execute("select enabled from job_schedules where name = %s", (schedule,)).fetchone() == {
        "enabled": False}


@needs_actions("job", "job_cancel")
def test_cancelling_a_waiting_job_from_its_page(page: Any, sign_in: SignIn, api: httpx.Client) -> None:
    waiting = {"type": "noop", "payload": {}, "run_at": "2099-01-01T00:00:00Z"}
    response = api.post("?action=enqueue", json=waiting)
    job_id = response.json()["id"]
    sign_in(SECRET)
    page.goto(f"dashboard/#/jobs/{job_id}")
    summary = page.get_by_role("region", name="Summary")
    expect(summary).to_contain_text("pending")
    summary.get_by_role("button", name="Cancel job").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel job").click()
    expect(page.get_by_role("status").filter(has_text="Cancelled")).to_be_visible()
    expect(summary).to_contain_text("cancelled")
    assert api.get("?action=stats").json()["by_status"] == {"cancelled": 1}


@needs_actions("types", "breaker_reset")
def test_an_open_breaker_is_reset_from_the_types_view(page: Any, sign_in: SignIn, conn: Conn) -> None:
    conn.execute("insert into circuit_breakers (provider, state, consecutive_failures, open_until,"
                 " last_error) values ('resend', 'open', 5, now() + interval '5 minutes', %s)",
                 ("HTTP 503 from Resend",))
    sign_in(SECRET)
    nav(page, "Types")
    row = page.get_by_role("table", name="Circuit breakers").get_by_role("row").filter(has_text="resend")
    expect(row).to_contain_text("HTTP 503 from Resend")
    row.get_by_role("button", name="Reset breaker resend").click()
    page.get_by_role("dialog").get_by_role("button", name="Reset").click()
    expect(row).to_contain_text("closed")
    assert conn.execute("select state from circuit_breakers where provider = 'resend'").fetchone() == {
        "state": "closed"}
