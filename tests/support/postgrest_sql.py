"""The SQL half of the PostgREST stand-in (see tests/support/postgrest.py).

PostgREST's "schema cache" (which function a call means, its argument types, whether
it returns a set, a row or a scalar), the SQL it runs for an RPC call or a table read,
and its SQLSTATE -> HTTP status table (docs.postgrest.org, references/errors).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import psycopg
from psycopg import sql

MAX_ROWS = 1000  # PostgREST's db-max-rows as Supabase configures it
ReturnKind = Literal["scalar", "composite", "void"]

_FUNCTIONS = """
select p.proname, p.proretset, p.provolatile, p.pronargs, p.pronargdefaults,
       coalesce(p.proargnames, '{}') as argnames,
       coalesce(p.proargmodes::text[], '{}') as argmodes,
       array(select pg_catalog.format_type(t, null)
               from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) t) as argtypes,
       rt.typname as rettype, rt.typtype = 'c' or p.prorettype = 'record'::regtype as returns_rows
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  join pg_catalog.pg_type rt on rt.oid = p.prorettype
 where n.nspname = %s and p.proname = %s and p.prokind = 'f'
"""


@dataclass(frozen=True)
class Function:
    """One SQL function as PostgREST's schema cache sees it."""

    schema: str
    name: str
    args: dict[str, str]  # input argument name -> SQL type, in declaration order
    required: frozenset[str]  # input arguments without a default
    returns_set: bool
    kind: ReturnKind
    volatile: bool

    def accepts(self, given: set[str]) -> bool:
        return given <= set(self.args) and self.required <= given


def _function_from_row(schema: str, row: dict[str, Any]) -> Function:
    modes = row["argmodes"] or ["i"] * len(row["argtypes"])
    inputs = [(name, typ) for name, typ, mode in zip(row["argnames"] or [""] * len(modes),
                                                     row["argtypes"], modes, strict=False)
              if mode in ("i", "b", "v")]
    n_required = row["pronargs"] - row["pronargdefaults"]
    kind: ReturnKind = ("void" if row["rettype"] == "void"
                        else "composite" if row["returns_rows"] else "scalar")
    return Function(schema, row["proname"], dict(inputs), frozenset(n for n, _ in inputs[:n_required]),
                    row["proretset"], kind, row["provolatile"] == "v")


def find_function(conn: psycopg.Connection[dict[str, Any]], schema: str, name: str,
                  given: set[str]) -> list[Function]:
    """The overloads of schema.name that take exactly the named arguments `given`."""
    rows = conn.execute(_FUNCTIONS, (schema, name)).fetchall()
    return [f for f in (_function_from_row(schema, r) for r in rows) if f.accepts(given)]


def _call(fn: Function, names: list[str]) -> sql.Composable:
    """`from json_to_record($1) as a(...), lateral fn(x := a.x, ...)`: PostgREST's argument passing."""
    target = sql.SQL("{}.{}").format(sql.Identifier(fn.schema), sql.Identifier(fn.name))
    if not names:
        return sql.SQL("{}()").format(target)
    columns = sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(fn.args[n]))
                                 for n in names)
    passed = sql.SQL(", ").join(sql.SQL("{} := pgrst_args.{}").format(sql.Identifier(n), sql.Identifier(n))
                                for n in names)
    return sql.SQL("json_to_record(%(args)s::json) as pgrst_args({}), lateral {}({})").format(
        columns, target, passed)


def rpc_query(fn: Function, names: list[str]) -> sql.Composable:
    """SQL returning one row (total, body): body is the response JSON, total the row count."""
    call = _call(fn, names)
    if fn.kind == "void":
        return sql.SQL("select 0 as total, null::json as body from {}").format(call)
    if fn.kind == "scalar":
        source = sql.SQL("select pgrst_call.v from {} as pgrst_call(v)").format(call)
        value = sql.SQL("to_json(s.v)")
    else:
        source = sql.SQL("select pgrst_call.* from {} as pgrst_call").format(call)
        value = sql.SQL("to_json(s)")
    if not fn.returns_set:
        return sql.SQL("select 1 as total, {} as body from ({}) s").format(value, source)
    # Materialized once: a volatile function (a claim) must run exactly once.
    return sql.SQL(
        "with pgrst_source as materialized ({}) "
        "select (select count(*) from pgrst_source) as total, "
        "(select coalesce(json_agg({}), '[]') from (select * from pgrst_source limit {}) s) as body"
    ).format(source, value, sql.Literal(MAX_ROWS))


