-- Per-minute statistics for the operator console, so its overview never scans job_queue's
-- finished rows or the dead letters at request time.
--
-- Contract:
-- public.job_minute_stats holds, per (minute, type): completed jobs, failed attempts (retried
-- or dead-lettered), dead letters, the ready backlog sampled in that minute (null when no
-- sample was taken) and a histogram of the completed jobs' run times (run_ms_buckets, a
-- fixed log-scale histogram, see queue.run_ms_bucket). Rows of the last 25 hours are
-- minutes; older rows hold a whole hour (minute = the hour's start, ready = its largest
-- sample) and are deleted after 31 days.
--
-- queue.record_minute_stats(p_now, p_settle_margin) adds what finished since the last call
-- (up to p_now - p_settle_margin, so a settle that committed a moment after its timestamp is
-- still counted) and samples the ready backlog at p_now. Each finished job, retry and dead
-- letter is counted exactly once: the call takes the watermark row FOR UPDATE SKIP LOCKED,
-- so a concurrent call returns null at once instead of counting the same rows again. The
-- first call counts the last day. It reads job_queue through job_queue_finished_idx, the
-- retries through job_status_events_at_idx and the dead letters through
-- job_dead_letter_failed_at_idx: its cost is what finished since the last call, nothing per
-- job on the claim/settle path. Called every minute by cleanup_stuck_jobs (pg_cron, the
-- local scheduler and the resident worker run it) and by console_overview.
-- Deleting or replaying dead letters later does not change the counts: they record events.

create table if not exists public.job_minute_stats (
  minute         timestamptz not null,
  type           text not null,
  completed      integer not null default 0 check (completed >= 0),
  failed         integer not null default 0 check (failed >= 0),
  dead_lettered  integer not null default 0 check (dead_lettered >= 0),
  ready          integer check (ready >= 0),
  run_ms_buckets integer[] not null default array_fill(0, array[56])
                 check (pg_catalog.cardinality(run_ms_buckets) = 56),
  primary key (minute, type)
);
comment on table public.job_minute_stats is
  'Per minute (older than 25 h: per hour) and type: completed, failed attempts, dead letters, sampled ready backlog, run-time histogram. Filled by queue.record_minute_stats.';
comment on column public.job_minute_stats.run_ms_buckets is
  'Completed jobs by run time (finished_at - started_at): element b+1 counts bucket b of queue.run_ms_bucket (0: under 1 ms; b >= 1: [2^((b-1)/2), 2^(b/2)) ms).';
alter table public.job_minute_stats enable row level security;
revoke all on public.job_minute_stats from public, anon, authenticated;
grant select on public.job_minute_stats to service_role;

-- The watermark: everything finished at or before recorded_through has been counted.
create table if not exists queue.minute_stats_watermark (
  singleton        boolean primary key default true check (singleton),
  recorded_through timestamptz
);
insert into queue.minute_stats_watermark (singleton) values (true) on conflict do nothing;

create or replace function queue.run_ms_bucket(p_ms double precision)
returns integer
language sql immutable parallel safe
set search_path = ''
as $$
  select case when p_ms is null or p_ms < 1 then 0
              else least(55, pg_catalog.floor(2 * pg_catalog.ln(p_ms) / pg_catalog.ln(2) + 1e-9)::integer + 1) end
$$;
comment on function queue.run_ms_bucket(double precision) is
  'Histogram bucket (0-55) of a run time in ms: 0 under 1 ms, b >= 1 for [2^((b-1)/2), 2^(b/2)) ms (ratio sqrt 2), 55 from 2^27 ms up.';

create or replace function queue.run_ms_percentile(p_buckets integer[], p_fraction double precision)
returns double precision
language sql immutable parallel safe
set search_path = ''
as $$
  -- The bucket holding the rank, interpolated linearly inside it; null when it is empty.
  with b as (
    select i - 1 as bucket, n,
           pg_catalog.sum(n) over (order by i) - n as before,
           pg_catalog.sum(n) over () as total
      from pg_catalog.unnest(p_buckets) with ordinality as u(n, i)
  )
  select case when b.bucket = 0 then 1.0 * (p_fraction * b.total - b.before) / b.n
              else pg_catalog.power(2, (b.bucket - 1) / 2.0)
                   + (pg_catalog.power(2, b.bucket / 2.0) - pg_catalog.power(2, (b.bucket - 1) / 2.0))
                     * (p_fraction * b.total - b.before) / b.n end
    from b
   where b.n > 0 and b.before + b.n >= p_fraction * b.total
   order by b.bucket
   limit 1
