-- pg_cron, installed the way Supabase documents it, and the queue's maintenance jobs.
--
-- Contract: where pg_cron is preloaded and this is the database named by
-- cron.database_name, this file leaves pg_cron installed in schema pg_catalog (not
-- public, which Supabase's linter flags) and these jobs scheduled (cron.schedule
-- upserts by name, so replaying the file changes nothing):
--   queue-cleanup-stuck-jobs     every minute  cleanup_stuck_jobs()
--   queue-enqueue-due-schedules  every minute  enqueue_due_schedules()
--   queue-purge-finished-jobs    daily 03:17   purge_finished_jobs()
--   queue-purge-cron-history     daily 03:27   run history older than 7 days of the
--                                              jobs named queue-* only: the history
--                                              table is shared with every other app
--   queue-trigger-worker         every minute  trigger_queue_worker() (only with pg_net)
-- Every job this project schedules is named queue-*; the history purge relies on it.
-- Where pg_cron cannot be created (not preloaded, another database, or a role that may
-- not create it) the file applies anyway and a NOTICE says how to enable it; running
-- this file again afterwards (psql -f) schedules the jobs.
-- An older version of 20260101001000_pg_cron.sql created pg_cron in public. pg_cron
-- cannot be moved with ALTER EXTENSION ... SET SCHEMA, so when every pg_cron job is
-- one of ours it is dropped and created again in pg_catalog (losing only our jobs' run
-- history); when other jobs exist a NOTICE says how to move it.

do $$
declare
  -- pg_settings hides what the role may not read (current_setting would abort): null = unknown.
  v_cron_db text := (select setting from pg_catalog.pg_settings where name = 'cron.database_name');
  v_preload text := (select setting from pg_catalog.pg_settings where name = 'shared_preload_libraries');
  v_how text := pg_catalog.format(
    'as a superuser, in the database named by cron.database_name (%s), run create extension pg_cron with schema pg_catalog '
    '(Supabase: Dashboard > Database > Extensions > pg_cron), then run this file again; '
    'until then schedule cleanup_stuck_jobs(), enqueue_due_schedules() and purge_finished_jobs() yourself',
    coalesce(v_cron_db, 'on Supabase: postgres'));
begin
  if not exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    if not exists (select 1 from pg_catalog.pg_available_extensions where name = 'pg_cron')
       or v_preload not like '%pg_cron%'
       or v_cron_db <> pg_catalog.current_database() then
      raise notice 'pg_cron is not available in database % (not installed, not preloaded, or another database): %',
        pg_catalog.current_database(), v_how;
      return;
    end if;
    begin
      create extension pg_cron with schema pg_catalog;
    exception when insufficient_privilege then
      raise notice 'pg_cron could not be created by role % (%): %', current_user, sqlerrm, v_how;
      return;
    end;
  end if;

  -- Static SQL on cron.* is fine here: a DO block resolves names only when a statement runs.
  if exists (select 1 from pg_catalog.pg_extension
              where extname = 'pg_cron' and extnamespace = 'public'::pg_catalog.regnamespace) then
    if exists (select 1 from cron.job where jobname is null or jobname not like 'queue-%') then
      raise notice 'pg_cron is in schema public and schedules jobs that are not this queue''s, so it stays there; '
        'to move it, as a superuser: drop extension pg_cron; create extension pg_cron with schema pg_catalog; '
        'then schedule those jobs again and run this file again (dropping pg_cron drops every job and its history)';
    else
      begin
        drop extension pg_cron;
        create extension pg_cron with schema pg_catalog;
      exception when insufficient_privilege then
        raise notice 'pg_cron is in schema public and role % may not move it (%): %', current_user, sqlerrm,
          'as a superuser: drop extension pg_cron; create extension pg_cron with schema pg_catalog; then run this file again';
      end;
    end if;
  end if;

  perform cron.schedule('queue-cleanup-stuck-jobs', '* * * * *', 'select public.cleanup_stuck_jobs()');
  perform cron.schedule('queue-enqueue-due-schedules', '* * * * *', 'select public.enqueue_due_schedules()');
  perform cron.schedule('queue-purge-finished-jobs', '17 3 * * *', 'select public.purge_finished_jobs()');
  perform cron.schedule('queue-purge-cron-history', '27 3 * * *',
    $cmd$delete from cron.job_run_details where end_time < now() - interval '7 days' and jobid in (select jobid from cron.job where jobname like 'queue-%')$cmd$);
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_net') then
    perform cron.schedule('queue-trigger-worker', '* * * * *', 'select public.trigger_queue_worker()');
  end if;
end
$$;

insert into queue.schema_migrations (version) values ('20260104000200') on conflict do nothing;
