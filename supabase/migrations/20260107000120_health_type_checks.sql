-- Health checks per job type, against the type's own thresholds (job_types.max_*).
--
-- Contract: queue.health_type_checks(p_now) returns a JSON array with, for every job type,
-- - backlog_age: seconds the oldest ready job has waited (0 when none), vs max_backlog_age_seconds;
--   a paused type (enabled = false) is always ok: its jobs wait on purpose;
-- - stuck_jobs: running jobs whose lease expired more than health_stuck_grace_seconds before
--   p_now (cleanup_stuck_jobs, run every minute, should have given them back), vs max_stuck_jobs;
-- - dead_letter_spike: jobs dead-lettered in the hour before p_now, vs max_dead_letters_per_hour.
-- Reads the pending and running rows through their partial indexes and the last hour of
-- job_dead_letter through its failed_at index: finished history costs nothing.

create or replace function queue.health_type_checks(p_now timestamptz) returns jsonb
language sql stable
set search_path = ''
as $$
  with counts as (select * from queue.console_type_counts(p_now)),
  stuck as (
    select j.type, pg_catalog.count(*) as n
      from public.job_queue j
     where j.status = 'running'
       and j.locked_until < p_now - pg_catalog.make_interval(secs => queue.health_setting('health_stuck_grace_seconds', 120))
     group by j.type
  ),
  dead as (
    select d.type, pg_catalog.count(*) as n
      from public.job_dead_letter d
     where d.failed_at > p_now - interval '1 hour' and d.failed_at <= p_now
     group by d.type
  ),
  checks as (
    select t.name, 1 as ord,
           queue.health_check('backlog_age', pg_catalog.jsonb_build_object('type', t.name),
             coalesce(greatest(extract(epoch from p_now - c.oldest_ready), 0), 0)::numeric(14, 3),
             t.max_backlog_age_seconds, 'seconds',
             case when t.enabled
                  then 'ready jobs wait longer than job_types.max_backlog_age_seconds: is the scheduler calling the worker, is the type''s concurrency_limit too low, is a breaker open?'
                  else 'the type is paused (job_types.enabled = false): its jobs wait on purpose' end,
             pg_catalog.jsonb_build_object('ready', coalesce(c.ready, 0), 'enabled', t.enabled))
           || case when t.enabled then '{}'::jsonb else '{"severity": "ok"}'::jsonb end as c
      from public.job_types t left join counts c on c.type = t.name
    union all
    select t.name, 2,
           queue.health_check('stuck_jobs', pg_catalog.jsonb_build_object('type', t.name), coalesce(s.n, 0),
             t.max_stuck_jobs, 'jobs',
             'running jobs hold leases that expired long ago: is pg_cron running cleanup_stuck_jobs (or the resident worker''s maintenance)?')
      from public.job_types t left join stuck s on s.type = t.name
    union all
    select t.name, 3,
           queue.health_check('dead_letter_spike', pg_catalog.jsonb_build_object('type', t.name), coalesce(d.n, 0),
             t.max_dead_letters_per_hour, 'dead letters in the last hour',
             'many jobs of this type failed for good: `queue-worker dlq groups` shows their errors; replay them once the cause is fixed')
      from public.job_types t left join dead d on d.type = t.name
  )
  select coalesce(pg_catalog.jsonb_agg(x.c order by x.ord, x.name), '[]'::jsonb) from checks x
$$;
comment on function queue.health_type_checks(timestamptz) is
  'backlog_age, stuck_jobs and dead_letter_spike for every job type, against job_types.max_backlog_age_seconds, max_stuck_jobs, max_dead_letters_per_hour.';
revoke execute on function queue.health_type_checks(timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260107000120') on conflict do nothing;
