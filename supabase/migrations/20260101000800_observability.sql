-- Observability: worker invocations, queue_stats() and queue_health().

create table if not exists public.worker_runs (
  worker_id   text primary key,
  started_at  timestamptz not null default now(),
  finished_at timestamptz,
  claimed     integer not null default 0,
  completed   integer not null default 0,
  retried     integer not null default 0,
  dead_lettered integer not null default 0,
  released    integer not null default 0,
  lease_lost  integer not null default 0,
  meta        jsonb not null default '{}'::jsonb
);
comment on table public.worker_runs is 'One row per worker invocation: when it ran and what it did.';
create index if not exists worker_runs_started_at_idx on public.worker_runs (started_at desc);
alter table public.worker_runs enable row level security;
revoke all on public.worker_runs from anon, authenticated;
grant select, insert, update, delete on public.worker_runs to service_role;

-- Record that an invocation started. Idempotent per worker id.
create or replace function public.worker_run_start(p_worker_id text, p_meta jsonb default '{}'::jsonb) returns void
language sql volatile security definer
set search_path = ''
as $$
  insert into public.worker_runs (worker_id, meta) values (p_worker_id, coalesce(p_meta, '{}'::jsonb))
  on conflict (worker_id) do nothing
$$;
comment on function public.worker_run_start(text, jsonb) is 'Record the start of a worker invocation.';

-- Record that an invocation finished, with its counts:
-- {"claimed", "completed", "retried", "dead_lettered", "released", "lease_lost"}.
create or replace function public.worker_run_finish(p_worker_id text, p_counts jsonb default '{}'::jsonb) returns void
language sql volatile security definer
set search_path = ''
as $$
  insert into public.worker_runs (worker_id, finished_at, claimed, completed, retried, dead_lettered, released, lease_lost)
  values (p_worker_id, pg_catalog.clock_timestamp(),
          coalesce((p_counts ->> 'claimed')::integer, 0), coalesce((p_counts ->> 'completed')::integer, 0),
          coalesce((p_counts ->> 'retried')::integer, 0), coalesce((p_counts ->> 'dead_lettered')::integer, 0),
          coalesce((p_counts ->> 'released')::integer, 0), coalesce((p_counts ->> 'lease_lost')::integer, 0))
  on conflict (worker_id) do update
     set finished_at = excluded.finished_at, claimed = excluded.claimed, completed = excluded.completed,
         retried = excluded.retried, dead_lettered = excluded.dead_lettered,
         released = excluded.released, lease_lost = excluded.lease_lost
$$;
comment on function public.worker_run_finish(text, jsonb) is 'Record the end of a worker invocation and its counts.';

-- Seconds the oldest ready pending job has waited (0 when none).
create or replace function queue.oldest_pending_age_seconds(p_now timestamptz) returns double precision
language sql stable
set search_path = ''
as $$
  select coalesce(extract(epoch from p_now - pg_catalog.min(j.run_at))::double precision, 0)
    from public.job_queue j where j.status = 'pending' and j.run_at <= p_now
$$;

