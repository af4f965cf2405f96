-- health_warnings(): every health check the database can compute, with its value, threshold
-- and a one-line hint, for ?action=health, `queue-worker health`, the console and the metrics.
--
-- Contract: health_warnings(p_now default now) returns
--   {checked_at, severity: the worst of the checks (ok | warning | critical),
--    warnings: how many checks are not ok, checks: [...], not_checked: [{check, reason}]}
-- with the checks of queue.health_type_checks, queue.health_database_checks,
-- queue.health_extension_checks and queue.health_worker_checks, each shaped by
-- queue.health_check. Thresholds come from job_types.max_* and queue.settings health_*
-- (20260107000100). Read-only; p_now is for tests (statistics and pg_stat_activity are live).
--
-- queue.health_worker_checks(p_now) returns
-- - last_worker_run: seconds since the latest worker invocation started, vs
--   health_last_run_max_age_seconds; a warning with value null when no worker ever ran;
-- - unanswered_kicks: pg_net kicks of the last hour no invocation answered in time
--   (queue.unanswered_kicks), vs health_unanswered_kicks_max.

create or replace function queue.health_worker_checks(p_now timestamptz) returns jsonb
language sql stable
set search_path = ''
as $$
  with last_run as (select r.* from public.worker_runs r order by r.started_at desc limit 1),
  kicks as (select queue.unanswered_kicks(p_now) as k)
  select pg_catalog.jsonb_build_array(
    queue.health_check('last_worker_run', '{}'::jsonb,
      (select greatest(extract(epoch from p_now - l.started_at), 0)::numeric(14, 3) from last_run l),
      queue.health_setting('health_last_run_max_age_seconds', 300), 'seconds',
      'no worker invocation started lately: is the scheduler calling the function (pg_cron queue-trigger-worker, Cloud Scheduler, EventBridge, queue-worker dev)?',
      coalesce((select pg_catalog.jsonb_build_object('worker_id', l.worker_id, 'started_at', l.started_at,
                  'finished_at', l.finished_at, 'claimed', l.claimed, 'completed', l.completed) from last_run l),
               '{}'::jsonb))
    || case when exists (select 1 from last_run) then '{}'::jsonb
            else '{"severity": "warning", "hint": "no worker has run yet: start the scheduler (pg_cron queue-trigger-worker, Cloud Scheduler, EventBridge) or run queue-worker dev"}'::jsonb end,
    queue.health_check('unanswered_kicks', '{}'::jsonb, ((select k from kicks) ->> 'count')::numeric,
      queue.health_setting('health_unanswered_kicks_max', 0), 'kicks in the last hour',
      'kicks (pg_net POSTs on enqueue) woke no worker in time: check worker_url, the worker secret and what the function answered (net._http_response by request_id)',
      pg_catalog.jsonb_build_object('answer_seconds', (select k from kicks) -> 'answer_seconds',
                                    'kicks', (select k from kicks) -> 'kicks')))
$$;
comment on function queue.health_worker_checks(timestamptz) is
  'last_worker_run and unanswered_kicks, against health_last_run_max_age_seconds and health_unanswered_kicks_max.';
revoke execute on function queue.health_worker_checks(timestamptz) from public;

create or replace function public.health_warnings(p_now timestamptz default null) returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_extensions jsonb := queue.health_extension_checks(v_now);
  v_checks jsonb;
begin
  v_checks := queue.health_type_checks(v_now) || queue.health_database_checks(v_now)
              || (v_extensions -> 'checks') || queue.health_worker_checks(v_now);
  return pg_catalog.jsonb_build_object(
    'checked_at', v_now,
    'severity', (select case pg_catalog.max(queue.health_rank(c ->> 'severity'))
                          when 2 then 'critical' when 1 then 'warning' else 'ok' end
                   from pg_catalog.jsonb_array_elements(v_checks) c),
    'warnings', (select pg_catalog.count(*) from pg_catalog.jsonb_array_elements(v_checks) c
                  where c ->> 'severity' <> 'ok'),
    'checks', v_checks,
    'not_checked', v_extensions -> 'not_checked');
end
$$;
comment on function public.health_warnings(timestamptz) is
  'Every health check with value, threshold, severity and hint: per type (backlog age, stuck jobs, dead-letter spike), table bloat, xmin horizon, replication slots, pg_net, pg_cron, last worker run, unanswered kicks.';
revoke execute on function public.health_warnings(timestamptz) from public, anon, authenticated;
grant execute on function public.health_warnings(timestamptz) to service_role;

insert into queue.schema_migrations (version) values ('20260107000150') on conflict do nothing;
