-- console_overview reads the dead letters waiting per type from queue.dead_letters_waiting
-- (20260106000170) instead of counting job_dead_letter.
--
-- Contract: as in 20260106000120_console_overview.sql; only where `dead_letters` comes from
-- changed, not its value.

create or replace function public.console_overview(p_now timestamptz default null)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_minute timestamptz := date_trunc('minute', v_now);
begin
  perform queue.record_minute_stats(p_now);
  return (
    with live as (select * from queue.console_type_counts(v_now)),
    hour as (
      select s.type, pg_catalog.sum(s.completed)::bigint as completed, pg_catalog.sum(s.failed)::bigint as failed,
             pg_catalog.sum(s.dead_lettered)::bigint as dead_lettered, queue.histograms_sum(pg_catalog.array_agg(s.run_ms_buckets)) as runs
        from public.job_minute_stats s
       where s.minute > v_minute - interval '1 hour' and s.minute <= v_minute
       group by s.type
    ),
    letters as (select w.type, w.waiting as n from queue.dead_letters_waiting w),
    types as (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'type', t.name, 'enabled', t.enabled,
               'pending', coalesce(l.pending, 0), 'ready', coalesce(l.ready, 0),
               'scheduled', coalesce(l.scheduled, 0), 'running', coalesce(l.running, 0),
               'completed_1h', coalesce(h.completed, 0), 'failed_1h', coalesce(h.failed, 0),
               'dead_lettered_1h', coalesce(h.dead_lettered, 0), 'dead_letters', coalesce(d.n, 0),
               'oldest_ready_age_seconds',
                 coalesce(greatest(extract(epoch from v_now - l.oldest_ready)::double precision, 0), 0),
               'run_ms_p50', pg_catalog.round(queue.run_ms_percentile(h.runs, 0.5)::numeric, 1),
               'run_ms_p95', pg_catalog.round(queue.run_ms_percentile(h.runs, 0.95)::numeric, 1))
             order by t.name) as list
        from public.job_types t
        left join live l on l.type = t.name
        left join hour h on h.type = t.name
        left join letters d on d.type = t.name
    ),
    runs as (
      select r.* from public.worker_runs r order by r.started_at desc limit 20
    ),
    stale as (
      select j.id, j.type, j.locked_by, j.locked_until from public.job_queue j
       where j.status = 'running' and j.locked_until < v_now
       order by j.locked_until limit 100
    )
    select pg_catalog.jsonb_build_object(
      'generated_at', v_now,
      'types', coalesce((select types.list from types), '[]'::jsonb),
      'series', queue.console_series(v_now),
      'recent_runs', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'worker_id', r.worker_id, 'started_at', r.started_at, 'finished_at', r.finished_at,
                        'duration_ms', pg_catalog.round((extract(epoch from r.finished_at - r.started_at) * 1000)::numeric, 1),
                        'claimed', r.claimed, 'completed', r.completed, 'retried', r.retried,
                        'dead_lettered', r.dead_lettered) order by r.started_at desc) from runs r), '[]'::jsonb),
      'stale_claims', coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s) order by s.locked_until)
                                  from stale s), '[]'::jsonb),
      'dead_letters_1h', (select pg_catalog.count(*) from public.job_dead_letter d
                           where d.failed_at > v_now - interval '1 hour' and d.failed_at <= v_now))
  );
end
$$;
comment on function public.console_overview(timestamptz) is
  'The operator console''s overview (records the minute stats first): per-type live counts (every job type), completed/failed/dead-lettered and p50/p95 run ms of the last hour, 60 minute and 96 quarter-hour points of completed/failed/ready, the 20 latest worker runs, up to 100 stale claims, dead letters in the last hour. p_now for tests.';
revoke execute on function public.console_overview(timestamptz) from public, anon, authenticated;
grant execute on function public.console_overview(timestamptz) to service_role;

insert into queue.schema_migrations (version) values ('20260106000180') on conflict do nothing;
