"""The two roles: the worker secret acts, QUEUE_WORKER_READONLY_SECRET only reads.

Real: functions-framework's app (its test client), Flask, PostgreSQL. Nothing faked.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from shared.api.catalog import ACTIONS
from tests.functions.conftest import AUTH, READONLY_AUTH


@pytest.mark.parametrize("action", ["stats", "health"])
def test_the_readonly_token_reads(client: FlaskClient, action: str) -> None:
    assert client.get(f"/?action={action}", headers=READONLY_AUTH).status_code == 200


@pytest.mark.parametrize("action", sorted(name for name, a in ACTIONS.items() if a.writes))
def test_the_readonly_token_is_refused_every_action_that_writes(client: FlaskClient, action: str) -> None:
    method = "POST" if "POST" in ACTIONS[action].methods else ACTIONS[action].methods[0]
    before = client.get("/?action=stats", headers=AUTH).json
    response = client.open(f"/?action={action}", method=method, headers=READONLY_AUTH,
                           json={"type": "noop", "payload": {}})
    assert response.status_code == 403
    assert response.json is not None
    assert response.json["error"] == "ReadOnly"
    assert "QUEUE_WORKER_SECRET" in response.json["hint"]
    after = client.get("/?action=stats", headers=AUTH).json
    assert before is not None
    assert after is not None
    assert before["by_status"] == after["by_status"]  # nothing enqueued, claimed or changed


def test_the_readonly_secret_is_not_the_worker_secret(client: FlaskClient) -> None:
    response = client.post("/?action=enqueue", headers=AUTH, json={"type": "noop", "payload": {}})
    assert response.status_code == 201
