-- Settling claimed jobs: complete, fail, release (give back without burning an
-- attempt), and the cascade that cancels jobs whose dependency can never complete.
--
-- Fencing: each change applies only to a job that is running and, when a worker id
-- is given, locked by that worker. A stale worker whose job was reclaimed changes
-- nothing and learns it from the return value.

-- Cancel every pending job that (transitively) depends on one of p_ids, recording
-- p_reason. Returns how many were cancelled.
create or replace function queue.cancel_dependents(p_ids uuid[], p_reason text) returns integer
language plpgsql volatile
set search_path = ''
as $$
declare
  v_count integer;
begin
  if p_ids is null or pg_catalog.cardinality(p_ids) = 0 then
    return 0;
  end if;
  -- root: the job in p_ids the chain starts from; cause: the direct dependency.
  with recursive dependents(id, cause, root) as (
    select j.id, c.root, c.root
      from pg_catalog.unnest(p_ids) as c(root)
      join public.job_queue j on j.depends_on @> array[c.root] and j.status = 'pending'
    union
    select j.id, d.id, d.root
      from dependents d
      join public.job_queue j on j.depends_on @> array[d.id] and j.status = 'pending'
  ),
  cancelled as (
    update public.job_queue j
       set status = 'cancelled', finished_at = pg_catalog.now(), updated_at = pg_catalog.now(),
           last_error = case when d.cause = d.root then pg_catalog.format('dependency %s %s', d.root, p_reason)
                             else pg_catalog.format('dependency %s was cancelled because dependency %s %s',
                                                    d.cause, d.root, p_reason) end
      from (select distinct on (x.id) x.id, x.cause, x.root from dependents x order by x.id, x.cause = x.root desc) d
     where j.id = d.id and j.status = 'pending'
    returning j.id, j.last_error
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, note)
    select c.id, 'pending', 'cancelled', c.last_error from cancelled c
  )
  select pg_catalog.count(*) into v_count from cancelled;
  return v_count;
end
$$;
comment on function queue.cancel_dependents(uuid[], text) is
  'Cancel pending jobs that depend, directly or through others, on any of p_ids; returns how many.';

-- Move jobs to the dead letter (deleting them from job_queue), record history, and
-- cancel what depends on them. Callers pass only ids they have already checked.
create or replace function queue.dead_letter_jobs(p_ids uuid[], p_worker_id text, p_note text) returns setof uuid
language plpgsql volatile
set search_path = ''
as $$
declare
  v_moved uuid[];
begin
  with moved as (
    delete from public.job_queue j where j.id = any (p_ids)
    returning j.*
  ),
  letters as (
    insert into public.job_dead_letter (job_id, type, payload, priority, attempts, max_attempts,
                                        last_error, errors, idempotency_key, rate_limit_key, owner_id, job_created_at)
    select m.id, m.type, m.payload, m.priority, m.attempts, m.max_attempts,
           m.last_error, m.errors, m.idempotency_key, m.rate_limit_key, m.owner_id, m.created_at
      from moved m
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, worker_id, note)
    select m.id, m.status::text, 'dead_letter', p_worker_id, coalesce(p_note, m.last_error) from moved m
  )
  select pg_catalog.array_agg(m.id) into v_moved from moved m;
  perform queue.cancel_dependents(v_moved, 'was moved to the dead letter');
  return query select pg_catalog.unnest(v_moved);
end
$$;

-- Complete many jobs. p_jobs: [{"id": uuid, "result": any}]. Returns the ids that
-- were completed; the rest were not running under p_worker_id (lease lost).
create or replace function public.complete_jobs(p_jobs jsonb, p_worker_id text default null) returns setof uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', 'p_jobs must be a JSON array of {"id": ..., "result": ...}',
      'pass [{"id": "<job uuid>", "result": {...}}]');
  end if;
  return query
  with input as (
    select (e ->> 'id')::uuid as id, e -> 'result' as result
      from pg_catalog.jsonb_array_elements(p_jobs) e
  ),
  done as (
    update public.job_queue j
       set status = 'completed', result = i.result, progress = 100,
           locked_by = null, locked_until = null,
           finished_at = v_now, updated_at = v_now
      from input i
     where j.id = i.id and j.status = 'running'
       and (p_worker_id is null or j.locked_by = p_worker_id)
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
  'Complete each [{id, result}] that is running (and locked by p_worker_id when given); returns the ids completed.';

create or replace function public.complete_job(p_job_id uuid, p_result jsonb default null, p_worker_id text default null)
returns boolean
language sql volatile security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.complete_jobs(
      pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('id', p_job_id, 'result', p_result)), p_worker_id))
$$;
comment on function public.complete_job(uuid, jsonb, text) is
  'Complete a running job. Fenced: false (and no change) unless the job is running and, when p_worker_id is given, locked by it.';

