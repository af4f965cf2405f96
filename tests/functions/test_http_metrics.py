"""?action=metrics: Prometheus text through the worker function, its Lambda handler and a
real server, parsed with prometheus-client's own parser.

Real: functions-framework's app (its test client) and a functions-framework server process,
the Lambda handler called with function-URL events, Flask, PostgreSQL, jobs enqueued,
claimed, completed and failed through the SQL API, breakers and worker runs through theirs.
Faked: run times are set by updating started_at/finished_at, so nothing sleeps.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import psycopg
import pytest
from flask.testing import FlaskClient
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families
from psycopg.types.json import Jsonb

from functions.queue_worker.aws_lambda import handler
from shared.api import actions as http_api
from tests.functions.conftest import AUTH, READONLY_AUTH, SECRET, serving
from tests.functions.test_aws_lambda import url_event

Families = dict[str, Any]  # family name -> prometheus_client Metric
CONTEXT = SimpleNamespace(aws_request_id="c0ffee-2")


def parse(text: str) -> Families:
    return {family.name: family for family in text_string_to_metric_families(text)}


def sample(families: Families, name: str, **labels: str) -> float:
    """The value of the one sample `name` with exactly these labels."""
    family = name.removesuffix("_total").removesuffix("_bucket").removesuffix("_sum").removesuffix("_count")
    found = [s.value for s in families[family].samples if s.name == name and s.labels == labels]
    assert len(found) == 1, (name, labels, families[family].samples)
    return float(found[0])


def scrape(client: FlaskClient, headers: dict[str, str] = AUTH, query: str = "") -> Families:
    response = client.get(f"/?action=metrics{query}", headers=headers)
    assert response.status_code == 200, response.data
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    assert response.headers["X-Request-Id"]
    return parse(response.get_data(as_text=True))


def seed(db_url: str) -> None:
    """Two completed noop jobs (0.1 s and 3 s), a ready noop, a running email, a dead email,
    an open breaker and a finished worker run."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("select enqueue_job('noop') from generate_series(1, 3)")
        conn.execute("select enqueue_job('email') from generate_series(1, 2)")
        noops = [row[0] for row in conn.execute("select id from get_next_job('w1', '{noop}', 2)")]
        conn.execute("select complete_job(id, null, 'w1') from unnest(%s::uuid[]) id", (noops,))
        conn.execute("update job_queue set finished_at = now() - interval '1 minute', started_at = now() "
                     "- interval '1 minute' - make_interval(secs => case when seq = (select min(seq) from "
                     "job_queue) then 0.1 else 3 end) where status = 'completed'")
        emails = [row[0] for row in conn.execute("select id from get_next_job('w1', '{email}', 2)")]
        conn.execute("select fail_job(%s, 'boom', false, null, 'w1')", (emails[0],))
        conn.execute("select queue.record_minute_stats(null, interval '0')")
        conn.execute("select circuit_breaker_record('resend', false, 1)")
        conn.execute("select worker_run_start('w1', '{}')")
        conn.execute("select worker_run_finish('w1', %s)", (Jsonb({"claimed": 4, "completed": 2}),))


def test_the_metrics_name_type_label_and_value_what_the_database_holds(client: FlaskClient,
                                                                       db_url: str) -> None:
    seed(db_url)
    families = scrape(client)
    types = {name: family.type for name, family in families.items()}
    assert types["queue_worker_up"] == "gauge"
    assert types["queue_worker_jobs"] == "gauge"
    assert types["queue_worker_jobs_completed"] == "counter"
    assert types["queue_worker_job_run_seconds"] == "histogram"
    assert sample(families, "queue_worker_up") == 1
    assert sample(families, "queue_worker_jobs", type="noop", status="ready") == 1
    assert sample(families, "queue_worker_jobs", type="email", status="running") == 1
    assert sample(families, "queue_worker_oldest_ready_job_age_seconds", type="noop") > 0
    assert sample(families, "queue_worker_dead_letters", type="email") == 1
    assert sample(families, "queue_worker_jobs_completed_total", type="noop") == 2
    assert sample(families, "queue_worker_job_attempts_failed_total", type="email") == 1
    assert sample(families, "queue_worker_jobs_dead_lettered_total", type="email") == 1
    assert sample(families, "queue_worker_job_run_seconds_bucket", type="noop", le="0.128") == 1
    assert sample(families, "queue_worker_job_run_seconds_bucket", type="noop", le="4.096") == 2
    assert sample(families, "queue_worker_job_run_seconds_bucket", type="noop", le="+Inf") == 2
    assert sample(families, "queue_worker_job_run_seconds_count", type="noop") == 2
    assert sample(families, "queue_worker_job_run_seconds_sum", type="noop") == pytest.approx(3.1)
    assert sample(families, "queue_worker_circuit_breaker_state", provider="resend", state="open") == 1
    assert sample(families, "queue_worker_circuit_breaker_state", provider="resend", state="closed") == 0
    assert sample(families, "queue_worker_last_finished_invocation_jobs", outcome="claimed") == 4
    assert sample(families, "queue_worker_last_invocation_running") == 0
    assert sample(families, "queue_worker_health_check_severity", check="dead_letter_spike", type="email",
                  table="") == 0
    assert sample(families, "queue_worker_health_check_value", check="table_bloat", type="",
                  table="public.job_queue") >= 0


