-- Who may call what. Every queue function is security definer with a fixed
-- search_path; EXECUTE is taken from public, anon and authenticated and given to
-- service_role. Authenticated users may enqueue (enqueue_job/enqueue_jobs check
-- job_types.client_enqueueable and force the owner to auth.uid()).
-- Run last so it covers every function the earlier files created.

do $$
declare
  v_fn regprocedure;
begin
  for v_fn in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname in ('enqueue_job', 'enqueue_jobs', 'get_next_job', 'complete_job', 'complete_jobs',
                         'fail_job', 'fail_jobs', 'release_jobs', 'cleanup_stuck_jobs', 'update_job_progress',
                         'cancel_job', 'retry_dead_letter_job', 'purge_finished_jobs', 'queue_stats',
                         'queue_health', 'queue_schema_versions', 'worker_run_start', 'worker_run_finish', 'enqueue_due_schedules',
                         'set_job_schedule', 'trigger_queue_worker')
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    execute format('grant execute on function %s to service_role', v_fn);
  end loop;
  for v_fn in
    select p.oid::regprocedure from pg_proc p where p.pronamespace = 'queue'::regnamespace
  loop
    execute format('revoke execute on function %s from public', v_fn);
  end loop;
end
$$;

-- Identity sequences: Supabase's default privileges hand them to anon and
-- authenticated; clients have no business calling nextval on the queue's.
do $$
declare
  v_seq text;
begin
  for v_seq in
    select pg_catalog.pg_get_serial_sequence(c, a)
      -- job_status_events: the history table's name since 20260105000000_compact_history.
      from (values ('public.job_queue', 'seq'),
                   (coalesce(to_regclass('public.job_status_events'), 'public.job_status_history'::regclass)::text, 'id')) as v(c, a)
  loop
    execute format('revoke all on sequence %s from public, anon, authenticated', v_seq);
  end loop;
end
$$;

grant execute on function public.enqueue_job(text, jsonb, text, timestamptz, integer, uuid[], text, text, uuid) to authenticated;
grant execute on function public.enqueue_jobs(jsonb) to authenticated;

insert into queue.schema_migrations (version) values ('20260101001100') on conflict do nothing;
