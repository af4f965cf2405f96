"""trigger_queue_worker: without pg_net or a worker URL it sends nothing and says why; bad
arguments are refused.

Real: PostgreSQL (neither test server has pg_net, so no request can leave). Faked: nothing.
"""

from __future__ import annotations

import pytest

from tests.sql.factories import Conn, sqlstate_of, value


def _notices(conn: Conn, query: str) -> tuple[object, list[str]]:
    seen: list[str] = []
    conn.add_notice_handler(lambda diag: seen.append(diag.message_primary or ""))
    return value(conn, query), seen


def test_without_a_worker_url_nothing_is_sent(conn: Conn) -> None:
    result, notices = _notices(conn, "select trigger_queue_worker()")
    assert result is None
    assert any("no worker_url" in n for n in notices)


def test_without_pg_net_nothing_is_sent_even_with_a_url(conn: Conn) -> None:
    if value(conn, "select count(*) from pg_extension where extname = 'pg_net'"):
        pytest.skip("pg_net is installed on this server")
    conn.execute("update queue.settings set value = '\"http://127.0.0.1:9/\"' where key = 'worker_url'")
    result, notices = _notices(conn, "select trigger_queue_worker('process', 'email', 10)")
    assert result is None
    assert any("pg_net is not installed" in n for n in notices)


@pytest.mark.parametrize(
    ("query", "sqlstate"),
    [
        ("select trigger_queue_worker('explode')", "22QX1"),
        ("select trigger_queue_worker('process', null, 0)", "22QB1"),
    ],
)
def test_bad_arguments_are_refused_with_a_hint(conn: Conn, query: str, sqlstate: str) -> None:
    error = sqlstate_of(lambda: conn.execute(query))
    assert error.sqlstate == sqlstate
    assert error.diag.message_hint
