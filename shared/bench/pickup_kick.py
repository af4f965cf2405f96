"""Pickup latency through `queue-worker dev`'s kick: enqueue commit -> processor start.

Starts `queue-worker dev` (a subprocess, tick set to 10 minutes so only kicks start jobs)
against DATABASE_URL, enqueues `jobs` noop jobs one at a time with `gap` seconds between,
waits for them to finish, and reads each job's started_at - created_at (both the database's
clock; created_at is the enqueue statement's start, so the figure includes the commit).
Prints p50, p99 and max in ms. A benchmark, not a test: nothing here asserts a speed.

    python -m shared.bench.pickup_kick postgresql://... [--jobs 50] [--gap 0.2]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg

from shared.config import REPO_ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_dev(database_url: str, port: int) -> subprocess.Popen[str]:
    """`queue-worker dev` on `port`, returned once it printed `ready.`."""
    env = os.environ | {"DATABASE_URL": database_url}
    dev = subprocess.Popen(
        [str(Path(sys.executable).parent / "queue-worker"), "dev", "--port", str(port), "--every", "600s"],
        env=env,
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert dev.stdout is not None
    for line in dev.stdout:
        if line.startswith("ready."):
            return dev
    raise RuntimeError(f"queue-worker dev exited with {dev.wait()} before it was ready")


def measure(database_url: str, jobs: int, gap: float) -> dict[str, Any]:
    """Enqueue `jobs` one by one through `queue-worker dev`; their pickup latencies in ms."""
    dev = start_dev(database_url, free_port())
    try:
        time.sleep(2)  # the first tick and the listener's first POST, which run at start
        with psycopg.connect(database_url, autocommit=True) as conn:
            ids = []
            for _ in range(jobs):
                time.sleep(gap)  # one at a time: each job finds the worker idle
                ids.append(_enqueue(conn))
            latencies = _wait_and_read(conn, ids, timeout=60 + jobs * gap)
    finally:
        dev.send_signal(signal.SIGINT)
        dev.wait(60)
    return summarize(latencies)


def _enqueue(conn: psycopg.Connection[Any]) -> str:
    row = conn.execute("select enqueue_job('noop', %s::jsonb)::text", (json.dumps({"i": 0}),)).fetchone()
    assert row is not None
    return str(row[0])


def _wait_and_read(conn: psycopg.Connection[Any], ids: list[str], timeout: float) -> list[float]:
    deadline = time.monotonic() + timeout
    query = (
        "select extract(epoch from started_at - created_at) * 1000 from job_queue "
        "where id = any(%s::uuid[]) and status = 'completed'"
    )
    while True:
        rows = conn.execute(query, (ids,)).fetchall()
        if len(rows) == len(ids) or time.monotonic() > deadline:
            return [float(r[0]) for r in rows]
        time.sleep(0.2)


def summarize(latencies: list[float]) -> dict[str, Any]:
    ordered = sorted(latencies)
    if not ordered:
        return {"jobs": 0}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else ordered * 99
    return {
        "jobs": len(ordered),
        "p50_ms": round(cuts[49], 2),
        "p99_ms": round(cuts[98], 2),
        "max_ms": round(ordered[-1], 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="pickup latency through queue-worker dev's kick")
    parser.add_argument("database_url")
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--gap", type=float, default=0.2, help="seconds between enqueues")
    args = parser.parse_args(argv)
    print(json.dumps(measure(args.database_url, args.jobs, args.gap)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
