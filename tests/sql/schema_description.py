"""supabase/schema.sql: the queue's schema as SQL, read back from the catalogs.

describe_schema(conn) gives the same text on PostgreSQL 15 through 18 for the same
migrations: everything is deparsed with search_path = pg_catalog (so names are always
schema-qualified), only the client roles' privileges are listed (the owner's differ by
version: 17 added MAINTAIN), NOT NULL is read from pg_attribute (18 also keeps it in
pg_constraint, as contype 'n', which is left out), and objects that belong to an
extension are left out. Only schemas public and queue are read.

That is also why a database where the pg_cron migrations found pg_cron gives the same
text as one where they did not. What 20260101001000_pg_cron.sql and
20260104000200_pg_cron_setup.sql create only then is pg_cron (its extension row in
pg_catalog, its tables and functions in schema cron), pg_net (schema net) and cron.job
rows: none of it is in public or queue, and a pg_cron an older migration left in public
belongs to its extension, so it is left out too.

Each query below yields (object, item, order, line). Lines are grouped by object: public's
then queue's, each schema's grants, then enum types, tables and functions, by name; within
an object they go by item (create, constraints, indexes, ...), then order, then text.
"""

from __future__ import annotations

from itertools import groupby
from typing import Any

import psycopg
from psycopg.rows import tuple_row

SCHEMAS = ("public", "queue")
ROLES = ("anon", "authenticated", "service_role")
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
REGENERATE = "UPDATE_SCHEMA_SQL=1 .venv/bin/pytest tests/sql/test_schema_snapshot.py"

HEADER = f"""\
-- The queue's schema as the migrations in supabase/migrations/ leave it: every type,
-- table, constraint, index, trigger, policy and function, with comments and the
-- privileges of anon, authenticated and service_role (what each may do, granted to it
-- or to PUBLIC). Owners, extensions (pg_cron, pg_net) and rows are left out.
--
-- GENERATED from a freshly migrated database by tests/sql/schema_description.py, and
-- checked against one by tests/sql/test_schema_snapshot.py. It is never applied: to
-- change the schema, add a migration, then regenerate this file with
--   {REGENERATE}"""


def _array(values: tuple[str, ...]) -> str:
    return "array[" + ", ".join(f"'{v}'" for v in values) + "]"


IN_SCHEMAS = f"= any({_array(SCHEMAS)})"
ROLE_LIST = f"unnest({_array(ROLES)}) with ordinality as r(role, role_no)"
SIGNATURE = "format('%I.%I(%s)', n.nspname, p.proname, pg_get_function_identity_arguments(p.oid))"


def _own(oid: str) -> str:
    """The object is the migrations', not an extension's."""
    return f"not exists (select 1 from pg_depend e where e.objid = {oid} and e.deptype = 'e')"


def _tables(item: int, line: str, source: str = "pg_class c", where: str = "true", **sql: str) -> str:
    """Lines for each table's block; `source` joins pg_class c; sql: group, order."""
    return f"""
        select '2 table ' || c.oid::regclass::text, {item}, {sql.get("order", "''")}, {line}
          from {source} join pg_namespace n on n.oid = c.relnamespace
         where n.nspname {IN_SCHEMAS} and c.relkind in ('r', 'p') and {_own("c.oid")}
           and ({where}) {sql.get("group", "")}"""


def _views(item: int, line: str, source: str = "pg_class c", where: str = "true", group: str = "") -> str:
    """Lines for each view's block; `source` joins pg_class c."""
    return f"""
        select '3 view ' || c.oid::regclass::text, {item}, '', {line}
          from {source} join pg_namespace n on n.oid = c.relnamespace
         where n.nspname {IN_SCHEMAS} and c.relkind = 'v' and {_own("c.oid")} and ({where}) {group}"""


def _functions(item: int, line: str, source: str = "pg_proc p", where: str = "true", group: str = "") -> str:
    """Lines for each function's block; `source` joins pg_proc p."""
    return f"""
        select '4 function ' || {SIGNATURE}, {item}, '', {line}
          from {source} join pg_namespace n on n.oid = p.pronamespace
         where n.nspname {IN_SCHEMAS} and {_own("p.oid")} and ({where}) {group}"""


def _types(item: int, line: str, source: str = "pg_type t") -> str:
    """Lines for each enum type's block; `source` joins pg_type t."""
    return f"""
        select '1 type ' || t.oid::regtype::text, {item}, '', {line}
          from {source} join pg_namespace n on n.oid = t.typnamespace
         where n.nspname {IN_SCHEMAS} and t.typtype = 'e' and {_own("t.oid")}"""