-- Fail many jobs. p_jobs: [{"id", "error", "retryable" (default true),
-- "retry_after_seconds" (optional)}]. Retryable with attempts left: pending again at
-- now + backoff (or + retry_after_seconds). Otherwise: dead letter. Returns one row
-- per input: outcome 'retried', 'dead_lettered' or 'lease_lost'.
create or replace function public.fail_jobs(p_jobs jsonb, p_worker_id text default null)
returns table (job_id uuid, outcome text)
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_dead uuid[];
  v_retried uuid[];
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', 'p_jobs must be a JSON array of {"id", "error", "retryable", "retry_after_seconds"}',
      'pass [{"id": "<job uuid>", "error": "what went wrong"}]');
  end if;
  if exists (select 1 from pg_catalog.jsonb_array_elements(p_jobs) e
              where (e ->> 'retry_after_seconds')::integer < 0) then
    perform queue.raise('22QR1', 'retry_after_seconds must be 0 or more', 'omit it to use the type''s backoff');
  end if;

  with input as (
    select (e ->> 'id')::uuid as id,
           coalesce(e ->> 'error', 'unknown error') as error,
           coalesce((e ->> 'retryable')::boolean, true) as retryable,
           (e ->> 'retry_after_seconds')::integer as retry_after
      from pg_catalog.jsonb_array_elements(p_jobs) e
  ),
  failed as (
    update public.job_queue j
       set status = case when i.retryable and j.attempts < j.max_attempts
                         then 'pending'::public.job_status else j.status end,
           run_at = case when i.retryable and j.attempts < j.max_attempts
                         then v_now + coalesce(pg_catalog.make_interval(secs => i.retry_after),
                                               queue.retry_delay(j.attempts, t.backoff_base_seconds,
                                                                 t.backoff_cap_seconds, pg_catalog.random()))
                         else j.run_at end,
           locked_by = case when i.retryable and j.attempts < j.max_attempts then null else j.locked_by end,
           locked_until = case when i.retryable and j.attempts < j.max_attempts then null else j.locked_until end,
           last_error = i.error,
           errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                      'attempt', j.attempts, 'error', i.error, 'at', v_now,
                      'worker_id', j.locked_by, 'retryable', i.retryable)),
           updated_at = v_now
      from input i, public.job_types t
     where j.id = i.id and t.name = j.type and j.status = 'running'
       and (p_worker_id is null or j.locked_by = p_worker_id)
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
  'else moved to job_dead_letter (dependents cancelled). Outcome per job: retried, dead_lettered or lease_lost.';

create or replace function public.fail_job(
  p_job_id uuid,
  p_error text,
  p_retryable boolean default true,
  p_retry_after_seconds integer default null,
  p_worker_id text default null
) returns text
language sql volatile security definer
set search_path = ''
as $$
  select f.outcome from public.fail_jobs(
    pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'id', p_job_id, 'error', p_error, 'retryable', p_retryable,
      'retry_after_seconds', p_retry_after_seconds))),
    p_worker_id) f
$$;
comment on function public.fail_job(uuid, text, boolean, integer, text) is
  'Fail a running job (fenced like complete_job). Returns retried, dead_lettered or lease_lost.';

-- Give jobs back without burning the attempt: rate limited by a provider, circuit
-- open, not started before shutdown, or a long job that saved its place and wants
-- to continue in a later invocation. p_jobs: [{"id", "retry_after_seconds",
-- "reason", "checkpoint"}]. A "checkpoint" (any JSON) is stored in job_queue.result,
-- so the next claim of the job hands it back to the processor; without one the
-- result column is left as it was. Returns the ids released.
create or replace function public.release_jobs(p_jobs jsonb, p_worker_id text default null) returns setof uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', 'p_jobs must be a JSON array of {"id", "retry_after_seconds", "reason"}',
      'pass [{"id": "<job uuid>", "retry_after_seconds": 30}]');
  end if;
  return query
  with input as (
    select (e ->> 'id')::uuid as id,
           greatest(coalesce((e ->> 'retry_after_seconds')::integer, 0), 0) as retry_after,
           coalesce(e ->> 'reason', 'released') as reason,
           e -> 'checkpoint' as checkpoint
      from pg_catalog.jsonb_array_elements(p_jobs) e
  ),
  released as (
    update public.job_queue j
       set status = 'pending', attempts = greatest(j.attempts - 1, 0),
           result = coalesce(i.checkpoint, j.result),
           run_at = v_now + pg_catalog.make_interval(secs => i.retry_after),
           locked_by = null, locked_until = null, updated_at = v_now
      from input i
     where j.id = i.id and j.status = 'running'
       and (p_worker_id is null or j.locked_by = p_worker_id)
    returning j.id, i.reason
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
  'counting the attempt (rate limit, open circuit, shutdown, continue later). A checkpoint is saved into result.';

insert into queue.schema_migrations (version) values ('20260101000600') on conflict do nothing;
