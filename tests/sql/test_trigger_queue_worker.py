"""trigger_queue_worker: without pg_net or a worker URL it sends nothing and says why; bad
arguments are refused; the URL it posts to (queue.worker_trigger_url) percent-encodes
every value, so a job type cannot add or change query parameters.

Real: PostgreSQL (neither test server has pg_net, so no request can leave; the URL is
checked through queue.worker_trigger_url, which trigger_queue_worker posts to) and
Python's urllib parsing the URL as the worker's HTTP framework would. Faked: nothing.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

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


AWKWARD_TYPES = ["a&action=stats", "email batch=1000", "ünï/cöde?#%", "plus+sign", "x" * 300]


def _url(conn: Conn, base: str, action: str, job_type: str | None, batch: int | None) -> str:
    url: str = value(conn, "select queue.worker_trigger_url(%s, %s, %s, %s)", (base, action, job_type, batch))
    return url


@pytest.mark.parametrize("job_type", AWKWARD_TYPES)
def test_a_job_type_reaches_the_worker_as_one_query_value(conn: Conn, job_type: str) -> None:
    url = _url(conn, "https://fn.example/queue", "process", job_type, 5)
    parts = urlsplit(url)
    assert (parts.netloc, parts.path, parts.fragment) == ("fn.example", "/queue", "")
    assert parse_qs(parts.query, strict_parsing=True) == {
        "action": ["process"], "type": [job_type], "batch": ["5"]
    }


def test_only_unreserved_characters_stay_unencoded(conn: Conn) -> None:
    assert value(conn, "select queue.url_encode(%s)", ("Az09-._~ &=?/%+ü",)) == (
        "Az09-._~%20%26%3D%3F%2F%25%2B%C3%BC"
    )


def test_missing_type_and_batch_are_left_out_and_an_existing_query_is_kept(conn: Conn) -> None:
    assert _url(conn, "https://fn.example/q?key=1", "health", None, None) == (
        "https://fn.example/q?key=1&action=health"
    )
    assert _url(conn, "https://fn.example/q", "process", "", None) == "https://fn.example/q?action=process&type="


def test_trigger_queue_worker_posts_to_the_encoded_url(conn: Conn) -> None:
    query = "select prosrc from pg_proc where oid = 'trigger_queue_worker(text,text,int)'::regprocedure"
    body = value(conn, query)
    assert "queue.worker_trigger_url(v_url, p_action, p_type, p_batch)" in body
    assert "'type=' ||" not in body
