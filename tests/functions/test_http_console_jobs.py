"""The console's job actions over HTTP: ?action=jobs, job, job_cancel, job_retry, and the
worker's `cancel` (404 unknown, 409 finished), with both tokens.

Real: PostgreSQL (a fresh migrated database per test), functions-framework's app for our
target (the `client` fixture), the SQL functions behind each action. Faked: nothing.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import pytest
from flask.testing import FlaskClient

from tests.functions.conftest import AUTH, READONLY_AUTH
from tests.sql.factories import Conn, enqueue, fingerprint, job, make_job, value


def answer(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.json
    body: dict[str, Any] = response.json
    return body


def test_jobs_lists_newest_first_and_pages_on_with_after(client: FlaskClient, conn: Conn) -> None:
    made = [enqueue(conn) for _ in range(3)]
    first = answer(client.get("/?action=jobs&limit=2", headers=AUTH))
    assert [j["id"] for j in first["jobs"]] == [str(made[2]), str(made[1])]
    rest = answer(client.get(f"/?action=jobs&limit=2&after={first['next_after']}", headers=AUTH))
    assert [j["id"] for j in rest["jobs"]] == [str(made[0])]
    assert rest["next_after"] is None


def test_jobs_filters_by_the_query_parameters_and_ignores_empty_ones(client: FlaskClient,
                                                                    conn: Conn) -> None:
    email = enqueue(conn, "email", payload={"to": "ann@example.com", "template": "welcome"}, priority="high")
    enqueue(conn)
    make_job(conn, "completed", "email", payload={"to": "bob@example.com", "template": "welcome"})
    query = "type=email&status=ready&priority=high&q=ANN&owner=&from=2000-01-01&to="
    page = answer(client.get(f"/?action=jobs&{query}", headers=AUTH))
    assert [j["id"] for j in page["jobs"]] == [str(email)]


@pytest.mark.parametrize(("query", "says"), [
    ("status=dead", "filter status: 'dead' is not a status"),
    ("type=nope", "filter type: unknown job type 'nope'"),
    ("priority=urgent", "filter priority: 'urgent' is not a priority"),
    ("owner=me", "filter owner: 'me' is not a uuid"),
    ("from=yesterday", "filter from: 'yesterday' is not an ISO 8601 timestamp"),
    ("to=2026-02-30", "filter to: '2026-02-30' is not a valid date"),
    ("limit=500", "limit must be 1-200, got 500"),
    ("limit=0", "limit must be 1-200, got 0"),
    ("after=0", "after must be a job seq of at least 1"),
])
def test_a_bad_filter_value_is_400_with_the_message_of_sql(client: FlaskClient, query: str,
                                                           says: str) -> None:
    body = answer(client.get(f"/?action=jobs&{query}", headers=AUTH), 400)
    assert says in body["message"]
    assert body["hint"]
    assert body["sqlstate"].startswith("22QS")


@pytest.mark.parametrize(("query", "parameter"), [
    ("stauts=pending", "stauts"), ("limit=ten", "limit"), ("after=x", "after"),
    ("type=email&type=noop", "type")])
def test_an_unknown_repeated_or_non_integer_parameter_is_400_naming_it(
        client: FlaskClient, query: str, parameter: str) -> None:
    body = answer(client.get(f"/?action=jobs&{query}", headers=AUTH), 400)
    assert body["parameter"] == parameter
    assert parameter in body["message"]


def test_job_shows_a_dead_lettered_job_with_its_history(client: FlaskClient, conn: Conn) -> None:
    job_id = make_job(conn, "dead")
    body = answer(client.get(f"/?action=job&id={job_id}", headers=AUTH))
    assert body["job"]["status"] == "dead_letter"
    assert body["dead_letter"]["job_id"] == str(job_id)
    assert [h["to_status"] for h in body["history"]] == ["pending", "running", "dead_letter"]


def test_job_of_an_unknown_id_is_404_and_of_a_bad_one_400(client: FlaskClient) -> None:
    missing = uuid4()
    assert str(missing) in answer(client.get(f"/?action=job&id={missing}", headers=AUTH), 404)["message"]
    assert answer(client.get("/?action=job&id=42", headers=AUTH), 400)["parameter"] == "id"
    assert answer(client.get("/?action=job", headers=AUTH), 400)["error"] == "MissingParameter"


def test_job_cancel_cancels_and_is_audited_as_admin(client: FlaskClient, conn: Conn) -> None:
    target = make_job(conn, "running")
    child = enqueue(conn, depends_on=[target])
    body = answer(client.post(f"/?action=job_cancel&id={target}", headers=AUTH))
    assert (body["id"], body["cancelled"], body["dependents_cancelled"]) == (str(target), True, 1)
    assert job(conn, child)["status"] == "cancelled"
    assert value(conn, "select actor from console_actions where action = 'job.cancel'") == "admin"


@pytest.mark.parametrize("action", ["job_cancel", "cancel"])
def test_cancel_of_a_finished_job_is_409_and_of_an_unknown_one_404(client: FlaskClient, conn: Conn,
                                                                   action: str) -> None:
    done = make_job(conn, "completed")
    before = fingerprint(conn)
    body = answer(client.post(f"/?action={action}&id={done}", headers=AUTH), 409)
    assert f"job {done} is completed" in body["message"]
    assert answer(client.post(f"/?action={action}&id={uuid4()}", headers=AUTH), 404)["sqlstate"] == "PT404"
    assert fingerprint(conn) == before


def test_job_retry_runs_a_waiting_job_now_and_replays_a_dead_one(client: FlaskClient, conn: Conn) -> None:
    waiting = enqueue(conn, run_at=value(conn, "select now() + interval '1 day'"))
    body = answer(client.post(f"/?action=job_retry&id={waiting}", headers=AUTH))
    assert body["id"] == str(waiting)
    assert job(conn, waiting)["run_at"] <= value(conn, "select clock_timestamp()")
    dead = make_job(conn, "dead")
    replay = answer(client.post(f"/?action=job_retry&id={dead}", headers=AUTH))
    letter = value(conn, "select id from job_dead_letter where job_id = %s", (dead,))
    assert replay["dead_letter_id"] == str(letter)
    assert job(conn, UUID(replay["id"]))["status"] == "pending"


@pytest.mark.parametrize(("state", "says"), [("running", "is running"), ("completed", "is completed"),
                                             ("pending", "is already due")])
def test_job_retry_refuses_with_409_saying_why(client: FlaskClient, conn: Conn, state: str,
                                               says: str) -> None:
    target = make_job(conn, state)
    before = fingerprint(conn)
    assert says in answer(client.post(f"/?action=job_retry&id={target}", headers=AUTH), 409)["message"]
    assert answer(client.post(f"/?action=job_retry&id={uuid4()}", headers=AUTH), 404)["sqlstate"] == "PT404"
    assert fingerprint(conn) == before


def test_the_readonly_token_lists_and_shows_but_may_not_cancel_or_retry(client: FlaskClient,
                                                                        conn: Conn) -> None:
    target = enqueue(conn, run_at=value(conn, "select now() + interval '1 day'"))
    assert answer(client.get("/?action=jobs", headers=READONLY_AUTH))["jobs"][0]["id"] == str(target)
    assert answer(client.get(f"/?action=job&id={target}", headers=READONLY_AUTH))["job"]["id"] == str(target)
    before = fingerprint(conn)
    for action in ("job_cancel", "job_retry", "cancel"):
        body = answer(client.post(f"/?action={action}&id={target}", headers=READONLY_AUTH), 403)
        assert body["error"] == "ReadOnly"
    assert fingerprint(conn) == before
    assert value(conn, "select count(*) from console_actions") == 0


@pytest.mark.parametrize(("method", "action"), [("POST", "jobs"), ("POST", "job"), ("GET", "job_cancel"),
                                                ("GET", "job_retry")])
def test_each_action_takes_its_method_only(client: FlaskClient, method: str, action: str) -> None:
    assert client.open(f"/?action={action}&id={uuid4()}", method=method, headers=AUTH).status_code == 405
