"""`queue-worker dashboard`: serves the function locally and prints the console's URL.

Real: the CLI's parser and command (`shared.cli.main.main`), functions-framework in a
subprocess, HTTP over TCP, PostgreSQL (this test's migrated database). Nothing faked;
the command runs on a thread and is stopped by its stop event, as Ctrl-C would.
"""

from __future__ import annotations

import threading
import time

import httpx
import pytest

from shared.cli.console_dashboard import serve_dashboard
from shared.cli.main import main
from shared.config import Settings
from shared.local.stack import DevOptions
from tests.functions.conftest import free_port


def test_dashboard_serves_the_page_and_prints_its_url(db_url: str, capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.delenv("QUEUE_WORKER_SECRET", raising=False)
    monkeypatch.delenv("SUPABASE_SERVICE_ROLE_KEY", raising=False)
    options, stop = DevOptions(port=free_port()), threading.Event()
    result: list[int] = []
    runner = threading.Thread(target=lambda: result.append(serve_dashboard(Settings(), options, stop)))
    runner.start()
    try:
        url = f"{options.url}dashboard"
        printed = ""
        for _ in range(300):
            printed += capsys.readouterr().out
            if f"dashboard: {url}" in printed:
                break
            time.sleep(0.1)
        assert f"dashboard: {url}" in printed
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200
        assert "Content-Security-Policy" in page.headers
        whoami = httpx.get(f"{options.url}?action=whoami", timeout=10)
        assert whoami.json()["role"] == "admin"  # locally, without a secret, every token is admin
    finally:
        stop.set()
        runner.join(30)
    assert result == [0]


def test_dashboard_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["dashboard", "--port", "0"])
    assert exited.value.code == 2
    assert "port" in capsys.readouterr().err
