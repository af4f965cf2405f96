"""Console HTTP actions: overview. Registered in `shared.api.catalog`."""

from __future__ import annotations

from shared.api.actions import Action

ACTIONS: dict[str, Action] = {}
