-- Scheduled maintenance with pg_cron, and the worker trigger through pg_net.
--
-- When pg_cron can be installed in this database (it is preloaded and this is the
-- database named by cron.database_name; on Supabase, `postgres`), this schedules:
--   queue-cleanup-stuck-jobs     every minute  cleanup_stuck_jobs()
--   queue-enqueue-due-schedules  every minute  enqueue_due_schedules()
--   queue-purge-finished-jobs    daily 03:17   purge_finished_jobs()
--   queue-purge-cron-history     daily 03:27   delete pg_cron run history older than 7 days
--   queue-trigger-worker         every minute  trigger_queue_worker() (only with pg_net)
-- Without pg_cron the file still applies and says so in a NOTICE: run those
-- functions from your own scheduler instead (README, "Without pg_cron").

-- POST to the worker function (pg_net, asynchronous). Returns pg_net's request id,
-- or null when pg_net is absent or no worker URL is configured
-- (queue.settings worker_url; the bearer token from Vault secret
-- queue_worker_secret, else queue.settings worker_secret).
create or replace function public.trigger_queue_worker(
  p_action text default 'process', p_type text default null, p_batch integer default null
) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_url text := queue.setting('worker_url') #>> '{}';
  v_secret text := queue.setting('worker_secret') #>> '{}';
  v_query text;
  v_id bigint;
begin
  if p_action is null or p_action not in ('process', 'health', 'stats') then
    perform queue.raise('22QX1', pg_catalog.format('unknown action %L', p_action), 'use process, health or stats');
  end if;
  if p_batch is not null and (p_batch < 1 or p_batch > 1000) then
    perform queue.raise('22QB1', pg_catalog.format('p_batch must be between 1 and 1000, got %s', p_batch), 'pass null for the default (10)');
  end if;
  if v_url is null or v_url = '' then
    raise notice 'trigger_queue_worker: no worker_url in queue.settings; nothing sent';
    return null;
  end if;
  if pg_catalog.to_regnamespace('net') is null then
    raise notice 'trigger_queue_worker: pg_net is not installed; nothing sent';
    return null;
  end if;
  if pg_catalog.to_regclass('vault.decrypted_secrets') is not null then
    execute 'select decrypted_secret from vault.decrypted_secrets where name = $1'
      into v_secret using 'queue_worker_secret';
    v_secret := coalesce(v_secret, queue.setting('worker_secret') #>> '{}');
  end if;
  v_query := pg_catalog.concat_ws('&',
    'action=' || p_action,
    case when p_type is not null then 'type=' || p_type end,
    case when p_batch is not null then 'batch=' || p_batch end);
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    into v_id
    using v_url || case when pg_catalog.strpos(v_url, '?') > 0 then '&' else '?' end || v_query,
          '{}'::jsonb,
          pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'Content-Type', 'application/json',
            'Authorization', case when v_secret is not null then 'Bearer ' || v_secret end)),
          55000;
  return v_id;
end
$$;
comment on function public.trigger_queue_worker(text, text, integer) is
  'POST ?action=p_action[&type][&batch] to the configured worker URL through pg_net; null when not configured.';

do $$
declare
  -- Edited after release (issue 8), with the create below: read through pg_settings, which
  -- hides these settings from roles that may not read them instead of aborting.
  v_cron_db text := coalesce((select setting from pg_settings where name = 'cron.database_name'), 'postgres');
  v_have_cron boolean;
begin
  v_have_cron := exists (select 1 from pg_extension where extname = 'pg_cron');
  if not v_have_cron
     and exists (select 1 from pg_available_extensions where name = 'pg_cron')
     and (select setting from pg_settings where name = 'shared_preload_libraries') like '%pg_cron%'
     and v_cron_db = current_database() then
    -- Edited after release (issue 8): a role that may not create pg_cron aborted the
    -- whole migration here, and without a schema it landed in public.
    -- 20260104000200_pg_cron_setup.sql carries the rest of the fix.
    begin
      create extension if not exists pg_cron with schema pg_catalog;
      v_have_cron := true;
    exception when insufficient_privilege then
      raise notice 'pg_cron could not be created (%): see 20260104000200_pg_cron_setup.sql', sqlerrm;
    end;
  end if;
  if not v_have_cron then
    raise notice 'pg_cron is not available in database % (cron.database_name is %): schedule cleanup_stuck_jobs(), enqueue_due_schedules() and purge_finished_jobs() yourself',
      current_database(), v_cron_db;
    return;
  end if;

  if not exists (select 1 from pg_extension where extname = 'pg_net')
     and exists (select 1 from pg_available_extensions where name = 'pg_net') then
    begin
      create extension if not exists pg_net;
    exception when others then
      raise notice 'pg_net could not be installed (%); trigger_queue_worker will not be scheduled', sqlerrm;
    end;
  end if;

  perform cron.schedule('queue-cleanup-stuck-jobs', '* * * * *', 'select public.cleanup_stuck_jobs()');
  perform cron.schedule('queue-enqueue-due-schedules', '* * * * *', 'select public.enqueue_due_schedules()');
  perform cron.schedule('queue-purge-finished-jobs', '17 3 * * *', 'select public.purge_finished_jobs()');
  perform cron.schedule('queue-purge-cron-history', '27 3 * * *',
    $cmd$delete from cron.job_run_details where end_time < now() - interval '7 days'$cmd$);
  if exists (select 1 from pg_extension where extname = 'pg_net') then
    perform cron.schedule('queue-trigger-worker', '* * * * *', 'select public.trigger_queue_worker()');
  end if;
end
$$;

insert into queue.schema_migrations (version) values ('20260101001000') on conflict do nothing;
