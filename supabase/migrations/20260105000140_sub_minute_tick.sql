-- A sub-minute scheduler tick through pg_cron (1.5+ schedules in seconds, as on Supabase).
--
-- Contract: schedule_worker_tick(p_every) (re)schedules the pg_cron job queue-trigger-worker,
-- which POSTs the worker through trigger_queue_worker(), at p_every: '1 seconds' .. '59 seconds'
-- (pg_cron's interval syntax, needs pg_cron 1.5+) or a 5-field cron expression ('* * * * *',
-- the default of 20260104000200_pg_cron_setup.sql). It returns the pg_cron job id. Kicks on
-- enqueue start most jobs at once; this tick bounds what a lost kick or a job due later waits.
-- 22QK2 when p_every is neither, when pg_cron is missing or too old for seconds, or when
-- pg_net (which the tick POSTs through) is not installed; nothing is changed then.

create or replace function public.schedule_worker_tick(p_every text default '30 seconds') returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_cron text := (select e.extversion from pg_catalog.pg_extension e where e.extname = 'pg_cron');
  v_seconds integer := (pg_catalog.regexp_match(coalesce(p_every, ''), '^\s*([0-9]{1,2}) seconds?\s*$'))[1]::integer;
  v_id bigint;
begin
  if v_seconds is not null and (v_seconds < 1 or v_seconds > 59) then
    perform queue.raise('22QK2', pg_catalog.format('a tick of %s seconds is out of range', v_seconds),
                        'use ''1 seconds'' to ''59 seconds'', or a cron expression such as ''* * * * *''');
  end if;
  if v_seconds is null and coalesce(pg_catalog.array_length(pg_catalog.regexp_split_to_array(pg_catalog.btrim(p_every), '\s+'), 1), 0) <> 5 then
    perform queue.raise('22QK2', pg_catalog.format('tick schedule %L is neither ''N seconds'' nor a 5-field cron expression', p_every),
                        'use ''1 seconds'' to ''59 seconds'' (pg_cron 1.5+) or a cron expression such as ''* * * * *''');
  end if;
  if v_cron is null then
    perform queue.raise('22QK2', 'pg_cron is not installed in this database',
                        'install pg_cron (see README "Without pg_cron") and run 20260104000200_pg_cron_setup.sql again');
  end if;
  if v_seconds is not null and pg_catalog.string_to_array(pg_catalog.split_part(v_cron, '-', 1), '.')::integer[] < array[1, 5] then
    perform queue.raise('22QK2', pg_catalog.format('pg_cron %s cannot schedule in seconds', v_cron),
                        'seconds need pg_cron 1.5 or later; use a cron expression such as ''* * * * *''');
  end if;
  if pg_catalog.to_regnamespace('net') is null then
    perform queue.raise('22QK2', 'pg_net is not installed: the tick has nothing to POST through',
                        'install pg_net and set worker_url (deploy/supabase/configure.sql), or tick from your own scheduler');
  end if;
  -- cron.* exists only with pg_cron, checked above; plpgsql_check would resolve it regardless.
  perform 'PRAGMA:disable:check';
  execute 'select cron.schedule($1, $2, $3)' into v_id
    using 'queue-trigger-worker', pg_catalog.btrim(p_every), 'select public.trigger_queue_worker()';
  return v_id;
end
$$;
comment on function public.schedule_worker_tick(text) is
  'Schedule queue-trigger-worker (pg_cron) at ''N seconds'' (1-59, pg_cron 1.5+) or a cron expression; returns the job id. 22QK2 on a bad schedule or without pg_cron/pg_net.';
revoke execute on function public.schedule_worker_tick(text) from public, anon, authenticated;
grant execute on function public.schedule_worker_tick(text) to service_role;

insert into queue.schema_migrations (version) values ('20260105000140') on conflict do nothing;
