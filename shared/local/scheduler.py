"""The local stand-in for Cloud Scheduler and pg_cron that `queue-worker dev` runs.

Every tick it does what production schedules do every minute: recover stuck jobs,
enqueue due recurring jobs, and POST the function to process the queue. It prints a
line when a tick did something, so the developer sees jobs go through.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx

from shared.config import Settings
from shared.queue import QueueBackend
from shared.queue.errors import QueueError
from shared.worker.maintenance import maintain


class Scheduler(threading.Thread):
    """Ticks every `every` seconds (the first at once) until `stop` is set."""

    def __init__(self, url: str, every: float, backend: QueueBackend, settings: Settings,
                 stop: threading.Event) -> None:
        super().__init__(name="queue-worker-dev-scheduler", daemon=True)
        self.url, self.every, self.backend, self.stop = url, every, backend, stop
        self.headers = {"Authorization": f"Bearer {settings.worker_secret}"} if settings.worker_secret else {}
        self.timeout = settings.queue_worker_time_budget_seconds + 30

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            self.tick()
            self.stop.wait(max(0.0, self.every - (time.monotonic() - started)))

    def tick(self) -> None:
        self.maintain()
        if not self.stop.is_set():
            self.trigger()

    def maintain(self) -> None:
        """cleanup_stuck_jobs and enqueue_due_schedules, as pg_cron does in production."""
        try:
            done = maintain(self.backend)
        except QueueError as exc:
            say(f"maintenance failed: {exc.message}")
            return
        if done.recovered:
            say(f"recovered {done.recovered} stuck job(s)")
        if done.scheduled:
            say(f"enqueued {done.scheduled} recurring job(s)")

    def trigger(self) -> None:
        """POST the function once and print what it did."""
        try:
            response = httpx.post(self.url, headers=self.headers, timeout=self.timeout)
        except httpx.HTTPError as exc:
            if not self.stop.is_set():
                say(f"POST {self.url} failed: {exc}")
            return
        body: dict[str, Any] = response.json() if response.headers.get("content-type", "").startswith(
            "application/json") else {}
        if response.status_code != 200:
            say(f"POST {self.url} -> {response.status_code}: {body.get('message', response.text[:200])}")
        elif body.get("claimed"):
            say(f"processed: claimed {body['claimed']}, completed {body['completed']}, "
                f"retried {body['retried']}, dead-lettered {body['dead_lettered']}, "
                f"released {body['released']} ({body['duration_seconds']:.2f} s)")


def say(line: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
