"""Structured log lines: one JSON object per line on stderr.

The shape is the one both log routers parse without configuration: Cloud Logging reads
`severity`, `message` and `stack_trace` from a JSON line on stdout/stderr, and CloudWatch
(Lambda) indexes any JSON line's keys. stderr keeps stdout free for a CLI's `--json`.
Callers pass only ids, types, counts and short messages: never a secret, never a payload.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

LOGGER_NAME = "queue_worker"
# Libraries whose records must be JSON lines too (else Python prints their warnings as plain
# text on stderr), at the level given unless the application set one: psycopg and its pool.
LIBRARY_LOGGERS = {"psycopg": logging.WARNING}
_SEVERITY = {"WARNING": "WARNING", "CRITICAL": "CRITICAL", "ERROR": "ERROR", "INFO": "INFO", "DEBUG": "DEBUG"}


class JsonFormatter(logging.Formatter):
    """A record as `{"severity", "message", "time", "logger", **fields[, "stack_trace"]}`."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": _SEVERITY.get(record.levelname, "DEFAULT"),
            "message": record.getMessage(),
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "logger": record.name,
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["stack_trace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (so pytest's capture sees it)."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:  # a log line must never break the worker
            self.handleError(record)


def get_logger() -> logging.Logger:
    """The queue's logger, with the JSON handler attached once (not propagated to root, so
    an application's own logging setup does not print every line twice). The libraries'
    loggers (LIBRARY_LOGGERS) get the same handler the first time."""
    logger = logging.getLogger(LOGGER_NAME)
    if not any(isinstance(h, _StderrHandler) for h in logger.handlers):
        _attach(logger, logging.INFO)
        for name, level in LIBRARY_LOGGERS.items():
            _attach(logging.getLogger(name), level)
    return logger


def _attach(logger: logging.Logger, default_level: int) -> None:
    if any(isinstance(h, _StderrHandler) for h in logger.handlers):
        return
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False
    if logger.level == logging.NOTSET:
        logger.setLevel(default_level)


def log_event(level: int, message: str, **fields: Any) -> None:
    """Emit one JSON line with `fields` next to severity and message (cheap when the level is off)."""
    logger = get_logger()
    if logger.isEnabledFor(level):
        logger.log(level, message, extra={"fields": fields})


def log_exception(message: str, **fields: Any) -> None:
    """An ERROR line with the traceback of the exception being handled (as `stack_trace`)."""
    get_logger().error(message, exc_info=True, extra={"fields": fields})
