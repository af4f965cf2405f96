-- The operator console's Schedules view: every schedule, enable and disable.
--
-- Contract:
-- console_schedules() returns {schedules: [{name, cron, type, payload, enabled, next_run_at,
-- last_run_at, last_job_id}] by name}; next_run_at is null while a schedule is disabled (it
-- has no next run).
-- console_set_schedule_enabled(p_name, p_enabled, p_actor default 'sql') enables or disables
-- a schedule and returns {name, enabled, next_run_at}. Enabling a disabled schedule sets
-- next_run_at to the cron's next slot after now (job_schedules_before_write): the slots it
-- missed while disabled are not enqueued. Recorded in console_actions as schedule.enable /
-- schedule.disable with affected 1 when it changed, 0 when it already was so. 22QO1 when
-- p_name or p_enabled is null, PT404 for an unknown schedule, 22QO2 bad actor.

create or replace function public.console_schedules()
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object('schedules', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'name', s.name, 'cron', s.cron, 'type', s.type, 'payload', s.payload, 'enabled', s.enabled,
           'next_run_at', case when s.enabled then s.next_run_at end, 'last_run_at', s.last_run_at,
           'last_job_id', s.last_job_id) order by s.name), '[]'::jsonb))
    from (select * from public.job_schedules order by name limit 1000) s
$$;
comment on function public.console_schedules() is
  'Every schedule (up to 1000, by name) with its cron, job, enabled, next and last run, for the console''s Schedules view.';
revoke execute on function public.console_schedules() from public, anon, authenticated;
grant execute on function public.console_schedules() to service_role;

create or replace function public.console_set_schedule_enabled(p_name text, p_enabled boolean,
                                                               p_actor text default 'sql')
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_changed integer;
  v_next timestamptz;
begin
  perform queue.console_check_actor(p_actor);
  if p_name is null or p_enabled is null then
    perform queue.raise('22QO1', 'p_name and p_enabled are required',
      'pass a schedule name and true (enable) or false (disable)');
  end if;
  if not exists (select 1 from public.job_schedules s where s.name = p_name) then
    perform queue.raise('PT404', pg_catalog.format('no schedule named %L', p_name),
      'known schedules: ' || coalesce((select pg_catalog.string_agg(s.name, ', ' order by s.name)
                                         from public.job_schedules s), '(none)'));
  end if;
  update public.job_schedules s set enabled = p_enabled
   where s.name = p_name and s.enabled is distinct from p_enabled;
  get diagnostics v_changed = row_count;
  select s.next_run_at into v_next from public.job_schedules s where s.name = p_name;
  perform queue.console_record(p_actor, case when p_enabled then 'schedule.enable' else 'schedule.disable' end,
                               pg_catalog.jsonb_build_object('name', p_name), v_changed,
                               pg_catalog.jsonb_build_object('enabled', p_enabled));
  return pg_catalog.jsonb_build_object('name', p_name, 'enabled', p_enabled,
                                       'next_run_at', case when p_enabled then v_next end);
end
$$;
comment on function public.console_set_schedule_enabled(text, boolean, text) is
  'Enable or disable a schedule (enabling: next run = the next cron slot after now). Audited as schedule.enable/schedule.disable (affected 0 when unchanged). Returns {name, enabled, next_run_at}. 22QO1 null argument, PT404 unknown schedule, 22QO2 bad actor.';
revoke execute on function public.console_set_schedule_enabled(text, boolean, text) from public, anon, authenticated;
grant execute on function public.console_set_schedule_enabled(text, boolean, text) to service_role;

insert into queue.schema_migrations (version) values ('20260106000150') on conflict do nothing;