-- Counts and timings for dashboards and `?action=stats`. Shape:
-- {generated_at, by_status{}, by_type{type{status:n}}, by_priority{}, dead_letter_count,
--  oldest_pending_age_seconds, completed_last_5m, completed_last_1h, failed_last_5m,
--  failed_last_1h, run_time_p50_ms, run_time_p95_ms}
create or replace function public.queue_stats() returns jsonb
language sql stable security definer
set search_path = ''
as $$
  with now_ as (select pg_catalog.clock_timestamp() as t),
  counts as (
    select j.type, j.status::text as status, j.priority::text as priority, pg_catalog.count(*) as n
      from public.job_queue j group by 1, 2, 3
  ),
  -- Attempts that ended in the last hour. A release (running -> pending with the
  -- caller's reason) gave the attempt back, so it is neither completed nor failed.
  recent as (
    select h.to_status, h.at from public.job_status_history h, now_
     where h.at > now_.t - interval '1 hour' and h.from_status = 'running'
       and (h.to_status in ('completed', 'dead_letter')
            or (h.to_status = 'pending' and h.note in ('retry scheduled', 'lock expired')))
  ),
  runs as (
    select extract(epoch from j.finished_at - j.started_at) * 1000 as ms
      from public.job_queue j, now_
     where j.status = 'completed' and j.finished_at > now_.t - interval '1 hour'
  )
  select pg_catalog.jsonb_build_object(
    'generated_at', (select t from now_),
    'by_status', coalesce((select pg_catalog.jsonb_object_agg(s.status, s.n) from
                   (select c.status, sum(c.n) as n from counts c group by 1) s), '{}'::jsonb),
    'by_type', coalesce((select pg_catalog.jsonb_object_agg(s.type, s.statuses) from
                   (select c.type, pg_catalog.jsonb_object_agg(c.status, c.n) as statuses
                      from (select type, status, sum(n) as n from counts group by 1, 2) c group by 1) s), '{}'::jsonb),
    'by_priority', coalesce((select pg_catalog.jsonb_object_agg(s.priority, s.n) from
                   (select c.priority, sum(c.n) as n from counts c where c.status in ('pending', 'running') group by 1) s), '{}'::jsonb),
    'dead_letter_count', (select pg_catalog.count(*) from public.job_dead_letter),
    'oldest_pending_age_seconds', queue.oldest_pending_age_seconds((select t from now_)),
    'completed_last_5m', (select pg_catalog.count(*) from recent r, now_ where r.to_status = 'completed' and r.at > now_.t - interval '5 minutes'),
    'completed_last_1h', (select pg_catalog.count(*) from recent r where r.to_status = 'completed'),
    'failed_last_5m', (select pg_catalog.count(*) from recent r, now_ where r.to_status in ('pending', 'dead_letter') and r.at > now_.t - interval '5 minutes'),
    'failed_last_1h', (select pg_catalog.count(*) from recent r where r.to_status in ('pending', 'dead_letter')),
    'run_time_p50_ms', (select pg_catalog.percentile_cont(0.5) within group (order by ms) from runs),
    'run_time_p95_ms', (select pg_catalog.percentile_cont(0.95) within group (order by ms) from runs)
  )
$$;
comment on function public.queue_stats() is
  'Counts by status, type and priority; dead letters; oldest pending age; completed/failed in the last 5 min and hour; p50/p95 run time (last hour).';

-- The facts a health check needs. Shape:
-- {stuck_jobs, oldest_pending_age_seconds, dead_letters_last_1h, last_worker_run{worker_id, started_at, finished_at}|null,
--  seconds_since_last_worker_run, pending_ready}
create or replace function public.queue_health() returns jsonb
language sql stable security definer
set search_path = ''
as $$
  with now_ as (select pg_catalog.clock_timestamp() as t),
  last_run as (select r.* from public.worker_runs r order by r.started_at desc limit 1)
  select pg_catalog.jsonb_build_object(
    'checked_at', (select t from now_),
    'stuck_jobs', (select pg_catalog.count(*) from public.job_queue j, now_
                    where j.status = 'running' and j.locked_until < now_.t),
    'pending_ready', (select pg_catalog.count(*) from public.job_queue j, now_
                       where j.status = 'pending' and j.run_at <= now_.t),
    'oldest_pending_age_seconds', queue.oldest_pending_age_seconds((select t from now_)),
    'dead_letters_last_1h', (select pg_catalog.count(*) from public.job_dead_letter d, now_
                              where d.failed_at > now_.t - interval '1 hour'),
    'last_worker_run', (select pg_catalog.jsonb_build_object('worker_id', l.worker_id, 'started_at', l.started_at,
                                                               'finished_at', l.finished_at, 'claimed', l.claimed,
                                                               'completed', l.completed) from last_run l),
    'seconds_since_last_worker_run', (select extract(epoch from now_.t - l.started_at)::double precision
                                        from last_run l, now_)
  )
$$;
comment on function public.queue_health() is
  'Stuck jobs, ready backlog, oldest pending age, dead letters in the last hour and the last worker run.';

-- The migration versions this database has run, for health checks.
create or replace function public.queue_schema_versions() returns text[]
language sql stable security definer
set search_path = ''
as $$ select coalesce(pg_catalog.array_agg(m.version order by m.version), '{}') from queue.schema_migrations m $$;
comment on function public.queue_schema_versions() is 'Versions of the migration files this database has run.';

insert into queue.schema_migrations (version) values ('20260101000800') on conflict do nothing;