def test_every_sample_of_a_type_carries_the_same_labels(client: FlaskClient) -> None:
    families = scrape(client)
    for family in families.values():
        label_sets = {frozenset(set(s.labels) - {"le"}) for s in family.samples}
        assert len(label_sets) <= 1, family.name
    jobs = {(s.labels["type"], s.labels["status"]) for s in families["queue_worker_jobs"].samples}
    assert ("payout", "scheduled") in jobs
    assert {status for _, status in jobs} == {"ready", "scheduled", "running"}


def test_the_readonly_token_may_scrape(client: FlaskClient) -> None:
    assert sample(scrape(client, READONLY_AUTH), "queue_worker_up") == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": SECRET}])
def test_scraping_needs_the_bearer_token(client: FlaskClient, headers: dict[str, str]) -> None:
    response = client.get("/?action=metrics", headers=headers)
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["error"] == "Unauthorized"


def test_an_unknown_parameter_is_a_400_naming_it(client: FlaskClient) -> None:
    response = client.get("/?action=metrics&type=noop", headers=AUTH)
    assert response.status_code == 400
    assert response.json is not None
    assert (response.json["error"], response.json["parameter"]) == ("InvalidParameter", "type")
    assert "no parameters" in response.json["message"]


def test_a_post_is_a_405_allowing_get(client: FlaskClient) -> None:
    response = client.post("/?action=metrics", headers=AUTH)
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET"


def test_an_unreachable_database_answers_up_0_with_503(client: FlaskClient,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=2")
    http_api.reset()
    response = client.get("/?action=metrics", headers=AUTH)
    assert response.status_code == 503
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    families = parse(response.get_data(as_text=True))
    assert list(families) == ["queue_worker_up"]
    assert sample(families, "queue_worker_up") == 0


def test_the_lambda_handler_answers_the_same_text(worker_env: None, db_url: str) -> None:
    seed(db_url)
    response = handler(url_event("GET", "action=metrics"), CONTEXT)
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == CONTENT_TYPE_LATEST
    assert response["headers"]["X-Request-Id"] == "c0ffee-2"
    assert response["isBase64Encoded"] is False
    families = parse(response["body"])
    assert sample(families, "queue_worker_jobs_completed_total", type="noop") == 2
    assert handler(url_event("GET", "action=metrics", token=None), CONTEXT)["statusCode"] == 401
    assert handler(url_event("GET", "action=metrics", token="wrong"), CONTEXT)["statusCode"] == 401
    assert handler(url_event("GET", "action=metrics&x=1"), CONTEXT)["statusCode"] == 400
    assert handler(url_event("POST", "action=metrics"), CONTEXT)["statusCode"] == 405


def test_a_direct_lambda_invoke_of_metrics_is_405_naming_get(worker_env: None) -> None:
    answer = handler({"action": "metrics"}, CONTEXT)
    assert answer["statusCode"] == 405
    assert answer["allowed_methods"] == ["GET"]


def test_a_real_server_serves_the_metrics_to_a_scraper(db_url: str) -> None:
    seed(db_url)
    with serving(db_url) as (url, _):
        response = httpx.get(f"{url}?action=metrics", headers=AUTH, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    assert int(response.headers["content-length"]) == len(response.content)
    families = parse(response.text)
    assert sample(families, "queue_worker_jobs_completed_total", type="noop") == 2
