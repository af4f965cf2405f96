-- queue.analytics_user_rows passes `supabase db lint` on plain PostgreSQL.
--
-- Contract unchanged (users_new and users_total from auth.users; no rows when
-- auth.users does not exist). plpgsql_check resolves the constant dynamic query and
-- reports auth.users missing wherever Supabase Auth is not installed; the to_regclass
-- guard is what keeps the query from running there, so the check is skipped for it.

create or replace function queue.analytics_user_rows(p_lo timestamptz, p_hi timestamptz)
returns table (metric text, dimension text, value numeric)
language plpgsql stable
set search_path = ''
as $$
begin
  if pg_catalog.to_regclass('auth.users') is null then
    return;
  end if;
  -- Dynamic so this function is valid where auth.users does not exist.
  perform 'PRAGMA:disable:check';
  return query execute
    'select x.metric, '''', x.value from (select
        count(*) filter (where u.created_at >= $1 and u.created_at < $2)::numeric as new_,
        count(*) filter (where u.created_at < $2)::numeric as total
       from auth.users u) s,
     lateral (values (''users_new'', s.new_), (''users_total'', s.total)) as x(metric, value)'
    using p_lo, p_hi;
end
$$;

insert into queue.schema_migrations (version) values ('20260104000220') on conflict do nothing;
