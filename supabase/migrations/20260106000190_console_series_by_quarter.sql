-- The overview's quarter-hour series groups the day's minutes by their quarter (one pass)
-- instead of joining each quarter to a range of minutes.
--
-- Contract: as in 20260106000120_console_overview.sql (queue.console_series): 60 one-minute
-- and 96 quarter-hour points up to p_now, oldest first, {at, completed, failed, ready}.

create or replace function queue.console_series(p_now timestamptz)
returns jsonb
language sql stable
set search_path = ''
as $$
  with per_minute as (
    select s.minute, pg_catalog.sum(s.completed)::bigint as completed, pg_catalog.sum(s.failed)::bigint as failed,
           pg_catalog.sum(s.ready)::bigint as ready
      from public.job_minute_stats s
     where s.minute > p_now - interval '1 day' - interval '15 minutes' and s.minute <= p_now
     group by s.minute
  ),
  minutes as (
    select m.at, coalesce(p.completed, 0) as completed, coalesce(p.failed, 0) as failed, p.ready
      from pg_catalog.generate_series(date_trunc('minute', p_now) - interval '59 minutes',
                                      date_trunc('minute', p_now), interval '1 minute') as m(at)
      left join per_minute p on p.minute = m.at
  ),
  quarters as (
    select q.at, coalesce(p.completed, 0) as completed, coalesce(p.failed, 0) as failed, p.ready
      from pg_catalog.generate_series(
             date_trunc('hour', p_now) + pg_catalog.floor(extract(minute from p_now) / 15) * interval '15 minutes'
               - interval '15 minutes' * 95,
             date_trunc('hour', p_now) + pg_catalog.floor(extract(minute from p_now) / 15) * interval '15 minutes',
             interval '15 minutes') as q(at)
      left join (select date_trunc('hour', m.minute)
                          + pg_catalog.floor(extract(minute from m.minute) / 15) * interval '15 minutes' as at,
                        pg_catalog.sum(m.completed) as completed, pg_catalog.sum(m.failed) as failed,
                        pg_catalog.max(m.ready) as ready
                   from per_minute m group by 1) p on p.at = q.at
  )
  select pg_catalog.jsonb_build_object(
    'minute', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'at', m.at, 'completed', m.completed, 'failed', m.failed, 'ready', m.ready) order by m.at)
                 from minutes m),
    'quarter_hour', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'at', q.at, 'completed', q.completed, 'failed', q.failed, 'ready', q.ready) order by q.at)
                       from quarters q))
$$;
comment on function queue.console_series(timestamptz) is
  'The overview''s charts: 60 one-minute and 96 quarter-hour points up to p_now, from job_minute_stats.';
revoke execute on function queue.console_series(timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260106000190') on conflict do nothing;
