"""`queue-worker dev` starts a job on enqueue, not on the next tick.

Real: the console script as a subprocess, its functions-framework server, its kick listener
(LISTEN on PostgreSQL, the test server via DATABASE_URL), the enqueue trigger's notify.
Faked: nothing. The tick is set to 10 minutes, so a job finishing within 30 s can only have
been started by the kick (no timing of speed is asserted: 30 s is a bound far from the tick).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.functions.conftest import free_port
from tests.local.test_dev import DevProcess, dev_env
from tests.sql.factories import connect, enqueue, job


@pytest.mark.slow
def test_a_job_enqueued_in_sql_starts_without_waiting_for_the_tick(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    dev = DevProcess(dev_env(tmp_path, DATABASE_URL=db_url), port, tmp_path / "dev-stderr.log", every="600s")
    try:
        dev.wait_for_line(r"^ready\.", 120)
        assert any("jobs start on enqueue" in line for line in dev.seen)
        time.sleep(3)  # let the first tick (at start) and the listener's first POST finish
        with connect(db_url) as conn:
            job_id = enqueue(conn, "noop", payload={"i": 1})
        dev.wait_for_line(r"processed: claimed 1, completed 1", 30)
        with connect(db_url) as conn:
            assert job(conn, job_id)["status"] == "completed"
            kick = conn.execute("select via, answered_by from job_kicks order by id desc limit 1").fetchone()
        assert kick is not None
        assert kick["via"] == "notify"
        assert kick["answered_by"] is not None
    finally:
        assert dev.stop() == 0