def _described(catalog: str, alias: str) -> str:
    return (
        f"pg_description d join {catalog} {alias}"
        f" on {alias}.oid = d.objoid and d.classoid = '{catalog}'::regclass"
    )


EXPR = "pg_get_expr(ad.adbin, ad.adrelid)"
COLUMN = f"""
    format('    %I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
           case when a.attnotnull then ' not null' else '' end,
           case when a.attidentity = 'a' then ' generated always as identity'
                when a.attidentity = 'd' then ' generated by default as identity'
                when a.attgenerated = 's' then format(' generated always as (%s) stored', {EXPR})
                when a.attgenerated = 'v' then format(' generated always as (%s) virtual', {EXPR})
                else coalesce(' default ' || {EXPR}, '') end)"""
COLUMNS = f"""
    (select string_agg({COLUMN}, e',\\n' order by a.attnum)
       from pg_attribute a left join pg_attrdef ad on ad.adrelid = a.attrelid and ad.adnum = a.attnum
      where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped)"""
ENUM_LABELS = """
    (select string_agg(quote_literal(e.enumlabel), ', ' order by e.enumsortorder)
       from pg_enum e where e.enumtypid = t.oid)"""
COLUMN_NAME = "(select a.attname from pg_attribute a where a.attrelid = c.oid and a.attnum = d.objsubid)"
COMMENT = f"""
    case when d.objsubid = 0 then format('comment on table %s is %L;', c.oid::regclass, d.description)
         else format('comment on column %s.%I is %L;', c.oid::regclass, {COLUMN_NAME}, d.description) end"""
POLICY = """
    format('create policy %I on %s as %s for %s to %s%s%s;', p.policyname, c.oid::regclass,
           lower(p.permissive), lower(p.cmd), array_to_string(p.roles, ', '),
           e'\\n    using (' || p.qual || ')', e'\\n    with check (' || p.with_check || ')')"""
BACKS_CONSTRAINT = """
    exists (select 1 from pg_constraint k where k.conindid = i.indexrelid and k.contype in ('p', 'u', 'x'))"""
IDENTITY_SEQUENCE = """
    pg_class s join pg_depend sd on sd.objid = s.oid and sd.classid = 'pg_class'::regclass
                                and sd.deptype in ('a', 'i')
    join pg_class c on c.oid = sd.refobjid"""

