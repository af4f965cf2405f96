"""Console HTTP actions: overview. Registered in `shared.api.catalog`.

    GET ?action=overview    -> {generated_at, types, series, recent_runs, stale_claims, dead_letters_1h}

A read: the read-only role may call it.
"""

from __future__ import annotations

from shared.api.actions import Action, ApiRequest, ApiResult, backend
from shared.api.params import json_body
from shared.console import overview as console_overview


def overview(request: ApiRequest) -> ApiResult:
    json_body(request.body, required=False)
    return ApiResult(200, console_overview.overview(backend()))


ACTIONS: dict[str, Action] = {
    "overview": Action(("GET", "POST"), overview, writes=False),
}
