"""`?action=process` on a warm function while its database goes away and comes back.

Real: functions-framework's app (its test client), PostgreSQL with the migrations, the
processor registry (the noop job type). The outage is real: the test's database refuses
new connections (allow_connections false) and its backends are terminated, as when a
database restarts. Nothing faked.
"""

from __future__ import annotations

from typing import Any

import psycopg
from flask.testing import FlaskClient
from psycopg import sql
from psycopg.rows import dict_row

from tests.functions.conftest import AUTH
from tests.sql.factories import enqueue

Conn = psycopg.Connection[dict[str, Any]]


def allow_connections(admin_url: str, name: str, allowed: bool) -> None:
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("alter database {} allow_connections {}").format(
            sql.Identifier(name), sql.Literal(allowed)))
        if not allowed:
            admin.execute("select pg_terminate_backend(pid, 5000) from pg_stat_activity where datname = %s",
                          (name,))


def test_a_warm_function_answers_503_during_an_outage_and_processes_on_the_first_request_after(
        client: FlaskClient, conn: Conn, db_url: str, pg_server_url: str) -> None:
    name = conn.info.dbname
    enqueue(conn, "noop")
    first = client.post("/?action=process", headers=AUTH)
    assert (first.status_code, first.json and first.json["completed"]) == (200, 1)  # the pool is warm
    conn.close()
    allow_connections(pg_server_url, name, False)
    try:
        down = client.post("/?action=process", headers=AUTH)
        assert down.status_code == 503
        assert down.json is not None
        assert (down.json["error"], down.json["hint"]) == (
            "DatabaseUnavailable", "check DATABASE_URL and that the server is up")
        assert "not currently accepting connections" in down.json["message"]  # the server's own reason
    finally:
        allow_connections(pg_server_url, name, True)
    with psycopg.connect(db_url, autocommit=True, row_factory=dict_row) as again:
        enqueue(again, "noop")
    back = client.post("/?action=process", headers=AUTH)
    assert back.status_code == 200
    assert back.json is not None
    assert back.json["completed"] == 1
