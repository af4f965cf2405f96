-- The operator console's overview: one call answers the whole page.
--
-- Contract: console_overview(p_now default now) first records the minute stats
-- (queue.record_minute_stats, skipped when another call is recording), then returns
-- {generated_at,
--  types: one entry per job_types row (zeros included), by name:
--    {type, enabled, pending (all pending), ready (pending, run_at <= now), scheduled
--     (pending, run_at > now), running, completed_1h, failed_1h (failed attempts: retried
--     or dead-lettered), dead_lettered_1h, dead_letters (not yet replayed), oldest_ready_age_seconds
--     (0 when none), run_ms_p50, run_ms_p95 (completed in the last hour, from the histogram,
--     within ~20%; null when none)},
--  series: {minute: 60 points, quarter_hour: 96 points, oldest first, each
--    {at (the interval's start), completed, failed, ready}}; ready is the backlog sampled in
--    the interval (the largest sample of a quarter hour; null when nothing was sampled),
--  recent_runs: the 20 latest worker_runs {worker_id, started_at, finished_at, duration_ms
--    (null while running), claimed, completed, retried, dead_lettered},
--  stale_claims: up to 100 running jobs whose lock expired {id, type, locked_by, locked_until},
--    oldest lock first (cleanup_stuck_jobs returns them to pending),
--  dead_letters_1h}.
-- "The last hour" is the current minute and the 59 before it. Live counts read job_queue
-- through its pending/running partial indexes only; finished work comes from
-- job_minute_stats, so the cost does not grow with finished jobs.

create or replace function queue.console_type_counts(p_now timestamptz)
returns table (type text, pending bigint, ready bigint, scheduled bigint, running bigint,
               oldest_ready timestamptz)
language sql stable
set search_path = ''
as $$
  -- Two scans, one per partial index (job_queue_claim_idx, job_queue_running_idx).
  select x.type, pg_catalog.sum(x.pending)::bigint, pg_catalog.sum(x.ready)::bigint,
         pg_catalog.sum(x.scheduled)::bigint, pg_catalog.sum(x.running)::bigint, pg_catalog.min(x.oldest_ready)
    from (select j.type, pg_catalog.count(*) as pending,
                 pg_catalog.count(*) filter (where j.run_at <= p_now) as ready,
                 pg_catalog.count(*) filter (where j.run_at > p_now) as scheduled,
                 0 as running, pg_catalog.min(j.run_at) filter (where j.run_at <= p_now) as oldest_ready
            from public.job_queue j where j.status = 'pending' group by j.type
          union all
          select j.type, 0, 0, 0, pg_catalog.count(*), null
            from public.job_queue j where j.status = 'running' group by j.type) x
   group by x.type
$$;
comment on function queue.console_type_counts(timestamptz) is
  'Pending, ready, scheduled and running jobs per type (types with none are absent), and the oldest ready run_at.';
revoke execute on function queue.console_type_counts(timestamptz) from public;

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
    select q.at, coalesce(pg_catalog.sum(p.completed), 0) as completed, coalesce(pg_catalog.sum(p.failed), 0) as failed,
           pg_catalog.max(p.ready) as ready
      from pg_catalog.generate_series(
             date_trunc('hour', p_now) + pg_catalog.floor(extract(minute from p_now) / 15) * interval '15 minutes'
               - interval '15 minutes' * 95,
             date_trunc('hour', p_now) + pg_catalog.floor(extract(minute from p_now) / 15) * interval '15 minutes',
             interval '15 minutes') as q(at)
      left join per_minute p on p.minute >= q.at and p.minute < q.at + interval '15 minutes'
     group by q.at
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
    letters as (
      select d.type, pg_catalog.count(*) as n from public.job_dead_letter d
       where d.replayed_job_id is null group by d.type
    ),
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

insert into queue.schema_migrations (version) values ('20260106000120') on conflict do nothing;