_RESERVED = ("select", "order", "limit", "offset")
_OPERATORS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BadQuery(ValueError):
    """A query string the stand-in cannot parse (PostgREST's PGRST100)."""


def _ident(name: str) -> sql.Identifier:
    if not _IDENT.match(name):
        raise BadQuery(f"'{name}' is not a column name this stand-in understands")
    return sql.Identifier(name)


def _order(spec: str) -> sql.Composable:
    terms = []
    for term in spec.split(","):
        column, *modifiers = term.split(".")
        words = {"asc": "asc", "desc": "desc", "nullsfirst": "nulls first", "nullslast": "nulls last"}
        if any(m not in words for m in modifiers):
            raise BadQuery(f"unexpected order modifier in '{term}'")
        terms.append(sql.SQL(" ").join([_ident(column), *(sql.SQL(words[m]) for m in modifiers)]))
    return sql.SQL(", ").join(terms)


def _filter(column: str, expr: str, params: list[Any]) -> sql.Composable:
    op, _, value = expr.partition(".")
    if op == "is" and value in ("null", "true", "false"):
        return sql.SQL("{} is {}").format(_ident(column), sql.SQL(value))
    if op not in _OPERATORS:
        raise BadQuery(f"operator '{op}' in '{column}={expr}' is not supported by this stand-in")
    params.append(value)  # sent untyped, so the server reads it as the column's type
    return sql.SQL("{} {} %s").format(_ident(column), sql.SQL(_OPERATORS[op]))


def table_query(schema: str, table: str, query: dict[str, str]) -> tuple[sql.Composable, list[Any]]:
    """GET /<table>?select=&order=&limit=&offset=&col=op.value as (SQL, params), capped at MAX_ROWS."""
    select = query.get("select", "*")
    columns = sql.SQL("*") if select == "*" else sql.SQL(", ").join(_ident(c) for c in select.split(","))
    params: list[Any] = []
    filters = [_filter(k, v, params) for k, v in query.items() if k not in _RESERVED]
    where = sql.SQL(" where ") + sql.SQL(" and ").join(filters) if filters else sql.SQL("")
    order = sql.SQL(" order by ") + _order(query["order"]) if "order" in query else sql.SQL("")
    try:
        limit, offset = min(int(query.get("limit", MAX_ROWS)), MAX_ROWS), int(query.get("offset", 0))
    except ValueError as exc:
        raise BadQuery(f"limit and offset must be integers: {exc}") from exc
    rows = sql.SQL("select {} from {}.{}{}{} limit {} offset {}").format(
        columns, sql.Identifier(schema), _ident(table), where, order, sql.Literal(limit), sql.Literal(offset))
    return sql.SQL("select count(*) as total, coalesce(json_agg(s), '[]') as body from ({}) s").format(
        rows), params


_EXACT_STATUS = {"23503": 409, "23505": 409, "25006": 405, "53400": 500, "P0001": 400,
                 "42883": 404, "42P01": 404}
_CLASS_STATUS = {"08": 503, "09": 500, "0L": 403, "0P": 403, "25": 500, "28": 403, "2D": 500,
                 "38": 500, "39": 500, "3B": 500, "40": 500, "53": 503, "54": 413, "55": 500,
                 "57": 500, "58": 500, "F0": 500, "HV": 500, "P0": 500, "XX": 500}


def http_status(sqlstate: str, role: str, anon_role: str = "anon") -> int:
    """PostgREST's HTTP status for a PostgreSQL error (PTxyz -> xyz; 42501 -> 401 anon / 403)."""
    if re.fullmatch(r"PT\d\d\d", sqlstate):
        return int(sqlstate[2:])
    if sqlstate == "42501":
        return 401 if role == anon_role else 403
    return _EXACT_STATUS.get(sqlstate) or _CLASS_STATUS.get(sqlstate[:2], 400)
