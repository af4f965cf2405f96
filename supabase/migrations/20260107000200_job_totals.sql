-- Running totals per job type, for the Prometheus counters of ?action=metrics: completed
-- jobs, failed attempts, dead letters and a run-time histogram that only ever grow.
--
-- Why a table: job_minute_stats forgets (minutes become hours after 25 h, rows go after
-- 31 days), so a sum over it drops every hour, and Prometheus reads each drop as a counter
-- reset (a spike of the whole total in rate()). Summing it is also ~20k rows per scrape.
-- queue.job_totals is added to by the same call that adds to job_minute_stats, from the same
-- rows, so the two agree and each finished job is counted once (the watermark of
-- queue.record_minute_stats); nothing is added on the claim/settle path.
--
-- Contract: queue.job_totals holds one row per type that has finished anything since this
-- migration (or since the database was made): completed jobs, failed attempts (retried, lock
-- expired or dead-lettered: job_minute_stats.failed), dead letters, completed jobs by run
-- time in queue.run_ms_bucket's 56 buckets (bigint) and the sum of their run times in
-- seconds. The totals never decrease; deleting jobs, dead letters or stats rows leaves them
-- as they are. Only replacing this table resets them.
-- queue.add_minute_stats(p_from, p_through) is as in 20260106000100_job_minute_stats.sql
-- and also adds the same rows to queue.job_totals.

create table if not exists queue.job_totals (
  type            text primary key,
  completed       bigint not null default 0 check (completed >= 0),
  failed          bigint not null default 0 check (failed >= 0),
  dead_lettered   bigint not null default 0 check (dead_lettered >= 0),
  run_ms_buckets  bigint[] not null default array_fill(0::bigint, array[56])
                  check (pg_catalog.cardinality(run_ms_buckets) = 56),
  run_seconds_sum double precision not null default 0 check (run_seconds_sum >= 0)
);
comment on table queue.job_totals is
  'Per type, since recording began: completed, failed attempts, dead letters, run-time histogram (queue.run_ms_bucket buckets) and run-time sum (s). Only grows; added to by queue.add_minute_stats.';
revoke all on queue.job_totals from public;

create or replace function queue.histogram_add(p_total bigint[], p_add bigint[])
returns bigint[]
language sql immutable parallel safe
set search_path = ''
as $$
  select pg_catalog.array_agg(coalesce(x.a, 0) + coalesce(x.b, 0) order by x.i)
    from rows from (pg_catalog.unnest(p_total), pg_catalog.unnest(p_add)) with ordinality as x(a, b, i)
$$;
comment on function queue.histogram_add(bigint[], bigint[]) is 'Element-wise sum of two bigint histograms.';
revoke execute on function queue.histogram_add(bigint[], bigint[]) from public;

create or replace function queue.add_minute_stats(p_from timestamptz, p_through timestamptz)
returns integer
language sql volatile
set search_path = ''
as $$
  with done as (
    select date_trunc('minute', j.finished_at) as minute, j.type,
           extract(epoch from j.finished_at - j.started_at)::double precision as seconds
      from public.job_queue j
     where j.finished_at > p_from and j.finished_at <= p_through and j.status = 'completed'
  ),
  completed as (
    select h.minute, h.type, pg_catalog.sum(h.n)::integer as n,
           array(select coalesce((pg_catalog.jsonb_object_agg(h.bucket, h.n) ->> b::text)::integer, 0)
                   from pg_catalog.generate_series(0, 55) b) as buckets
      from (select d.minute, d.type, queue.run_ms_bucket(d.seconds * 1000) as bucket, pg_catalog.count(*) as n
              from done d group by 1, 2, 3) h
     group by 1, 2
  ),
  run_sums as (
    select d.type, pg_catalog.sum(greatest(d.seconds, 0)) as seconds from done d group by 1
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
  rows_ as (
    select k.minute, k.type, coalesce(c.n, 0) as completed, coalesce(r.n, 0) + coalesce(d.n, 0) as failed,
           coalesce(d.n, 0) as dead_lettered, coalesce(c.buckets, pg_catalog.array_fill(0, array[56])) as buckets
      from keys k
      left join completed c on c.minute = k.minute and c.type = k.type
      left join retried r on r.minute = k.minute and r.type = k.type
      left join dead d on d.minute = k.minute and d.type = k.type
  ),
  added as (
    insert into public.job_minute_stats as s (minute, type, completed, failed, dead_lettered, run_ms_buckets)
    select x.minute, x.type, x.completed, x.failed, x.dead_lettered, x.buckets from rows_ x
    on conflict (minute, type) do update
       set completed = s.completed + excluded.completed, failed = s.failed + excluded.failed,
           dead_lettered = s.dead_lettered + excluded.dead_lettered,
           run_ms_buckets = queue.int_arrays_add(s.run_ms_buckets, excluded.run_ms_buckets)
    returning 1
  ),
  totals as (
    insert into queue.job_totals as t (type, completed, failed, dead_lettered, run_ms_buckets, run_seconds_sum)
    select x.type, pg_catalog.sum(x.completed), pg_catalog.sum(x.failed), pg_catalog.sum(x.dead_lettered),
           queue.histograms_sum(pg_catalog.array_agg(x.buckets))::bigint[],
           coalesce(pg_catalog.max(rs.seconds), 0)
      from rows_ x left join run_sums rs on rs.type = x.type
     group by x.type
     order by x.type
    on conflict (type) do update
       set completed = t.completed + excluded.completed, failed = t.failed + excluded.failed,
           dead_lettered = t.dead_lettered + excluded.dead_lettered,
           run_ms_buckets = queue.histogram_add(t.run_ms_buckets, excluded.run_ms_buckets),
           run_seconds_sum = t.run_seconds_sum + excluded.run_seconds_sum
  )
  select pg_catalog.count(*)::integer from added
$$;
comment on function queue.add_minute_stats(timestamptz, timestamptz) is
  'Add to job_minute_stats and queue.job_totals what completed, was retried or dead-lettered in (p_from, p_through]; returns the job_minute_stats rows touched. Callers hold the watermark.';
revoke execute on function queue.add_minute_stats(timestamptz, timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260107000200') on conflict do nothing;
