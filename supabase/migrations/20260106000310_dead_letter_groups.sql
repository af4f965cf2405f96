-- Dead-letter groups: the console's first view of the dead letter queue, one line per way
-- jobs failed ("payout · card declined for <email> · 412 letters, last an hour ago").
--
-- Contract:
-- dead_letter_groups(p_type null, p_limit 50 (1-1000, else 22QB1)) -> {groups: [{fingerprint,
-- type, count, first_seen, last_seen, sample_error}]}: the letters not yet replayed, grouped
-- by (error_fingerprint, type), largest group first (then the most recent, then fingerprint,
-- type). Replayed letters are kept (they record the replay and hold its idempotency key)
-- but no longer count: a group disappears once all of it was replayed or deleted.
-- first_seen/last_seen are the group's oldest and newest failed_at; sample_error is the
-- newest letter's last_error (first 500 characters). p_type limits it to one job type.
-- It reads job_dead_letter_group_idx and error_fingerprint only, never error text, except
-- one index lookup per returned group for its sample.

create or replace function public.dead_letter_groups(p_type text default null, p_limit integer default 50)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('limit must be 1-1000, got %s', coalesce(p_limit::text, 'null')));
  end if;
  return (
    select pg_catalog.jsonb_build_object('groups', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'fingerprint', g.error_fingerprint, 'type', g.type, 'count', g.n,
             'first_seen', g.first_seen, 'last_seen', g.last_seen, 'sample_error', s.sample_error)
             order by g.n desc, g.last_seen desc, g.error_fingerprint, g.type), '[]'::jsonb))
      from (select d.error_fingerprint, d.type, pg_catalog.count(*) as n,
                   pg_catalog.min(d.failed_at) as first_seen, pg_catalog.max(d.failed_at) as last_seen
              from public.job_dead_letter d
             where d.replayed_job_id is null and (p_type is null or d.type = p_type)
             group by d.error_fingerprint, d.type
             order by n desc, last_seen desc, d.error_fingerprint, d.type
             limit p_limit) g
      cross join lateral (
        select pg_catalog.left(d.last_error, 500) as sample_error from public.job_dead_letter d
         where d.error_fingerprint = g.error_fingerprint and d.type = g.type and d.replayed_job_id is null
         order by d.failed_at desc limit 1) s
  );
end
$$;
comment on function public.dead_letter_groups(text, integer) is
  'Dead letters not yet replayed, grouped by (error_fingerprint, type), largest first: {groups: [{fingerprint, type, '
  'count, first_seen, last_seen, sample_error}]}. p_type limits to one type; p_limit 1-1000 (22QB1).';
revoke execute on function public.dead_letter_groups(text, integer) from public, anon, authenticated;
grant execute on function public.dead_letter_groups(text, integer) to service_role;

insert into queue.schema_migrations (version) values ('20260106000310') on conflict do nothing;
