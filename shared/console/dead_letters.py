"""The dead letter queue for the console: groups, pages, counts and bulk actions.

Each function is one SQL call (or, for `act`, one per batch) through `QueueBackend.rpc`,
so PostgreSQL and PostgREST serve it the same way. SQL decides what a selector covers
(`queue.dead_letter_selection`, SQLSTATEs 22QV1-22QV7); here only the shape is checked so a
caller gets a clear message before a round trip.

A selector is exactly one of `{"ids": [uuid, ...]}` (1-1000), `{"fingerprint": F, "type": T}`
(type optional) or `{"filter": {"type", "q", "from", "to"}}` (each optional; `{}` is every
dead letter). Actions touch only letters not yet replayed that failed at or before `as_of`
(the `as_of` of the count the operator confirmed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from shared.queue import QueueBackend
from shared.queue.errors import InvalidInput

Action = Literal["replay", "delete"]
ACTIONS: tuple[Action, ...] = ("replay", "delete")
DEFAULT_BATCH = 500
SELECTOR_FORMS = ('{"ids": [uuid, ...]} (1-1000), {"fingerprint": F, "type": T} (type optional) '
                  'or {"filter": {"type", "q", "from", "to"}} (each optional)')
FILTER_KEYS = ("type", "q", "from", "to")


def check_selector(selector: object) -> dict[str, Any]:
    """`selector` if it has one of the three forms (keys only; SQL checks the values)."""
    if not isinstance(selector, dict):
        raise InvalidInput(f"the selector must be a JSON object, not {type(selector).__name__}",
                           hint=f"a selector is exactly one of {SELECTOR_FORMS}", sqlstate="22QV1")
    keys = set(selector)
    if keys in ({"ids"}, {"fingerprint"}, {"fingerprint", "type"}, {"filter"}):
        return selector
    raise InvalidInput(f"not a selector: keys {sorted(keys)}",
                       hint=f"a selector is exactly one of {SELECTOR_FORMS}", sqlstate="22QV1")


def groups(backend: QueueBackend, job_type: str | None = None, limit: int = 50) -> dict[str, Any]:
    """{groups: [{fingerprint, type, count, first_seen, last_seen, sample_error}]}, largest first."""
    result: dict[str, Any] = backend.rpc("dead_letter_groups", {"p_type": job_type, "p_limit": limit})
    return result


def page(backend: QueueBackend, filter_: Mapping[str, Any] | None = None, after: str | None = None,
         limit: int = 50) -> dict[str, Any]:
    """{dead_letters: [...], next_after}: newest first; filter keys type, fingerprint, q, from, to,
    replayed; `after` is the previous page's next_after."""
    args = {"p_filter": dict(filter_ or {}), "p_after": after, "p_limit": limit}
    result: dict[str, Any] = backend.rpc("dead_letters_page", args)
    return result


def count(backend: QueueBackend, selector: object) -> dict[str, Any]:
    """{count, as_of} (+ not_found, already_replayed for ids): what an action would touch now."""
    result: dict[str, Any] = backend.rpc("dead_letters_count", {"p_selector": check_selector(selector)})
    return result


@dataclass
class ActResult:
    """What `act` did: `affected` in this call (the audit row `action_id` holds the total of
    every call that continued it); `partial` when it stopped for the time budget with
    `remaining` left, to be continued with the same `action_id`."""

    action_id: int | None = None
    affected: int = 0
    remaining: int = 0
    batches: int = 0
    partial: bool = False
    extra: dict[str, Any] = field(default_factory=dict)  # not_found, already_replayed (ids selectors)

    def to_dict(self) -> dict[str, Any]:
        body = {"action_id": self.action_id, "affected": self.affected, "remaining": self.remaining,
                "batches": self.batches, "partial": self.partial}
        return body | self.extra


def act(backend: QueueBackend, action: str, selector: object, as_of: str, actor: str, *,
        progress: Callable[[dict[str, Any]], None] | None = None, batch: int = DEFAULT_BATCH,
        action_id: int | None = None, budget_seconds: float | None = None) -> ActResult:
    """Replay or delete what `selector` covers, a batch (its own transaction) at a time,
    until nothing remains; `progress` gets each batch's {action_id, affected, remaining}.

    Stops early when a batch changed nothing while some remain (another caller holds them),
    or, with `budget_seconds`, before a batch that might not finish in time (`partial`)."""
    if action not in ACTIONS:
        raise InvalidInput(f"unknown dead-letter action {action!r}", hint="the action is replay or delete",
                           sqlstate="22QV4")
    check_selector(selector)
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    result, slowest = ActResult(action_id=action_id), 0.0
    while True:
        if deadline is not None and result.batches and time.monotonic() + 2 * slowest > deadline:
            result.partial = True
            return result
        started = time.monotonic()
        step: dict[str, Any] = backend.rpc("dead_letters_act", {
            "p_action": action, "p_selector": selector, "p_as_of": as_of, "p_batch": batch,
            "p_actor": actor, "p_action_id": result.action_id})
        slowest = max(slowest, time.monotonic() - started)
        result.action_id, result.remaining = step["action_id"], step["remaining"]
        result.affected += step["affected"]
        result.batches += 1
        result.extra = {k: v for k, v in step.items() if k in ("not_found", "already_replayed")}
        if progress is not None:
            progress(step)
        if step["remaining"] == 0 or step["affected"] == 0:
            return result
