-- cleanup_stuck_jobs also records the console's per-minute stats.
--
-- Contract: cleanup_stuck_jobs(p_now) returns expired running jobs to pending (dead letter
-- when out of attempts) and returns how many, as before; then it calls
-- queue.record_minute_stats() on the real clock. It already runs every minute wherever the
-- queue runs (pg_cron's queue-cleanup-stuck-jobs, the local scheduler, the resident worker),
-- which is the cadence the minute stats need, and adds nothing to the claim/settle path.

create or replace function public.cleanup_stuck_jobs(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_retried integer;
  v_dead uuid[];
begin
  with stuck as (
    select j.id from public.job_queue j
     where j.status = 'running' and j.locked_until < v_now
     order by j.locked_until
       for update skip locked
  ),
  expired as (
    update public.job_queue j
       set status = case when j.attempts < j.max_attempts then 'pending'::public.job_status else j.status end,
           -- Ready at once (a test's p_now in the future must not delay it).
           run_at = least(v_now, pg_catalog.clock_timestamp()),
           locked_by = case when j.attempts < j.max_attempts then null else j.locked_by end,
           locked_until = case when j.attempts < j.max_attempts then null else j.locked_until end,
           last_error = pg_catalog.format('lock expired: worker %s did not finish attempt %s in %s s',
                                          j.locked_by, j.attempts, j.lock_seconds),
           errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                      'attempt', j.attempts, 'at', v_now, 'worker_id', j.locked_by, 'retryable', true,
                      'error', pg_catalog.format('lock expired after %s s', j.lock_seconds))),
           updated_at = v_now
      from stuck s
     where j.id = s.id
    returning j.id, j.status, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select e.id, 'pending', 'running', e.claimed_by, null, e.started_at from expired e where e.status = 'pending'
    union all
    select e.id, 'running', 'pending', null, 'lock expired', v_now from expired e where e.status = 'pending'
  )
  select pg_catalog.count(*) filter (where e.status = 'pending'),
         pg_catalog.array_agg(e.id) filter (where e.status = 'running')
    into v_retried, v_dead
    from expired e;

  perform queue.dead_letter_jobs(v_dead, null, 'lock expired with no attempts left');
  -- The console's per-minute stats, on the real clock (a test's p_now must not move them).
  perform queue.record_minute_stats();
  return v_retried + coalesce(pg_catalog.cardinality(v_dead), 0);
end
$function$;
comment on function public.cleanup_stuck_jobs(p_now timestamp with time zone) is 'Return running jobs whose lock expired to pending (dead letter when out of attempts); returns how many. Also records the console''s minute stats (queue.record_minute_stats).';
grant execute on function public.cleanup_stuck_jobs(p_now timestamp with time zone) to service_role;

insert into queue.schema_migrations (version) values ('20260106000110') on conflict do nothing;