$$;
comment on function queue.run_ms_percentile(integer[], double precision) is
  'Estimated run time in ms at p_fraction (0-1) of a run_ms_buckets histogram (within ~20%); null when empty.';

create or replace function queue.int_arrays_add(p_a integer[], p_b integer[])
returns integer[]
language sql immutable parallel safe
set search_path = ''
as $$
  select pg_catalog.array_agg(coalesce(x.a, 0) + coalesce(x.b, 0) order by x.i)
    from rows from (pg_catalog.unnest(p_a), pg_catalog.unnest(p_b)) with ordinality as x(a, b, i)
$$;
comment on function queue.int_arrays_add(integer[], integer[]) is 'Element-wise sum of two histograms.';

create or replace function queue.histograms_sum(p_histograms integer[])
returns integer[]
language sql immutable parallel safe
set search_path = ''
as $$
  -- array_agg of histograms is one 56-wide two-dimensional array; unnest flattens it.
  select pg_catalog.array_agg(x.n order by x.b)
    from (select (u.i - 1) % 56 as b, pg_catalog.sum(u.n)::integer as n
            from pg_catalog.unnest(p_histograms) with ordinality as u(n, i) group by 1) x
$$;
comment on function queue.histograms_sum(integer[]) is
  'Element-wise sum of run_ms_buckets histograms given as array_agg(run_ms_buckets); null when none.';

revoke execute on function queue.run_ms_bucket(double precision) from public;
revoke execute on function queue.histograms_sum(integer[]) from public;
revoke execute on function queue.run_ms_percentile(integer[], double precision) from public;
revoke execute on function queue.int_arrays_add(integer[], integer[]) from public;

create or replace function queue.add_minute_stats(p_from timestamptz, p_through timestamptz)
returns integer
language sql volatile
set search_path = ''
as $$
  with done as (
    select date_trunc('minute', j.finished_at) as minute, j.type,
           queue.run_ms_bucket(extract(epoch from j.finished_at - j.started_at)::double precision * 1000) as bucket
      from public.job_queue j
     where j.finished_at > p_from and j.finished_at <= p_through and j.status = 'completed'
  ),
  completed as (
    select h.minute, h.type, pg_catalog.sum(h.n)::integer as n,
           array(select coalesce((pg_catalog.jsonb_object_agg(h.bucket, h.n) ->> b::text)::integer, 0)
                   from pg_catalog.generate_series(0, 55) b) as buckets
      from (select d.minute, d.type, d.bucket, pg_catalog.count(*) as n from done d group by 1, 2, 3) h
     group by 1, 2
  ),
  retried as (
    select date_trunc('minute', e.at) as minute,
           coalesce((select j.type from public.job_queue j where j.id = e.job_id),
                    (select d.type from public.job_dead_letter d where d.job_id = e.job_id limit 1)) as type,
           pg_catalog.count(*)::integer as n
      from public.job_status_events e
     where e.at > p_from and e.at <= p_through and e.from_status = 'running' and e.to_status = 'pending'
       and e.note in ('retry scheduled', 'lock expired')
     group by 1, 2
  ),
  dead as (
    select date_trunc('minute', d.failed_at) as minute, d.type, pg_catalog.count(*)::integer as n
      from public.job_dead_letter d
     where d.failed_at > p_from and d.failed_at <= p_through
     group by 1, 2
  ),
  keys as (
    select minute, type from completed union select minute, type from retried where type is not null
    union select minute, type from dead
  ),
  added as (
    insert into public.job_minute_stats as s (minute, type, completed, failed, dead_lettered, run_ms_buckets)
    select k.minute, k.type, coalesce(c.n, 0), coalesce(r.n, 0) + coalesce(d.n, 0), coalesce(d.n, 0),
           coalesce(c.buckets, pg_catalog.array_fill(0, array[56]))
      from keys k
      left join completed c on c.minute = k.minute and c.type = k.type
      left join retried r on r.minute = k.minute and r.type = k.type
      left join dead d on d.minute = k.minute and d.type = k.type
    on conflict (minute, type) do update
       set completed = s.completed + excluded.completed, failed = s.failed + excluded.failed,
           dead_lettered = s.dead_lettered + excluded.dead_lettered,
           run_ms_buckets = queue.int_arrays_add(s.run_ms_buckets, excluded.run_ms_buckets)
    returning 1
  )
  select pg_catalog.count(*)::integer from added
