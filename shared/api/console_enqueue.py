"""Console HTTP actions: `whoami` and `job_schemas` (GET, read-only). Registered in
`shared.api.catalog`. Enqueueing itself is the worker's `?action=enqueue`.

* `GET ?action=whoami` -> `{role}`: "admin" or "readonly", the role of the bearer token,
  so the page can hide what the server would refuse (the server still refuses it: 403).
* `GET ?action=job_schemas` -> `{types: [{type, schema, enabled}]}`: each registered job
  type, the JSON schema of its payload model and whether its `job_types` row is enabled.
"""

from __future__ import annotations

from shared.api.actions import Action, ApiRequest, ApiResult, backend, registry
from shared.console.enqueue_forms import job_schemas


def whoami(request: ApiRequest) -> ApiResult:
    return ApiResult(200, {"role": request.role})


def schemas(request: ApiRequest) -> ApiResult:
    return ApiResult(200, job_schemas(backend(), registry()))


ACTIONS: dict[str, Action] = {
    "whoami": Action(("GET",), whoami, writes=False),
    "job_schemas": Action(("GET",), schemas, writes=False),
}
