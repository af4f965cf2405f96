"""The worker function's enqueue, retry, cancel and stats actions, end to end.

Real: functions-framework's app (its test client), PostgreSQL with the migrations.
Nothing faked.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from flask.testing import FlaskClient

from shared.api.actions import status_for
from shared.queue.errors import (
    DatabaseUnavailable,
    InvalidDependency,
    InvalidInput,
    LeaseLost,
    NotAllowed,
    NotFound,
    QueueError,
    TooManyPendingJobs,
    UnknownJobType,
)
from shared.queue.job_input import JobRejected
from shared.queue.run_at import RUN_AT_ALLOWED
from tests.functions.conftest import AUTH
from tests.sql.factories import fingerprint, job, make_job

Conn = psycopg.Connection[dict[str, Any]]


def test_enqueue_is_201_with_the_id_of_a_pending_job_as_described(client: FlaskClient, conn: Conn) -> None:
    body = {"type": "noop", "payload": {"i": 7}, "priority": "high", "max_attempts": 2,
            "run_at": "2030-01-01T00:00:00Z", "idempotency_key": "k-1"}
    response = client.post("/?action=enqueue", json=body, headers=AUTH)
    assert response.status_code == 201
    assert response.json is not None
    row = job(conn, UUID(response.json["id"]))
    assert (row["type"], row["payload"], row["priority"], row["max_attempts"], row["status"]) == (
        "noop", {"i": 7}, "high", 2, "pending")
    assert row["run_at"].year == 2030
    assert row["idempotency_key"] == "k-1"


def test_enqueue_with_a_known_idempotency_key_returns_the_same_job(client: FlaskClient, conn: Conn) -> None:
    body = {"type": "noop", "idempotency_key": "once"}
    first = client.post("/?action=enqueue", json=body, headers=AUTH).json
    second = client.post("/?action=enqueue", json=body, headers=AUTH).json
    assert first is not None
    assert second is not None
    assert first["id"] == second["id"]
    assert conn.execute("select count(*) as n from job_queue").fetchone() == {"n": 1}


def test_enqueue_depending_on_a_missing_job_is_400_from_the_database(client: FlaskClient, conn: Conn) -> None:
    before = fingerprint(conn)
    response = client.post("/?action=enqueue", json={"type": "noop", "depends_on": [str(uuid4())]},
                           headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert response.json["sqlstate"] == "22QD1"
    assert fingerprint(conn) == before


def test_enqueue_depending_on_a_missing_job_names_the_field_not_the_batch_element(
        client: FlaskClient) -> None:
    missing = uuid4()
    response = client.post("/?action=enqueue", json={"type": "noop", "depends_on": [str(missing)]},
                           headers=AUTH)
    assert response.json is not None
    assert response.json["message"] == f"depends_on names job {missing}, which does not exist"


@pytest.mark.parametrize(("run_at", "low", "high"), [
    ("+5m", "4 minutes", "6 minutes"), ("+2h", "119 minutes", "121 minutes"), ("+1d", "23 hours", "25 hours"),
    ("2030-01-01T10:00:00+01:00", None, None)])
def test_enqueue_takes_the_run_at_forms_the_cli_takes(client: FlaskClient, conn: Conn, run_at: str,
                                                      low: str | None, high: str | None) -> None:
    response = client.post("/?action=enqueue", json={"type": "noop", "run_at": run_at}, headers=AUTH)
    assert response.status_code == 201, response.json
    assert response.json is not None
    row = conn.execute("select run_at, run_at between now() + %s::interval and now() + %s::interval as near "
                       "from job_queue where id = %s",
                       (low or "0 s", high or "0 s", response.json["id"])).fetchone()
    assert row is not None
    if low is None:
        assert row["run_at"] == datetime(2030, 1, 1, 9, tzinfo=UTC)
    else:
        assert row["near"], row


@pytest.mark.parametrize(("run_at", "says"), [
    ("+5x", "'+5x' is not a time"), ("soon", "'soon' is not a time"),
    ("2030-01-01T09:00:00", "'2030-01-01T09:00:00' has no offset"), (1_900_000_000, "must be a string")])
def test_enqueue_refuses_another_run_at_with_422_naming_the_allowed_forms(
        client: FlaskClient, conn: Conn, run_at: object, says: str) -> None:
    before = fingerprint(conn)
    response = client.post("/?action=enqueue", json={"type": "noop", "run_at": run_at}, headers=AUTH)
    assert response.status_code == 422
    assert response.json is not None
    (field,) = response.json["fields"]
    assert field["field"] == "run_at"
    assert says in field["message"]
    assert field["message"].endswith(RUN_AT_ALLOWED)
    assert fingerprint(conn) == before


def test_retry_replays_a_dead_letter_as_a_new_pending_job(client: FlaskClient, conn: Conn) -> None:
    dead_job = make_job(conn, "dead")
    letter = conn.execute("select id from job_dead_letter where job_id = %s", (dead_job,)).fetchone()
    assert letter is not None
    response = client.post(f"/?action=retry&id={letter['id']}", headers=AUTH)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["dead_letter_id"] == str(letter["id"])
    replayed = job(conn, UUID(response.json["id"]))
    assert (replayed["status"], replayed["attempts"]) == ("pending", 0)


def test_retry_of_an_unknown_dead_letter_is_404(client: FlaskClient) -> None:
    response = client.post(f"/?action=retry&id={uuid4()}", headers=AUTH)
    assert response.status_code == 404
    assert response.json is not None
    assert response.json["sqlstate"] == "PT404"


def test_cancel_cancels_a_pending_job_and_leaves_the_others(client: FlaskClient, conn: Conn) -> None:
    target, bystander = make_job(conn), make_job(conn)
    response = client.post(f"/?action=cancel&id={target}", headers=AUTH)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["cancelled"] is True
    assert job(conn, target)["status"] == "cancelled"
    assert job(conn, bystander)["status"] == "pending"


@pytest.mark.parametrize("state", ["completed", "cancelled"])
def test_cancel_of_a_job_that_is_not_pending_or_running_is_409(client: FlaskClient, conn: Conn,
                                                               state: str) -> None:
    job_id = make_job(conn, state)
    response = client.post(f"/?action=cancel&id={job_id}", headers=AUTH)
    assert response.status_code == 409
    assert response.json is not None
    assert f"job {job_id} is {state}" in response.json["message"]


def test_cancel_of_an_unknown_job_is_404(client: FlaskClient) -> None:
    job_id = uuid4()
    response = client.post(f"/?action=cancel&id={job_id}", headers=AUTH)
    assert response.status_code == 404
    assert response.json is not None
    assert response.json["sqlstate"] == "PT404"
    assert str(job_id) in response.json["message"]


def test_stats_is_queue_stats_as_json(client: FlaskClient, conn: Conn) -> None:
    make_job(conn), make_job(conn), make_job(conn, "completed")
    response = client.get("/?action=stats", headers=AUTH)
    assert response.status_code == 200
    assert response.json is not None
    assert response.json["by_status"] == {"pending": 2, "completed": 1}
    assert response.json["by_type"]["noop"] == {"pending": 2, "completed": 1}


@pytest.mark.parametrize(("error", "status"), [
    (JobRejected([{"field": "type", "message": "x"}]), 422), (UnknownJobType("x"), 400),
    (InvalidDependency("x"), 400), (InvalidInput("x"), 400), (NotFound("x"), 404), (NotAllowed("x"), 403),
    (TooManyPendingJobs("x"), 429), (DatabaseUnavailable("x"), 503), (LeaseLost("x"), 500),
    (QueueError("x"), 500)])
def test_each_queue_error_maps_to_its_status(error: QueueError, status: int) -> None:
    assert status_for(error) == status