$$;
comment on function queue.add_minute_stats(timestamptz, timestamptz) is
  'Add to job_minute_stats what completed, was retried or dead-lettered in (p_from, p_through]; returns the rows touched. Callers hold the watermark.';

create or replace function queue.coarsen_minute_stats(p_before timestamptz)
returns void
language sql volatile
set search_path = ''
as $$
  -- Hours that still have minute rows become one row each (a coarsened hour has only
  -- its :00 row, so doing it again changes nothing).
  with hours as (
    select distinct date_trunc('hour', s.minute) as hour from public.job_minute_stats s
     where s.minute < date_trunc('hour', p_before) and s.minute <> date_trunc('hour', s.minute)
  ),
  gone as (
    delete from public.job_minute_stats s using hours h
     where s.minute >= h.hour and s.minute < h.hour + interval '1 hour'
    returning s.*
  )
  insert into public.job_minute_stats (minute, type, completed, failed, dead_lettered, ready, run_ms_buckets)
  select date_trunc('hour', g.minute), g.type, pg_catalog.sum(g.completed), pg_catalog.sum(g.failed),
         pg_catalog.sum(g.dead_lettered), pg_catalog.max(g.ready),
         queue.histograms_sum(pg_catalog.array_agg(g.run_ms_buckets))
    from gone g
   group by 1, 2;
  delete from public.job_minute_stats s where s.minute < p_before - interval '30 days';
$$;
comment on function queue.coarsen_minute_stats(timestamptz) is
  'Merge job_minute_stats minute rows of the hours before p_before into hour rows; delete rows 30 days older than p_before.';

create or replace function queue.record_minute_stats(p_now timestamptz default null,
                                                     p_settle_margin interval default interval '5 seconds')
returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_through timestamptz := v_now - coalesce(p_settle_margin, interval '0');
  v_from timestamptz;
  v_rows integer := 0;
begin
  select w.recorded_through into v_from from queue.minute_stats_watermark w for update skip locked;
  if not found then
    return null;  -- another call is recording right now
  end if;
  v_from := coalesce(v_from, v_through - interval '1 day');
  if v_through > v_from then
    v_rows := queue.add_minute_stats(v_from, v_through);
    update queue.minute_stats_watermark set recorded_through = v_through;
  end if;
  insert into public.job_minute_stats as s (minute, type, ready)
  select date_trunc('minute', v_now), t.name, coalesce(r.n, 0)
    from public.job_types t
    left join (select j.type, pg_catalog.count(*)::integer as n from public.job_queue j
                where j.status = 'pending' and j.run_at <= v_now group by 1) r on r.type = t.name
  on conflict (minute, type) do update set ready = excluded.ready;
  -- Once an hour is more than 25 h old (the console's day of quarter-hours needs minutes).
  if date_trunc('hour', v_through - interval '25 hours') > date_trunc('hour', v_from - interval '25 hours') then
    perform queue.coarsen_minute_stats(v_through - interval '25 hours');
  end if;
  return v_rows;
end
$$;
comment on function queue.record_minute_stats(timestamptz, interval) is
  'Add to job_minute_stats what finished since the last call (up to p_now - p_settle_margin, default 5 s) and sample the ready backlog at p_now; coarsen and purge old rows. Counts each row once: a concurrent call returns null without counting. Returns the rows added to.';
revoke execute on function queue.record_minute_stats(timestamptz, interval) from public;

revoke execute on function queue.add_minute_stats(timestamptz, timestamptz) from public;
revoke execute on function queue.coarsen_minute_stats(timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260106000100') on conflict do nothing;
