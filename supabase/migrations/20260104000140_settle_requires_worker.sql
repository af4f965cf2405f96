-- The settle functions require the worker id: complete_job(s), fail_job(s),
-- release_jobs and update_job_progress change only a job that is running and locked
-- by the p_worker_id given, and refuse a missing one (22QW1) before changing anything.
--
-- Why: without a worker id they settled a job whatever worker held it, so a caller
-- that forgot it (or a stale worker) completed or failed another worker's job.
-- Operators who must stop a job someone else holds have cancel_job, and
-- retry_dead_letter_job for a dead letter.
--
-- Bodies as in 20260103000000_settle_by_id.sql and 20260101000700_maintenance.sql,
-- except for the worker check; the signatures (and their null defaults) stay, so a
-- call without the worker id gets this clear error, not "function does not exist".
-- complete_job and fail_job delegate to the batch forms and so refuse alike.

-- Raises 22QW1 unless p_worker_id is a non-empty text of at most 200 characters (what
-- get_next_job accepts, so only such an id can hold a job).
create or replace function queue.require_worker_id(p_worker_id text) returns void
language plpgsql immutable
set search_path = ''
as $$
begin
  if p_worker_id is null or pg_catalog.length(p_worker_id) = 0 or pg_catalog.length(p_worker_id) > 200 then
    perform queue.raise('22QW1',
      pg_catalog.format('p_worker_id must be the id of the worker holding the job (non-empty, at most 200 characters), got %s',
                        coalesce(pg_catalog.quote_literal(pg_catalog.left(p_worker_id, 40)), 'null')),
      'pass the p_worker_id you claimed the job with (get_next_job); to stop a job another worker holds use '
      'cancel_job, to run a dead letter again retry_dead_letter_job');
  end if;
end
$$;
comment on function queue.require_worker_id(text) is
  'Raise 22QW1 unless p_worker_id is a non-empty text of at most 200 characters.';
revoke execute on function queue.require_worker_id(text) from public;

create or replace function public.complete_jobs(p_jobs jsonb, p_worker_id text default null) returns setof uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_ids uuid[];
  v_by_id jsonb;
begin
  select s.ids, s.by_id into v_ids, v_by_id from queue.settle_input(p_jobs, '{"id", "result"}') s;
  perform queue.require_worker_id(p_worker_id);
  return query
  with done as (
    update public.job_queue j
       set status = 'completed',
           result = nullif(v_by_id -> (j.id::text) -> 'result', 'null'::jsonb),
           progress = 100, locked_by = null, locked_until = null,
           finished_at = v_now, updated_at = v_now
     where j.id = any (v_ids) and j.status = 'running'
       and j.locked_by = p_worker_id
    returning j.id
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, worker_id, at)
    select d.id, 'running', 'completed', p_worker_id, v_now from done d
  )
  select d.id from done d;
end
$$;
comment on function public.complete_jobs(jsonb, text) is
  'Complete each [{id, result}] that is running and locked by p_worker_id (required, 22QW1); returns the ids completed.';

create or replace function public.fail_jobs(p_jobs jsonb, p_worker_id text default null)
returns table (job_id uuid, outcome text)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_ids uuid[];
  v_by_id jsonb;
  v_dead uuid[];
  v_retried uuid[];
