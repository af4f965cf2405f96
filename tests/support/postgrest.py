"""A small PostgREST-compatible endpoint over a real PostgreSQL, for tests only.

THIS IS NOT POSTGREST. PostgREST (Supabase's Data API) cannot be installed on this
machine, so the tests of the supabase-py path talk to this stand-in instead. It
serves what supabase-py 2.x sends for this project, the way PostgREST answers it:

- `POST /rest/v1/rpc/<fn>` with named arguments in the JSON body (`GET` with them in
  the query string), passed through `json_to_record` as PostgREST does; overloads
  resolved by argument names (PGRST202 404 when none fits, PGRST203 300 when several).
- The caller's role from the JWT in `Authorization` (HS256, test secret; no token means
  `anon`), applied per request inside a transaction with `set local role` and
  `set_config('request.jwt.claims', ..., true)`, and the request's headers as PostgREST's
  `request.headers` setting (a JSON object, names lowercased); read-only when the
  function is not volatile. The gateway's `apikey` check comes first (401 without a valid key); the
  new-style `sb_secret_`/`sb_publishable_` keys (SECRET_KEY, PUBLISHABLE_KEY) stand for
  service_role/anon as on Supabase.
- Results: SETOF/TABLE as a JSON array (capped at 1000 rows, like Supabase's max-rows),
  SETOF scalar as an array of values, a scalar as its value, a single row as an
  object, void as 204 with no body; `Content-Range` like PostgREST's.
- Errors as `{code, message, details, hint}` with PostgREST's status table
  (tests/support/postgrest_sql.http_status); the database unreachable is PGRST000 503.
- `GET /rest/v1/<table>?select=a,b&order=c.desc&limit=n&offset=m&col=eq.v` for table reads.

Everything else (embedding, inserts, Prefer: return=..., RLS-aware counts) is absent.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple, cast
from uuid import UUID

import psycopg
import pytest
from psycopg import sql
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from tests.support import jwt
from tests.support.postgrest_sql import BadQuery, find_function, http_status, rpc_query, table_query

EXPOSED_SCHEMAS = ("public",)
# Supabase's new-style API keys (not JWTs), as this stand-in's gateway knows them.
SECRET_KEY = "sb_secret_queueworkertest0123456789"  # not a real key
PUBLISHABLE_KEY = "sb_publishable_queueworkertest0123456789"
OPAQUE_KEYS = {SECRET_KEY: "service_role", PUBLISHABLE_KEY: "anon"}
Pool = ConnectionPool[psycopg.Connection[dict[str, Any]]]


class PostgrestEndpoint(NamedTuple):
    """What a test needs to point supabase-py at the stand-in."""

    url: str  # SUPABASE_URL
    service_role_key: str  # SUPABASE_SERVICE_ROLE_KEY
    anon_key: str
    user_token: Callable[[UUID | str], str]  # a signed-in user's access token


class Refusal(Exception):
    """Stop handling the request and answer with this PostgREST-shaped error."""

    def __init__(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
        super().__init__(body.get("message"))
        self.response = _json(status, body, headers)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers,
                    content_type="application/json; charset=utf-8")


def _pgrst(status: int, code: str, message: str, hint: str | None = None,
           details: str | None = None) -> Refusal:
    return Refusal(status, {"code": code, "message": message, "details": details, "hint": hint})


class _Caller(NamedTuple):
    role: str
    claims: dict[str, Any]


class PostgrestStandIn:
    """The WSGI application. One pooled connection per request, one transaction per call."""

    def __init__(self, pool: Pool, jwt_secret: str = jwt.TEST_JWT_SECRET) -> None:
        self._pool = pool
        self._secret = jwt_secret

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Refusal as refusal:
            response = refusal.response
        return response(environ, start_response)

    def _dispatch(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")
        if parts[:2] != ["rest", "v1"] or len(parts) not in (3, 4) or (len(parts) == 4 and parts[2] != "rpc"):
            raise _pgrst(404, "PGRST125", f"Invalid path specified in request URL: {request.path}")
        caller = self._authenticate(request)
        schema = self._schema(request)
        if len(parts) == 4:
            return self._rpc(request, caller, schema, parts[3])
        if request.method != "GET":
            raise _pgrst(405, "PGRST117", f"Unsupported HTTP method: {request.method} (reads only)")
        return self._read_table(request, caller, schema, parts[2])

    def _authenticate(self, request: Request) -> _Caller:
        """The gateway's apikey check, then PostgREST's JWT -> role.

        New-style keys (sb_secret_/sb_publishable_) are not JWTs: the gateway lets them
        through with the role they stand for when Authorization is absent or carries the
        same key (which supabase-py sends); a user's JWT in Authorization still wins."""
        key = request.headers.get("apikey")
        if not key:
            raise Refusal(401, {"message": "No API key found in request",
                                "hint": "No `apikey` request header or url param was found."})
        key_role = OPAQUE_KEYS.get(key)
        if key_role is None:
            try:
                jwt.decode(key, self._secret)
            except jwt.InvalidToken as exc:
                hint = "Double check your Supabase `anon` or `service_role` API key."
                raise Refusal(401, {"message": "Invalid API key", "hint": hint}) from exc
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if key_role is not None and token in ("", key):
            return _Caller(key_role, {"role": key_role, "iss": "api-keys-jwt-issuer"})
        if not token or scheme.lower() != "bearer":
            return _Caller("anon", {"role": "anon"})
        try:
            claims = jwt.decode(token, self._secret)
        except jwt.InvalidToken as exc:
            raise _pgrst(401, "PGRST301", str(exc)) from exc
        return _Caller(str(claims.get("role", "anon")), claims)

    def _schema(self, request: Request) -> str:
        header = "Accept-Profile" if request.method in ("GET", "HEAD") else "Content-Profile"
        schema = request.headers.get(header, EXPOSED_SCHEMAS[0])
        if schema not in EXPOSED_SCHEMAS:
            raise _pgrst(406, "PGRST106",
                         f"The schema must be one of the following: {', '.join(EXPOSED_SCHEMAS)}")
        return schema

    def _rpc(self, request: Request, caller: _Caller, schema: str, name: str) -> Response:
        if request.method not in ("GET", "POST"):
            raise _pgrst(405, "PGRST101", "Only GET and POST are allowed for functions")
        args = dict(request.args) if request.method == "GET" else _json_body(request)
        with self._connection(caller) as conn:
            fn = _resolve(find_function(conn, schema, name, set(args)), schema, name, args)
            query = rpc_query(fn, list(args))
            row = self._run(conn, request, caller, not fn.volatile or request.method == "GET", query,
                            {"args": json.dumps(args)})
        if fn.kind == "void":
            return Response(status=204)
        return _json(200, row["body"], _content_range(request, row["total"], fn.returns_set))

    def _read_table(self, request: Request, caller: _Caller, schema: str, table: str) -> Response:
        try:
            query, params = table_query(schema, table, dict(request.args))
        except BadQuery as exc:
            raise _pgrst(400, "PGRST100", str(exc)) from exc
        with self._connection(caller) as conn:
            row = self._run(conn, request, caller, True, query, params)
        return _json(200, row["body"], _content_range(request, row["total"], True))

    @contextmanager
    def _connection(self, caller: _Caller) -> Iterator[psycopg.Connection[dict[str, Any]]]:
        """A pooled connection; any database error escaping the request becomes its PostgREST answer."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except psycopg.Error as exc:
            if exc.sqlstate is None:  # no connection (pool timeout, refused, cut): PostgREST's PGRST000
                raise _pgrst(503, "PGRST000", "Could not connect with the database",
                             details=str(exc)) from exc
            raise _database_refusal(exc, caller.role) from exc

    def _run(self, conn: psycopg.Connection[dict[str, Any]], request: Request, caller: _Caller,
             read_only: bool, query: sql.Composable, params: Any) -> dict[str, Any]:
        """Run `query` as the caller's role in its own transaction."""
        headers = {name.lower(): value for name, value in request.headers.items()}
        with conn.transaction():
            if read_only:
                conn.execute("set transaction read only")
            conn.execute(sql.SQL("set local role {}").format(sql.Identifier(caller.role)))
            conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(caller.claims),))
            conn.execute("select set_config('request.headers', %s, true)", (json.dumps(headers),))
            row: dict[str, Any] | None = conn.execute(cast(sql.Composed, query), params).fetchone()
        assert row is not None
        return row


