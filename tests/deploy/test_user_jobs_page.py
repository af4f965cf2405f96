"""The example page deploy/supabase/user-jobs agrees with the database it talks to.

Real: the page's files as shipped, and PostgreSQL with the migrations applied (what a
signed-in user may call and select). Not run: the page in a browser (it loads supabase-js
from a CDN and needs a Supabase project with Auth and Realtime, neither of which runs here);
the SQL it relies on is tested in tests/sql/test_realtime_owner_rows.py and through
supabase-py in tests/queue/test_user_jobs_over_postgrest.py.
"""

from __future__ import annotations

import re

from shared.config import REPO_ROOT
from tests.sql.factories import Conn, value

PAGE = REPO_ROOT / "deploy" / "supabase" / "user-jobs"


def test_the_page_pins_supabase_js_and_allows_no_inline_script_or_style() -> None:
    html = (PAGE / "index.html").read_text()
    [src] = re.findall(r'<script src="(https://[^"]+)"', html)
    pinned = r"https://cdn\.jsdelivr\.net/npm/@supabase/supabase-js@\d+\.\d+\.\d+/dist/umd/supabase\.js"
    assert re.fullmatch(pinned, src)
    for inline in ("unsafe-inline", "<script>", "<style"):
        assert inline not in html
    for local in re.findall(r'(?:src|href)="([a-z-]+\.(?:js|css))"', html):
        assert (PAGE / local).is_file(), local


def test_what_the_page_subscribes_to_and_calls_is_open_to_a_signed_in_user(conn: Conn) -> None:
    app = (PAGE / "app.js").read_text()
    tables = set(re.findall(r"table: '(\w+)'", app))
    assert tables == {"job_queue", "job_dead_letter"}
    assert "filter: `owner_id=eq.${userId}`" in app
    # Only INSERT and UPDATE: DELETE events are not checked against RLS.
    assert set(re.findall(r"event: '(\w+|\*)'", app)) == {"INSERT", "UPDATE"}
    for table in tables:
        assert value(conn, "select has_column_privilege('authenticated', %s, 'owner_id', 'select')",
                     (f"public.{table}",))
    [(fn, arg)] = re.findall(r"rpc\('(\w+)', \{ (\w+):", app)
    assert value(conn, "select has_function_privilege('authenticated', %s, 'execute')",
                 (f"public.{fn}(integer)",))
    assert value(conn, "select %s = any(proargnames) from pg_proc where proname = %s", (arg, fn))


def test_the_page_reads_only_columns_a_signed_in_user_may_select(conn: Conn) -> None:
    app = (PAGE / "app.js").read_text()
    used = set(re.findall(r"\b(?:job|letter)\.(\w+)", app))
    my_jobs = {r["name"] for r in conn.execute(
        "select unnest(proargnames[2:]) as name from pg_proc where proname = 'my_jobs'")}
    letter_columns = {r["attname"] for r in conn.execute(
        "select attname from pg_attribute where attrelid = 'public.job_dead_letter'::regclass and attnum > 0"
        " and has_column_privilege('authenticated', attrelid, attnum, 'select')")}
    assert used - my_jobs - letter_columns == set()
