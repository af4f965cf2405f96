"""The metrics action. Registered in `shared.api.catalog`.

    GET ?action=metrics    -> 200 Prometheus text format (prometheus_client.CONTENT_TYPE_LATEST)
                              503 the same format with `queue_worker_up 0` when the database
                              cannot be read

A read: the read-only token may scrape it (Prometheus sends it as `Authorization: Bearer`).
It takes no parameters; any other is a 400 naming it. The figures are computed by
`metrics_snapshot()` at scrape time (`shared.ops.metrics`).
"""

from __future__ import annotations

from shared.api.actions import Action, ApiRequest, ApiResult, RawContent, backend
from shared.api.params import bad_parameter
from shared.ops import metrics as ops_metrics
from shared.queue.errors import DatabaseUnavailable


def metrics(request: ApiRequest) -> ApiResult:
    unknown = sorted(set(request.args) - {"action"})
    if unknown:
        raise bad_parameter(unknown[0], ",".join(request.args[unknown[0]]),
                            "absent: ?action=metrics takes no parameters")
    try:
        result = ops_metrics.scrape(backend())
    except DatabaseUnavailable:  # no backend could be made: nothing configured to reach
        result = ops_metrics.Scrape(False, ops_metrics.render(None))
    return ApiResult(200 if result.up else 503, {}, RawContent(result.text, ops_metrics.CONTENT_TYPE))


ACTIONS: dict[str, Action] = {
    "metrics": Action(("GET",), metrics, writes=False),
}