def _json_body(request: Request) -> dict[str, Any]:
    raw = request.get_data(as_text=True)
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as exc:
        raise _pgrst(400, "PGRST102", "Empty or invalid json", details=str(exc)) from exc
    if not isinstance(body, dict):
        raise _pgrst(400, "PGRST102", "The request body must be a JSON object of named arguments")
    return body


def _resolve(candidates: list[Any], schema: str, name: str, args: dict[str, Any]) -> Any:
    signature = f"{schema}.{name}({', '.join(sorted(args))})"
    if not candidates:
        raise _pgrst(404, "PGRST202", f"Could not find the function {signature} in the schema cache",
                     hint="Check the function name and its argument names.")
    if len(candidates) > 1:
        raise _pgrst(300, "PGRST203", f"Could not choose the best candidate function between overloads "
                                      f"of {signature}", hint="Rename the overloads or their arguments.")
    return candidates[0]


def _database_refusal(exc: psycopg.Error, role: str) -> Refusal:
    diag = exc.diag
    assert exc.sqlstate is not None
    return Refusal(http_status(exc.sqlstate, role),
                   {"code": exc.sqlstate, "message": diag.message_primary or str(exc),
                    "details": diag.message_detail, "hint": diag.message_hint or None})


def _content_range(request: Request, total: int, returns_set: bool) -> dict[str, str]:
    """PostgREST's Content-Range: `0-(n-1)/total` with Prefer count=..., else `.../*`."""
    shown = min(total, 1000) if returns_set else total
    span = f"0-{shown - 1}" if shown else "*"
    counted = "count=" in request.headers.get("Prefer", "")
    return {"Content-Range": f"{span}/{total if counted else '*'}"}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Keep test output clean: no access log line per request."""


@contextmanager
def serve_postgrest(db_url: str, *, jwt_secret: str = jwt.TEST_JWT_SECRET, pool_size: int = 4,
                    pool_timeout: float = 5.0) -> Iterator[PostgrestEndpoint]:
    """Serve the stand-in for `db_url` on 127.0.0.1 (a free port) in a background thread.
    `pool_size` connections serve concurrent requests; more wait up to `pool_timeout` s."""
    pool: Pool = ConnectionPool(
        db_url, connection_class=psycopg.Connection[dict[str, Any]], min_size=1, max_size=pool_size,
        timeout=pool_timeout, open=False, name="postgrest-stand-in",
        kwargs={"autocommit": True, "row_factory": dict_row, "prepare_threshold": None})
    pool.open(wait=False)
    server = make_server("127.0.0.1", 0, PostgrestStandIn(pool, jwt_secret), threaded=True,
                         request_handler=_QuietHandler)
    # A short poll interval so shutdown() returns quickly at the end of each test.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              name="postgrest-stand-in", daemon=True)
    thread.start()
    try:
        yield PostgrestEndpoint(f"http://127.0.0.1:{server.server_port}",
                                jwt.role_key("service_role", jwt_secret), jwt.role_key("anon", jwt_secret),
                                lambda uid: jwt.user_token(uid, jwt_secret))
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        pool.close()


@pytest.fixture
def postgrest(db_url: str) -> Iterator[PostgrestEndpoint]:
    """The stand-in over this test's database: (url, service_role_key, anon_key, user_token(uid))."""
    with serve_postgrest(db_url) as endpoint:
        yield endpoint
