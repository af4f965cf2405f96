-- Settling by primary key: complete_jobs, fail_jobs and release_jobs find their jobs
-- with `id = any(<ids>)` and read each job's own data from a JSON object keyed by id.
--
-- Why: the first versions joined job_queue to jsonb_array_elements(p_jobs). The
-- planner cannot see how many elements the array holds, and when the table's
-- statistics say no job is running (autovacuum last looked at an idle queue) it
-- chose a nested loop that scanned every running job for each element: settling a
-- batch of 1,000 took seconds and the drain fell to ~1,500 jobs/s. An `= any(array)`
-- condition on the primary key is always an index lookup per id.
--
-- Contracts, arguments and results are as in 20260101000600_settle.sql, except that
-- bad elements are now refused up front with a message naming the element (22QJ3:
-- not an object, or no job uuid in "id"; 22QR1: retry_after_seconds not whole seconds
-- >= 0, where release_jobs used to treat a negative one as 0), and a completion
-- without a "result" stores SQL NULL, not JSON null.

-- The jobs of a settle call as one object keyed by the canonical text of each id
-- (so '{A0EE...}' and 'a0ee...' name the same job; a repeated id keeps its last
-- element), plus the ids as an array for the index lookup. Raises 22QJ3, naming the
-- element, unless p_jobs is an array of objects each with a job uuid in "id";
-- p_shape is what an element looks like, for the message.
create or replace function queue.settle_input(p_jobs jsonb, p_shape text, out ids uuid[], out by_id jsonb)
language plpgsql immutable
set search_path = ''
as $$
declare
  v_bad record;
  v_clean boolean;
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', pg_catalog.format('p_jobs must be a JSON array of %s, got %s', p_shape,
                                                   coalesce(pg_catalog.jsonb_typeof(p_jobs), 'null')),
      'pass [{"id": "<job uuid>", ...}], one element per job');
  end if;
  -- The common case pays for one pass; only a bad element sends us looking for it.
  begin
    select pg_catalog.array_agg(x.id), coalesce(pg_catalog.jsonb_object_agg(x.id::text, x.e)
                                                  filter (where x.id is not null), '{}'::jsonb),
           coalesce(pg_catalog.bool_and(x.id is not null), true)
      into ids, by_id, v_clean
      from (select (e ->> 'id')::uuid as id, e from pg_catalog.jsonb_array_elements(p_jobs) e) x;
  exception when invalid_text_representation then
    v_clean := false;
  end;
  if not v_clean then
    for v_bad in select x.n, x.e from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as x(e, n) loop
      exit when pg_catalog.jsonb_typeof(v_bad.e) <> 'object' or v_bad.e ->> 'id' is null;
      begin
        perform (v_bad.e ->> 'id')::uuid;
      exception when invalid_text_representation then
        exit;
      end;
    end loop;
    perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s must be an object with a job uuid in "id", got %s',
                                                   v_bad.n, pg_catalog.left(v_bad.e::text, 100)),
      pg_catalog.format('each element looks like %s', p_shape));
  end if;
end
$$;
comment on function queue.settle_input(jsonb, text) is
  'Check a settle call''s [{id, ...}] and split it into the id array (for an index lookup) and the elements keyed by id.';
revoke execute on function queue.settle_input(jsonb, text) from public;

-- Raises 22QR1, naming the element, unless each element's "retry_after_seconds" is
-- absent, null or a whole number from 0 to 2147483647; and 22QJ3 unless each
-- "retryable" is absent, null, true or false.
create or replace function queue.check_settle_options(p_jobs jsonb) returns void
language plpgsql immutable
set search_path = ''
as $$
declare
  v_bad record;
begin
  select x.n, x.e -> 'retry_after_seconds' as given into v_bad
    from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as x(e, n)
   where case pg_catalog.jsonb_typeof(x.e -> 'retry_after_seconds')
           when 'number' then (x.e ->> 'retry_after_seconds')::numeric not between 0 and 2147483647
                              or (x.e ->> 'retry_after_seconds')::numeric % 1 <> 0
           when 'null' then false
           else x.e ? 'retry_after_seconds' end
   order by x.n limit 1;
  if found then
    perform queue.raise('22QR1', pg_catalog.format(
      'p_jobs element %s: retry_after_seconds must be a whole number of seconds, 0 or more, got %s', v_bad.n, v_bad.given),
      'omit it (or pass null) to use the type''s backoff');
  end if;
  select x.n, x.e -> 'retryable' as given into v_bad
    from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as x(e, n)
   where pg_catalog.jsonb_typeof(x.e -> 'retryable') not in ('boolean', 'null')
   order by x.n limit 1;
  if found then
    perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s: retryable must be true or false, got %s',
                                                   v_bad.n, v_bad.given),
      'omit it for true (retry while attempts remain)');
  end if;
end
$$;
comment on function queue.check_settle_options(jsonb) is
  'Check each settle element''s retry_after_seconds (whole seconds >= 0) and retryable (boolean); raises 22QR1 / 22QJ3.';
revoke execute on function queue.check_settle_options(jsonb) from public;

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
  return query
  with done as (
    update public.job_queue j
       set status = 'completed',
           result = nullif(v_by_id -> (j.id::text) -> 'result', 'null'::jsonb),
           progress = 100, locked_by = null, locked_until = null,
           finished_at = v_now, updated_at = v_now
     where j.id = any (v_ids) and j.status = 'running'
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
               and (p_worker_id is null or j.locked_by = p_worker_id)
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
  'else moved to job_dead_letter (dependents cancelled). Outcome per job: retried, dead_lettered or lease_lost.';

-- The single form checks its own argument, so its message names p_retry_after_seconds.
create or replace function public.fail_job(
  p_job_id uuid,
  p_error text,
  p_retryable boolean default true,
  p_retry_after_seconds integer default null,
  p_worker_id text default null
) returns text
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_retry_after_seconds < 0 then
    perform queue.raise('22QR1', pg_catalog.format('p_retry_after_seconds must be 0 or more, got %s', p_retry_after_seconds),
      'pass null to use the type''s backoff');
  end if;
  return (select f.outcome from public.fail_jobs(
    pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'id', p_job_id, 'error', p_error, 'retryable', p_retryable,
      'retry_after_seconds', p_retry_after_seconds))),
    p_worker_id) f);
end
$$;
comment on function public.fail_job(uuid, text, boolean, integer, text) is
  'Fail a running job (fenced like complete_job). Returns retried, dead_lettered or lease_lost.';

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
  return query
  with released as (
    update public.job_queue j
       set status = 'pending', attempts = greatest(j.attempts - 1, 0),
           result = coalesce(v_by_id -> (j.id::text) -> 'checkpoint', j.result),
           run_at = v_now + pg_catalog.make_interval(
                      secs => coalesce((v_by_id -> (j.id::text) ->> 'retry_after_seconds')::integer, 0)),
           locked_by = null, locked_until = null, updated_at = v_now
     where j.id = any (v_ids) and j.status = 'running'
       and (p_worker_id is null or j.locked_by = p_worker_id)
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
  'counting the attempt (rate limit, open circuit, shutdown, continue later). A checkpoint is saved into result.';

insert into queue.schema_migrations (version) values ('20260103000000') on conflict do nothing;
