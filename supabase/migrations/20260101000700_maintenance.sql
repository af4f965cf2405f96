-- Operating the queue: stuck-job recovery, heartbeats, cancellation, dead-letter
-- replay and retention.

-- Running jobs whose lock expired (the worker died or hung) go back to pending, or
-- to the dead letter when they have no attempts left. Returns how many it touched.
-- p_now lets tests move the clock instead of sleeping.
create or replace function public.cleanup_stuck_jobs(p_now timestamptz default null) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
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
    returning j.id, j.status
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, note, at)
    select e.id, 'running', 'pending', 'lock expired', v_now from expired e where e.status = 'pending'
  )
  select pg_catalog.count(*) filter (where e.status = 'pending'),
         pg_catalog.array_agg(e.id) filter (where e.status = 'running')
    into v_retried, v_dead
    from expired e;

  perform queue.dead_letter_jobs(v_dead, null, 'lock expired with no attempts left');
  return v_retried + coalesce(pg_catalog.cardinality(v_dead), 0);
end
$$;
comment on function public.cleanup_stuck_jobs(timestamptz) is
  'Return running jobs whose lock expired to pending (dead letter when out of attempts); returns how many.';

-- Report progress and extend the lock by the job's lock length (heartbeat).
-- Fenced like complete_job: false when the caller no longer holds the job.
create or replace function public.update_job_progress(
  p_job_id uuid, p_progress integer, p_message text default null, p_worker_id text default null
) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_progress is null or p_progress < 0 or p_progress > 100 then
    perform queue.raise('22QG1', pg_catalog.format('progress must be between 0 and 100, got %s', coalesce(p_progress::text, 'null')),
      'report a percentage');
  end if;
  update public.job_queue j
     set progress = p_progress,
         progress_message = coalesce(p_message, j.progress_message),
         locked_until = pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => j.lock_seconds),
         updated_at = pg_catalog.clock_timestamp()
   where j.id = p_job_id and j.status = 'running'
     and (p_worker_id is null or j.locked_by = p_worker_id);
  return found;
end
$$;
comment on function public.update_job_progress(uuid, integer, text, text) is
  'Set progress (0-100) and message of a running job and extend its lock; false if the caller lost the job. Raises 22QG1.';

-- Cancel a pending or running job and everything waiting on it. A running job's
-- worker loses its lease: its complete/fail then returns false/lease_lost.
create or replace function public.cancel_job(p_job_id uuid) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_from text;
begin
  with target as (
    select j.id, j.status from public.job_queue j
     where j.id = p_job_id and j.status in ('pending', 'running')
       for update
  ),
  cancelled as (
    update public.job_queue j
       set status = 'cancelled', locked_by = null, locked_until = null,
           finished_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp(),
           last_error = 'cancelled by operator'
      from target t
     where j.id = t.id
    returning j.id, t.status
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, note)
    select c.id, c.status::text, 'cancelled', 'cancelled by operator' from cancelled c
  )
  select c.status::text into v_from from cancelled c;
  if v_from is null then
    return false;
  end if;
  perform queue.cancel_dependents(array[p_job_id], 'was cancelled');
  return true;
end
$$;
comment on function public.cancel_job(uuid) is
  'Cancel a pending or running job and its dependents; false if it was not pending or running.';

-- Replay a dead letter as a new pending job (attempts 0). Replaying the same dead
-- letter twice returns the job the first replay made.
create or replace function public.retry_dead_letter_job(p_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_letter public.job_dead_letter;
  v_id uuid;
begin
  select * into v_letter from public.job_dead_letter d where d.id = p_id for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no dead letter with id %s', p_id),
      'list them with select id, job_id, type, last_error from job_dead_letter order by failed_at desc');
  end if;
  if v_letter.replayed_job_id is not null then
    return v_letter.replayed_job_id;
  end if;
  with inserted as (
    insert into public.job_queue (type, payload, priority, max_attempts, rate_limit_key, owner_id, errors)
    values (v_letter.type, v_letter.payload, v_letter.priority, v_letter.max_attempts,
            v_letter.rate_limit_key, v_letter.owner_id, '[]'::jsonb)
    returning id
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, note)
    select i.id, null, 'pending', pg_catalog.format('replay of dead letter %s (job %s)', p_id, v_letter.job_id)
      from inserted i
  )
  select i.id into v_id from inserted i;
  update public.job_dead_letter d set replayed_job_id = v_id, replayed_at = pg_catalog.now() where d.id = p_id;
  return v_id;
end
$$;
comment on function public.retry_dead_letter_job(uuid) is
  'Replay a dead letter as a new pending job with attempts 0; returns its id (the same id if already replayed). Raises PT404.';

-- Retention: delete completed and cancelled jobs finished before now - p_older_than,
-- their history, and old worker-run records. Returns how many jobs it deleted.
create or replace function public.purge_finished_jobs(p_older_than interval default null) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_age interval := coalesce(p_older_than,
    pg_catalog.make_interval(days => coalesce((queue.setting('retention_days'))::text::integer, 7)));
  v_cutoff timestamptz;
  v_count integer;
begin
  if v_age < interval '0' then
    perform queue.raise('22QI1', pg_catalog.format('p_older_than must not be negative, got %s', v_age),
      'pass an interval such as ''7 days''');
  end if;
  v_cutoff := pg_catalog.now() - v_age;
  with purged as (
    delete from public.job_queue j
     where j.status in ('completed', 'cancelled') and j.finished_at < v_cutoff
    returning j.id
  ),
  history as (
    delete from public.job_status_history h where h.job_id in (select p.id from purged p)
  )
  select pg_catalog.count(*) into v_count from purged;
  delete from public.worker_runs r where r.started_at < v_cutoff;
  return v_count;
end
$$;
comment on function public.purge_finished_jobs(interval) is
  'Delete completed/cancelled jobs finished longer ago than p_older_than (default: retention_days, 7) with their history. Raises 22QI1.';

insert into queue.schema_migrations (version) values ('20260101000700') on conflict do nothing;