begin
  select s.ids, s.by_id into v_ids, v_by_id
    from queue.settle_input(p_jobs, '{"id", "error", "retryable", "retry_after_seconds"}') s;
  perform queue.check_settle_options(p_jobs);
  perform queue.require_worker_id(p_worker_id);

  -- FOR UPDATE re-checks status and lock holder after waiting on a concurrent change;
  -- the update below joins only by id, so this is where fencing holds.
  with targets as (
    select x.id, x.error, x.retryable, x.retryable and x.attempts < x.max_attempts as retry, x.retry_after
      from (select j.id, j.attempts, j.max_attempts,
                   coalesce(v_by_id -> (j.id::text) ->> 'error', 'unknown error') as error,
                   coalesce((v_by_id -> (j.id::text) ->> 'retryable')::boolean, true) as retryable,
                   (v_by_id -> (j.id::text) ->> 'retry_after_seconds')::integer as retry_after
              from public.job_queue j
             where j.id = any (v_ids) and j.status = 'running'
               and j.locked_by = p_worker_id
               for update of j) x
  ),
  failed as (
    update public.job_queue j
       set status = case when i.retry then 'pending'::public.job_status else j.status end,
           run_at = case when i.retry
                         then v_now + coalesce(pg_catalog.make_interval(secs => i.retry_after),
                                               queue.retry_delay(j.attempts, t.backoff_base_seconds,
                                                                 t.backoff_cap_seconds, pg_catalog.random()))
                         else j.run_at end,
           locked_by = case when i.retry then null else j.locked_by end,
           locked_until = case when i.retry then null else j.locked_until end,
           last_error = i.error,
           errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                      'attempt', j.attempts, 'error', i.error, 'at', v_now,
                      'worker_id', j.locked_by, 'retryable', i.retryable)),
           updated_at = v_now
      from targets i, public.job_types t
     where j.id = i.id and t.name = j.type
    returning j.id, j.status
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, worker_id, note)
    select f.id, 'running', 'pending', p_worker_id, 'retry scheduled' from failed f where f.status = 'pending'
  )
  select coalesce(pg_catalog.array_agg(f.id) filter (where f.status = 'running'), '{}'),
         coalesce(pg_catalog.array_agg(f.id) filter (where f.status = 'pending'), '{}')
    into v_dead, v_retried
    from failed f;

  -- Still running here means it was not retried: out of attempts or permanent.
  perform queue.dead_letter_jobs(v_dead, p_worker_id, null);

  return query
  select x.id,
         case when x.id = any (v_dead) then 'dead_lettered'
              when x.id = any (v_retried) then 'retried'
              else 'lease_lost' end
    from (select (e ->> 'id')::uuid as id from pg_catalog.jsonb_array_elements(p_jobs) e) x;
end
$$;
comment on function public.fail_jobs(jsonb, text) is
  'Fail each [{id, error, retryable, retry_after_seconds}]: retried with backoff while attempts remain and retryable, '
  'else moved to job_dead_letter (dependents cancelled). Only jobs locked by p_worker_id (required, 22QW1). '
  'Outcome per job: retried, dead_lettered or lease_lost.';

create or replace function public.release_jobs(p_jobs jsonb, p_worker_id text default null) returns setof uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_ids uuid[];
  v_by_id jsonb;
begin
  select s.ids, s.by_id into v_ids, v_by_id
    from queue.settle_input(p_jobs, '{"id", "retry_after_seconds", "reason", "checkpoint"}') s;
  perform queue.check_settle_options(p_jobs);
  perform queue.require_worker_id(p_worker_id);
  return query
  with released as (
    update public.job_queue j
       set status = 'pending', attempts = greatest(j.attempts - 1, 0),
           result = coalesce(v_by_id -> (j.id::text) -> 'checkpoint', j.result),
           run_at = v_now + pg_catalog.make_interval(
                      secs => coalesce((v_by_id -> (j.id::text) ->> 'retry_after_seconds')::integer, 0)),
           locked_by = null, locked_until = null, updated_at = v_now
     where j.id = any (v_ids) and j.status = 'running'
       and j.locked_by = p_worker_id
    returning j.id, coalesce(v_by_id -> (j.id::text) ->> 'reason', 'released') as reason
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, worker_id, note)
    select r.id, 'running', 'pending', p_worker_id, r.reason from released r
  )
  select r.id from released r;
end
$$;
comment on function public.release_jobs(jsonb, text) is
  'Return running jobs [{id, retry_after_seconds, reason, checkpoint}] to pending after retry_after_seconds without '
  'counting the attempt (rate limit, open circuit, shutdown, continue later). A checkpoint is saved into result. '
  'Only jobs locked by p_worker_id (required, 22QW1).';

-- Report progress and extend the lock by the job's lock length (heartbeat). Fenced:
-- false when p_worker_id does not hold the job (any more).
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
  perform queue.require_worker_id(p_worker_id);
  update public.job_queue j
     set progress = p_progress,
         progress_message = coalesce(p_message, j.progress_message),
         locked_until = pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => j.lock_seconds),
         updated_at = pg_catalog.clock_timestamp()
   where j.id = p_job_id and j.status = 'running' and j.locked_by = p_worker_id;
  return found;
end
$$;
comment on function public.update_job_progress(uuid, integer, text, text) is
  'Set progress (0-100) and message of a running job locked by p_worker_id and extend its lock; false if it lost '
  'the job. Raises 22QG1, and 22QW1 without a worker id.';

comment on function public.complete_job(uuid, jsonb, text) is
  'Complete a running job. Fenced: false (and no change) unless it is running and locked by p_worker_id (required, 22QW1).';
comment on function public.fail_job(uuid, text, boolean, integer, text) is
  'Fail a running job locked by p_worker_id (required, 22QW1). Returns retried, dead_lettered or lease_lost.';

insert into queue.schema_migrations (version) values ('20260104000140') on conflict do nothing;
