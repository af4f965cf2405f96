-- The operator console's Types view: each job type's settings and live counts, the circuit
-- breakers, and pausing or resuming a type.
--
-- Contract:
-- queue.console_check_actor(p_actor) raises 22QO2 unless p_actor is 'admin', 'cli' or 'sql'
-- (the roles console_actions records).
-- console_types() returns {types: [{name, enabled, concurrency_limit, timeout_seconds,
-- max_attempts, backoff_base_seconds, backoff_cap_seconds, pending, running}] by name, every
-- job_types row; breakers: [{provider, state, consecutive_failures, open_until, last_error}]
-- by provider}. state is the stored one: an 'open' breaker whose open_until passed lets the
-- next caller probe (circuit_breaker_allow).
-- console_set_type_enabled(p_type, p_enabled, p_actor default 'sql') pauses (false) or
-- resumes (true) a type and returns {type, enabled}. get_next_job never claims a paused
-- type's jobs (running ones finish); resuming makes them claimable at once. Recorded in
-- console_actions as type.pause / type.resume with affected 1 when it changed, 0 when the
-- type already was so. 22QO1 when p_type or p_enabled is null, 22QT1 for an unknown type.

create or replace function queue.console_check_actor(p_actor text)
returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_actor is null or p_actor not in ('admin', 'cli', 'sql') then
    perform queue.raise('22QO2', pg_catalog.format('p_actor must be admin, cli or sql, got %s',
                                                   coalesce(pg_catalog.quote_literal(p_actor), 'null')),
      'admin: the HTTP action with the worker secret; cli: the queue-worker command; sql: a direct call');
  end if;
end
$$;
comment on function queue.console_check_actor(text) is 'Raise 22QO2 unless p_actor is admin, cli or sql.';
revoke execute on function queue.console_check_actor(text) from public;

create or replace function public.console_types()
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  with counts as (
    select x.type, pg_catalog.sum(x.pending)::bigint as pending, pg_catalog.sum(x.running)::bigint as running
      from (select j.type, pg_catalog.count(*) as pending, 0 as running
              from public.job_queue j where j.status = 'pending' group by j.type
            union all
            select j.type, 0, pg_catalog.count(*) from public.job_queue j where j.status = 'running' group by j.type) x
     group by x.type
  )
  select pg_catalog.jsonb_build_object(
    'types', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'name', t.name, 'enabled', t.enabled, 'concurrency_limit', t.concurrency_limit,
                 'timeout_seconds', t.timeout_seconds, 'max_attempts', t.max_attempts,
                 'backoff_base_seconds', t.backoff_base_seconds, 'backoff_cap_seconds', t.backoff_cap_seconds,
                 'pending', coalesce(c.pending, 0), 'running', coalesce(c.running, 0)) order by t.name)
                 from public.job_types t left join counts c on c.type = t.name), '[]'::jsonb),
    'breakers', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'provider', b.provider, 'state', b.state, 'consecutive_failures', b.consecutive_failures,
                 'open_until', b.open_until, 'last_error', b.last_error) order by b.provider)
                 from public.circuit_breakers b), '[]'::jsonb))
$$;
comment on function public.console_types() is
  'Every job type''s settings with its pending and running counts, and every circuit breaker, for the console''s Types view.';
revoke execute on function public.console_types() from public, anon, authenticated;
grant execute on function public.console_types() to service_role;

create or replace function public.console_set_type_enabled(p_type text, p_enabled boolean, p_actor text default 'sql')
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_changed integer;
begin
  perform queue.console_check_actor(p_actor);
  if p_type is null or p_enabled is null then
    perform queue.raise('22QO1', 'p_type and p_enabled are required',
      'pass a job type name and true (resume) or false (pause)');
  end if;
  if not exists (select 1 from public.job_types t where t.name = p_type) then
    perform queue.raise('22QT1', pg_catalog.format('unknown job type %L', p_type),
      'known types: ' || coalesce((select pg_catalog.string_agg(t.name, ', ' order by t.name)
                                     from public.job_types t), '(none)'));
  end if;
  update public.job_types t set enabled = p_enabled, updated_at = pg_catalog.now()
   where t.name = p_type and t.enabled is distinct from p_enabled;
  get diagnostics v_changed = row_count;
  perform queue.console_record(p_actor, case when p_enabled then 'type.resume' else 'type.pause' end,
                               pg_catalog.jsonb_build_object('type', p_type), v_changed,
                               pg_catalog.jsonb_build_object('enabled', p_enabled));
  return pg_catalog.jsonb_build_object('type', p_type, 'enabled', p_enabled);
end
$$;
comment on function public.console_set_type_enabled(text, boolean, text) is
  'Pause (false) or resume (true) a job type: get_next_job skips a paused type''s jobs. Audited as type.pause/type.resume (affected 0 when unchanged). Returns {type, enabled}. 22QO1 null argument, 22QT1 unknown type, 22QO2 bad actor.';
revoke execute on function public.console_set_type_enabled(text, boolean, text) from public, anon, authenticated;
grant execute on function public.console_set_type_enabled(text, boolean, text) to service_role;

insert into queue.schema_migrations (version) values ('20260106000130') on conflict do nothing;
