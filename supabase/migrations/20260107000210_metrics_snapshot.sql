-- metrics_snapshot(): everything ?action=metrics exposes, in one call, computed from the
-- database at scrape time (the function that serves it keeps no state).
--
-- Contract: metrics_snapshot(p_now default now) first records the minute stats and totals
-- (queue.record_minute_stats, skipped when another call is recording), then returns
-- {generated_at,
--  types: one entry per job_types row, by name:
--    {type, enabled, ready (pending, run_at <= now), scheduled (pending, run_at > now),
--     running, oldest_ready_age_seconds (0 when none), dead_letters (waiting: not replayed),
--     completed_total, failed_attempts_total (retried, lock expired or dead-lettered),
--     dead_lettered_total, run_seconds: {buckets: [[le, n], ...], sum, count}},
--  breakers: [{provider, state (closed | open | half_open), consecutive_failures,
--              open_until}] by provider,
--  last_invocation: {worker_id, started_at (epoch s), running} of the latest worker_runs row,
--    or null,
--  last_finished_invocation: {worker_id, started_at, finished_at (epoch s), duration_seconds,
--    claimed, completed, retried, dead_lettered, released, lease_lost}, or null,
--  health: health_warnings(p_now)}.
-- The *_total counts and run_seconds come from queue.job_totals (20260107000200): since
-- recording began, never decreasing. run_seconds.buckets are cumulative (n completed jobs
-- ran < le seconds) at le = 2^k ms, k = 0..20 (0.001 s to 1048.576 s): those bounds are
-- edges of queue.run_ms_bucket's half-power-of-two buckets, so each count is exact; count
-- is every completed job (the +Inf bucket), sum their run time in seconds.
-- Cost: the live counts read job_queue through its pending/running partial indexes, dead
-- letters waiting come from queue.dead_letters_waiting, the totals from one row per type,
-- worker_runs through worker_runs_started_at_idx; finished jobs and dead letters are never
-- counted, so the cost does not grow with them.

create or replace function queue.run_seconds_histogram(p_buckets bigint[], p_sum double precision)
returns jsonb
language sql immutable parallel safe
set search_path = ''
as $$
  with cumulative as (
    select u.i - 1 as bucket, pg_catalog.sum(u.n) over (order by u.i) as n
      from pg_catalog.unnest(coalesce(p_buckets, pg_catalog.array_fill(0::bigint, array[56])))
           with ordinality as u(n, i)
  )
  select pg_catalog.jsonb_build_object(
    -- Bucket 2k holds [2^((2k-1)/2), 2^k) ms, so through it is everything under 2^k ms.
    'buckets', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                         ((1::bigint << (c.bucket / 2)::integer) / 1000.0)::double precision, c.n) order by c.bucket)
                  from cumulative c where c.bucket % 2 = 0 and c.bucket <= 40),
    'sum', coalesce(p_sum, 0),
    'count', (select coalesce(pg_catalog.max(c.n), 0) from cumulative c))
$$;
comment on function queue.run_seconds_histogram(bigint[], double precision) is
  'A run_ms_buckets histogram as Prometheus buckets: {buckets: [[le seconds, cumulative count]] at le = 2^k ms (k 0..20), sum, count}.';
revoke execute on function queue.run_seconds_histogram(bigint[], double precision) from public;

create or replace function public.metrics_snapshot(p_now timestamptz default null)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
begin
  perform queue.record_minute_stats(p_now);
  return (
    with live as (select * from queue.console_type_counts(v_now)),
    types as (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'type', t.name, 'enabled', t.enabled,
               'ready', coalesce(l.ready, 0), 'scheduled', coalesce(l.scheduled, 0),
               'running', coalesce(l.running, 0),
               'oldest_ready_age_seconds',
                 coalesce(greatest(extract(epoch from v_now - l.oldest_ready)::double precision, 0), 0),
               'dead_letters', coalesce(w.waiting, 0),
               'completed_total', coalesce(x.completed, 0), 'failed_attempts_total', coalesce(x.failed, 0),
               'dead_lettered_total', coalesce(x.dead_lettered, 0),
               'run_seconds', queue.run_seconds_histogram(x.run_ms_buckets, x.run_seconds_sum))
             order by t.name) as list
        from public.job_types t
        left join live l on l.type = t.name
        left join queue.dead_letters_waiting w on w.type = t.name
        left join queue.job_totals x on x.type = t.name
    ),
    last_run as (select r.* from public.worker_runs r order by r.started_at desc limit 1),
    last_finished as (
      select r.* from public.worker_runs r where r.finished_at is not null order by r.started_at desc limit 1
    )
    select pg_catalog.jsonb_build_object(
      'generated_at', v_now,
      'types', coalesce((select types.list from types), '[]'::jsonb),
      'breakers', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                     'provider', b.provider, 'state', b.state, 'consecutive_failures', b.consecutive_failures,
                     'open_until', b.open_until) order by b.provider)
                     from public.circuit_breakers b), '[]'::jsonb),
      'last_invocation', (select pg_catalog.jsonb_build_object(
                            'worker_id', r.worker_id, 'started_at', extract(epoch from r.started_at),
                            'running', r.finished_at is null) from last_run r),
      'last_finished_invocation', (select pg_catalog.jsonb_build_object(
                            'worker_id', r.worker_id, 'started_at', extract(epoch from r.started_at),
                            'finished_at', extract(epoch from r.finished_at),
                            'duration_seconds', greatest(extract(epoch from r.finished_at - r.started_at), 0),
                            'claimed', r.claimed, 'completed', r.completed, 'retried', r.retried,
                            'dead_lettered', r.dead_lettered, 'released', r.released, 'lease_lost', r.lease_lost)
                            from last_finished r),
      'health', public.health_warnings(v_now))
  );
end
$$;
comment on function public.metrics_snapshot(timestamptz) is
  'Everything ?action=metrics exposes (records the minute stats first): per type live counts, oldest ready age, dead letters waiting, completed/failed/dead-lettered totals and the run-time histogram; circuit breakers; the last worker invocations; health_warnings(). p_now for tests.';
revoke execute on function public.metrics_snapshot(timestamptz) from public, anon, authenticated;
grant execute on function public.metrics_snapshot(timestamptz) to service_role;

insert into queue.schema_migrations (version) values ('20260107000210') on conflict do nothing;