SCHEMA_QUERIES = (
    # public comes with every database; queue is the migrations'.
    f"""select '0 schema ' || n.nspname, 0, '', format('create schema %I;', n.nspname)
          from pg_namespace n where n.nspname {IN_SCHEMAS} and n.nspname <> 'public'""",
    f"""select '0 schema ' || s, 1, '', format('grant %s on schema %I to %I;', lower(priv), s, r)
          from unnest({_array(SCHEMAS)}) s, unnest({_array(ROLES)}) r, unnest(array['USAGE', 'CREATE']) priv
         where has_schema_privilege(r, s, priv)""",
    _types(0, f"format('create type %s as enum (%s);', t.oid::regtype, {ENUM_LABELS})"),
    _types(1, "format('comment on type %s is %L;', t.oid::regtype, d.description)",
           _described("pg_type", "t")),
)
TABLE_QUERIES = (
    _tables(0, f"format(e'create table %s (\\n%s\\n);', c.oid::regclass, {COLUMNS})"),
    _tables(
        1,
        """format('alter table %s add constraint %I %s;',
                  c.oid::regclass, k.conname, pg_get_constraintdef(k.oid))""",
        "pg_constraint k join pg_class c on c.oid = k.conrelid",
        "k.contype in ('c', 'f', 'p', 'u', 'x')",
    ),
    # An index behind a primary key, unique or exclusion constraint is that constraint's.
    _tables(
        2,
        "pg_get_indexdef(i.indexrelid) || ';'",
        "pg_index i join pg_class c on c.oid = i.indrelid",
        f"not {BACKS_CONSTRAINT}",
        order="i.indexrelid::regclass::text",
    ),
    _tables(3, "pg_get_triggerdef(t.oid) || ';'", "pg_trigger t join pg_class c on c.oid = t.tgrelid",
            "not t.tgisinternal"),
    _tables(
        4,
        "format('alter table %s %s row level security;', c.oid::regclass, how)",
        "unnest(array['enable', 'force']) how, pg_class c",
        "how = 'enable' and c.relrowsecurity or how = 'force' and c.relforcerowsecurity",
    ),
    _tables(5, POLICY, "pg_policies p join pg_class c on c.relname = p.tablename",
            "n.nspname = p.schemaname"),
    _tables(6, COMMENT, _described("pg_class", "c"), order="lpad(d.objsubid::text, 4, '0')"),
    _tables(
        7,
        """format('grant %s on table %s to %I;', string_agg(lower(x.priv), ', ' order by x.priv_no),
                  c.oid::regclass, r.role)""",
        f"{ROLE_LIST}, unnest({_array(TABLE_PRIVILEGES)}) with ordinality as x(priv, priv_no), pg_class c",
        "has_table_privilege(r.role, c.oid, x.priv)",
        group="group by c.oid, r.role, r.role_no",
    ),
    _tables(
        8,
        """format('grant %s (%s) on table %s to %I;', lower(x.privilege_type),
                  string_agg(quote_ident(a.attname), ', ' order by a.attnum), c.oid::regclass, r.role)""",
        f"{ROLE_LIST}, pg_attribute a cross join lateral aclexplode(a.attacl) x"
        " join pg_class c on c.oid = a.attrelid",
        "x.grantee = to_regrole(r.role)",
        group="group by c.oid, r.role, r.role_no, x.privilege_type",
    ),
    # The sequences behind identity columns, in their table's block.
    _tables(
        9,
        """format('grant %s on sequence %s to %I;', string_agg(lower(x.priv), ', ' order by x.priv_no),
                  s.oid::regclass, r.role)""",
        f"{ROLE_LIST}, unnest(array['USAGE', 'SELECT', 'UPDATE']) with ordinality as x(priv, priv_no),"
        f" {IDENTITY_SEQUENCE}",
        "s.relkind = 'S' and has_sequence_privilege(r.role, s.oid, x.priv)",
        group="group by c.oid, s.oid, r.role, r.role_no",
    ),
)
VIEW_QUERIES = (
    _views(0, """format(e'create view %s%s as\n%s', c.oid::regclass,
                        ' with (' || array_to_string(c.reloptions, ', ') || ')',
                        rtrim(pg_get_viewdef(c.oid, true), e'\n'))"""),
    _views(1, "format('comment on view %s is %L;', c.oid::regclass, d.description)",
           _described("pg_class", "c"), "d.objsubid = 0"),
    _views(
        2,
        """format('grant %s on table %s to %I;', string_agg(lower(x.priv), ', ' order by x.priv_no),
                  c.oid::regclass, r.role)""",
        f"{ROLE_LIST}, unnest({_array(TABLE_PRIVILEGES)}) with ordinality as x(priv, priv_no), pg_class c",
        "has_table_privilege(r.role, c.oid, x.priv)",
        "group by c.oid, r.role, r.role_no",
    ),
)
FUNCTION_QUERIES = (
    _functions(0, "rtrim(pg_get_functiondef(p.oid), e'\\n') || ';'"),
    _functions(1, f"format('comment on function %s is %L;', {SIGNATURE}, d.description)",
               _described("pg_proc", "p")),
    _functions(
        2,
        f"""format('grant execute on function %s to %s;', {SIGNATURE},
                   string_agg(quote_ident(r.role), ', ' order by r.role_no))""",
        f"{ROLE_LIST}, pg_proc p",
        "has_function_privilege(r.role, p.oid, 'execute')",
        "group by n.nspname, p.oid",
    ),
)


def _schema_first(key: str) -> tuple[int, str]:
    """Sort key of an object: its schema's place in SCHEMAS, then the key ('2 table public.x')."""
    name = key.split(" ", 2)[2]
    return next(i for i, s in enumerate(SCHEMAS) if name == s or name.startswith(s + ".")), key


def describe_schema(conn: psycopg.Connection[Any]) -> str:
    """The schema as SQL: the header, then one block of lines per object."""
    rows: list[tuple[str, int, str, str]] = []
    with conn.transaction(), conn.cursor(row_factory=tuple_row) as cur:
        # Deparse every name schema-qualified, the same on every server version.
        cur.execute("set local search_path = pg_catalog")
        for query in SCHEMA_QUERIES + TABLE_QUERIES + VIEW_QUERIES + FUNCTION_QUERIES:
            rows.extend(cur.execute(query).fetchall())
    rows.sort(key=lambda row: (_schema_first(row[0]), *row[1:]))
    blocks = [HEADER]
    for key, lines in groupby(rows, key=lambda row: row[0]):
        blocks.append(f"-- {key.split(' ', 1)[1]}\n" + "\n".join(row[3] for row in lines))
    return "\n\n".join(blocks) + "\n"
