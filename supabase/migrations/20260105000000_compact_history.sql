-- Compact history: a job's claim (pending -> running) and its completion (running ->
-- completed) are read from the job row instead of written as rows.
--
-- Every job makes those two transitions on the hot path, and each wrote a history row
-- (a heap insert plus three index inserts): about 40 % of what a claim and a completion
-- cost the database. The job row already holds what such a row would: started_at and
-- finished_at, and now claimed_by (the worker of the current or last claim, kept after
-- completion, unlike locked_by). So:
--   - job_status_events (the old job_status_history table, renamed, rows kept) holds
--     every other transition: enqueue, retry, release, lock expiry, cancel, dead letter;
--   - job_status_history becomes a view with the same columns over both: the events, plus
--     for each job that is running or completed its current claim, plus for each completed
--     job its completion (id null on these two: order a job's history by id nulls last, at).
--
-- The rule that keeps the trail complete: a job row only describes its current attempt,
-- and the next claim overwrites started_at and claimed_by. So every transition that ends
-- an attempt other than by completion (fail, retry, release, lock expiry, cancel while
-- running, dead letter) first writes that attempt's claim as an event, from the row, in
-- the same statement.
--
-- Upgrade in place: the claim and completion rows already written for jobs now running
-- or completed would appear twice (as events and derived from the row), so they are
-- deleted once their worker is copied into claimed_by.

alter table public.job_queue add column if not exists claimed_by text;
comment on column public.job_queue.claimed_by is
  'Worker of the current (or, once finished, the last) claim; kept after completion for job_status_history.';

do $$
begin
  if to_regclass('public.job_status_events') is null then
    alter table public.job_status_history rename to job_status_events;
    alter table public.job_status_events rename constraint job_status_history_pkey to job_status_events_pkey;
    alter table public.job_status_events rename constraint job_status_history_to_status_check
      to job_status_events_to_status_check;
    alter index public.job_status_history_job_idx rename to job_status_events_job_idx;
    alter index public.job_status_history_at_idx rename to job_status_events_at_idx;
    alter sequence public.job_status_history_id_seq rename to job_status_events_id_seq;

    -- The current attempt's claim of running and completed jobs: its worker moves to the
    -- row, the event goes (the view derives it). Then completed jobs' completion events.
    with last_claim as (
      select distinct on (e.job_id) e.id, e.job_id, e.worker_id
        from public.job_status_events e
        join public.job_queue j on j.id = e.job_id and j.status in ('running', 'completed')
       where e.to_status = 'running'
       order by e.job_id, e.id desc
    ),
    moved as (
      update public.job_queue j set claimed_by = coalesce(j.locked_by, c.worker_id)
        from last_claim c where c.job_id = j.id
      returning c.id
    )
    delete from public.job_status_events e using moved m where e.id = m.id;
    delete from public.job_status_events e
     using public.job_queue j
     where j.id = e.job_id and j.status = 'completed' and e.to_status = 'completed';
  end if;
end
$$;
comment on table public.job_status_events is
  'Status changes of jobs, except each job''s current claim and its completion, which job_status_history reads from job_queue.';

create or replace view public.job_status_history with (security_invoker = true) as
  select e.id, e.job_id, e.from_status, e.to_status, e.worker_id, e.note, e.at
    from public.job_status_events e
  union all
  select null::bigint, j.id, 'pending', 'running', j.claimed_by, null::text, j.started_at
    from public.job_queue j where j.status in ('running', 'completed')
  union all
  select null::bigint, j.id, 'running', 'completed', j.claimed_by, null::text, j.finished_at
    from public.job_queue j where j.status = 'completed';
comment on view public.job_status_history is
  'One row per status change of a job (to_status dead_letter: the move to job_dead_letter). id is null for the current claim and the completion, read from job_queue: order a job''s rows by id nulls last, at.';
revoke all on public.job_status_history from public, anon, authenticated, service_role;
grant select on public.job_status_history to service_role;

-- get_next_job: as before (contract in 20260101000400_claim.sql), but the claim writes no
-- event: it sets claimed_by, and job_status_history reads the claim from the row.
create or replace function public.get_next_job(p_worker_id text, p_types text[] DEFAULT NULL::text[], p_batch_size integer DEFAULT 1, p_lock_seconds integer DEFAULT NULL::integer)
 RETURNS SETOF public.job_queue
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_limited_types text[];
  v_keys text[];
  v_type_slots jsonb := '{}'::jsonb;
  v_key_slots jsonb := '{}'::jsonb;
  v_full_types text[] := '{}';
  v_full_keys text[] := '{}';
  v_scan integer;
begin
  if p_worker_id is null or pg_catalog.length(p_worker_id) = 0 or pg_catalog.length(p_worker_id) > 200 then
    perform queue.raise('22QW1', 'p_worker_id must be a non-empty text of at most 200 characters',
      'pass an id unique to this worker invocation, e.g. host:pid:uuid');
  end if;
  if p_batch_size is null or p_batch_size < 1 or p_batch_size > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('p_batch_size must be between 1 and 1000, got %s', coalesce(p_batch_size::text, 'null')),
      'PostgREST truncates results at 1000 rows, so a claim never returns more');
  end if;
  if p_lock_seconds is not null and (p_lock_seconds < 1 or p_lock_seconds > 86400) then
    perform queue.raise('22QL1', pg_catalog.format('p_lock_seconds must be between 1 and 86400, got %s', p_lock_seconds),
      'pass null to use the job type''s timeout_seconds');
  end if;
  if p_types is not null then
    declare v_unknown text;
    begin
      select t into v_unknown from pg_catalog.unnest(p_types) t
       where not exists (select 1 from public.job_types jt where jt.name = t) limit 1;
      if pg_catalog.cardinality(p_types) = 0 then
        perform queue.raise('22QT1', 'p_types is an empty array', 'pass null to claim every type, or name at least one');
      end if;
      if v_unknown is not null then
        perform queue.raise('22QT1', pg_catalog.format('unknown job type %L', v_unknown),
          'known types: ' || (select pg_catalog.string_agg(jt.name, ', ' order by jt.name) from public.job_types jt)
          || '; pass null for all types');
      end if;
    end;
  end if;

  -- Concurrency limits: lock the limited types' rows (in name order, so claimers
  -- cannot deadlock), then count what runs now.
  select pg_catalog.array_agg(t.name order by t.name) into v_limited_types
    from public.job_types t
   where t.concurrency_limit is not null and t.enabled
     and (p_types is null or t.name = any (p_types));
  if v_limited_types is not null then
    perform 1 from public.job_types t where t.name = any (v_limited_types) order by t.name for no key update;
    select coalesce(pg_catalog.jsonb_object_agg(t.name, s.slots), '{}'::jsonb),
           coalesce(pg_catalog.array_agg(t.name) filter (where s.slots <= 0), '{}')
      into v_type_slots, v_full_types
      from public.job_types t
      cross join lateral (
        select t.concurrency_limit - (select pg_catalog.count(*) from public.job_queue r
                                        where r.type = t.name and r.status = 'running')::integer as slots
      ) s
     where t.name = any (v_limited_types);
  end if;

  -- Rate limits: only keys that have ready work and a configured limit.
  select pg_catalog.array_agg(k.key order by k.key) into v_keys
    from public.job_rate_limits k
   where exists (select 1 from public.job_queue j
                  where j.rate_limit_key = k.key and j.status = 'pending' and j.run_at <= v_now);
  if v_keys is not null then
    perform 1 from public.job_rate_limits k where k.key = any (v_keys) order by k.key for no key update;
    select coalesce(pg_catalog.jsonb_object_agg(k.key, s.slots), '{}'::jsonb),
           coalesce(pg_catalog.array_agg(k.key) filter (where s.slots <= 0), '{}')
      into v_key_slots, v_full_keys
      from public.job_rate_limits k
      cross join lateral (
        select k.max_per_window - (select pg_catalog.count(*) from public.job_queue r
                                     where r.rate_limit_key = k.key
                                       and r.started_at > v_now - pg_catalog.make_interval(secs => k.window_seconds))::integer as slots
      ) s
     where k.key = any (v_keys);
  end if;

  -- With limits in play some candidates are filtered after locking: look further.
  v_scan := case when v_limited_types is null and v_keys is null then p_batch_size
                 else least(p_batch_size * 4 + 16, 5000) end;

  return query
  with candidates as (
    select j.id, j.type, j.rate_limit_key, j.priority, j.run_at, j.seq
      from public.job_queue j
     where j.status = 'pending'
       and j.run_at <= v_now
       and (p_types is null or j.type = any (p_types))
       and j.type <> all (v_full_types)
       -- A limited key counted above, or a key without a limit. A limited key that
       -- became ready after the count (a racing enqueue) waits for the next claim.
       and (j.rate_limit_key is null
            or (j.rate_limit_key <> all (v_full_keys)
                and (j.rate_limit_key = any (v_keys)
                     or not exists (select 1 from public.job_rate_limits k where k.key = j.rate_limit_key))))
       and j.type not in (select t.name from public.job_types t where not t.enabled)
       and (j.depends_on is null or not exists (
             select 1 from public.job_queue d
              where d.id = any (j.depends_on) and d.status <> 'completed'))
     order by j.priority desc, j.run_at, j.seq
     limit v_scan
       for update of j skip locked
  ),
  ranked as (
    select c.*,
           pg_catalog.row_number() over (partition by c.type order by c.priority desc, c.run_at, c.seq) as type_rank,
           pg_catalog.row_number() over (partition by c.rate_limit_key order by c.priority desc, c.run_at, c.seq) as key_rank
      from candidates c
  ),
  chosen as (
    select r.id from ranked r
     where (v_type_slots -> r.type is null or r.type_rank <= (v_type_slots ->> r.type)::integer)
       and (r.rate_limit_key is null or v_key_slots -> r.rate_limit_key is null
            or r.key_rank <= (v_key_slots ->> r.rate_limit_key)::integer)
     order by r.priority desc, r.run_at, r.seq
     limit p_batch_size
  ),
  claimed as (
    update public.job_queue j
       set status = 'running',
           attempts = j.attempts + 1,
           locked_by = p_worker_id,
           lock_seconds = coalesce(p_lock_seconds, t.timeout_seconds),
           locked_until = v_now + pg_catalog.make_interval(secs => coalesce(p_lock_seconds, t.timeout_seconds)),
           started_at = v_now,
           claimed_by = p_worker_id,
           updated_at = v_now
      from chosen c, public.job_types t
     where j.id = c.id and t.name = j.type
    returning j.*
  )
  select c.* from claimed c order by c.priority desc, c.run_at, c.seq;
end
$function$;
comment on function public.get_next_job(p_worker_id text, p_types text[], p_batch_size integer, p_lock_seconds integer) is 'Atomically claim up to p_batch_size (1-1000) ready jobs for p_worker_id, highest priority first, respecting dependencies, per-type concurrency limits and per-key rate limits. Raises 22QW1 bad worker id, 22QB1 batch size out of range, 22QL1 bad lock seconds, 22QT1 unknown type.';
grant execute on function public.get_next_job(p_worker_id text, p_types text[], p_batch_size integer, p_lock_seconds integer) to service_role;

-- complete_jobs: as before, but the completion writes no event (job_status_history reads
-- it from the row: finished_at, claimed_by).
create or replace function public.complete_jobs(p_jobs jsonb, p_worker_id text DEFAULT NULL::text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
  )
  select d.id from done d;
end
$function$;
comment on function public.complete_jobs(p_jobs jsonb, p_worker_id text) is 'Complete each [{id, result}] that is running and locked by p_worker_id (required, 22QW1); returns the ids completed.';
grant execute on function public.complete_jobs(p_jobs jsonb, p_worker_id text) to service_role;

-- cancel_job: as before; a running job's claim becomes an event before its cancel.
create or replace function public.cancel_job(p_job_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    returning j.id, t.status, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select c.id, 'pending', 'running', c.claimed_by, null, c.started_at from cancelled c where c.status = 'running'
    union all
    select c.id, c.status::text, 'cancelled', null, 'cancelled by operator', pg_catalog.now() from cancelled c
  )
  select c.status::text into v_from from cancelled c;
  if v_from is null then
    return false;
  end if;
  perform queue.cancel_dependents(array[p_job_id], 'was cancelled');
  return true;
end
$function$;
comment on function public.cancel_job(p_job_id uuid) is 'Cancel a pending or running job and its dependents; false if it was not pending or running.';
grant execute on function public.cancel_job(p_job_id uuid) to service_role;

-- cleanup_stuck_jobs: as before; an expired attempt's claim becomes an event before its
-- lock-expired retry (dead letters: queue.dead_letter_jobs does the same).
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
  return v_retried + coalesce(pg_catalog.cardinality(v_dead), 0);
end
$function$;
comment on function public.cleanup_stuck_jobs(p_now timestamp with time zone) is 'Return running jobs whose lock expired to pending (dead letter when out of attempts); returns how many.';
grant execute on function public.cleanup_stuck_jobs(p_now timestamp with time zone) to service_role;

-- fail_jobs: as before; a failed attempt's claim becomes an event before its retry (dead
-- letters: queue.dead_letter_jobs).
create or replace function public.fail_jobs(p_jobs jsonb, p_worker_id text DEFAULT NULL::text)
 RETURNS TABLE(job_id uuid, outcome text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    returning j.id, j.status, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select f.id, 'pending', 'running', f.claimed_by, null, f.started_at from failed f where f.status = 'pending'
    union all
    select f.id, 'running', 'pending', p_worker_id, 'retry scheduled', pg_catalog.now() from failed f where f.status = 'pending'
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
$function$;
comment on function public.fail_jobs(p_jobs jsonb, p_worker_id text) is 'Fail each [{id, error, retryable, retry_after_seconds}]: retried with backoff while attempts remain and retryable, else moved to job_dead_letter (dependents cancelled). Only jobs locked by p_worker_id (required, 22QW1). Outcome per job: retried, dead_lettered or lease_lost.';
grant execute on function public.fail_jobs(p_jobs jsonb, p_worker_id text) to service_role;

-- release_jobs: as before; the released attempt's claim becomes an event first.
create or replace function public.release_jobs(p_jobs jsonb, p_worker_id text DEFAULT NULL::text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    returning j.id, coalesce(v_by_id -> (j.id::text) ->> 'reason', 'released') as reason, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select r.id, 'pending', 'running', r.claimed_by, null, r.started_at from released r
    union all
    select r.id, 'running', 'pending', p_worker_id, r.reason, pg_catalog.now() from released r
  )
  select r.id from released r;
end
$function$;
comment on function public.release_jobs(p_jobs jsonb, p_worker_id text) is 'Return running jobs [{id, retry_after_seconds, reason, checkpoint}] to pending after retry_after_seconds without counting the attempt (rate limit, open circuit, shutdown, continue later). A checkpoint is saved into result. Only jobs locked by p_worker_id (required, 22QW1).';
grant execute on function public.release_jobs(p_jobs jsonb, p_worker_id text) to service_role;

-- release_unstarted_jobs: as before; the given-back claim becomes an event first.
create or replace function public.release_unstarted_jobs(p_worker_id text, p_started uuid[] DEFAULT '{}'::uuid[], p_reason text DEFAULT 'not started: the invocation failed'::text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  if p_worker_id is null or pg_catalog.length(p_worker_id) = 0 or pg_catalog.length(p_worker_id) > 200 then
    perform queue.raise('22QW1', 'p_worker_id must be a non-empty text of at most 200 characters',
      'pass the id the invocation claimed with');
  end if;
  return query
  with released as (
    update public.job_queue j
       set status = 'pending', attempts = greatest(j.attempts - 1, 0), run_at = v_now,
           locked_by = null, locked_until = null, updated_at = v_now
     where j.status = 'running' and j.locked_by = p_worker_id
       and j.id <> all (coalesce(p_started, '{}'))
    returning j.id, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select r.id, 'pending', 'running', r.claimed_by, null, r.started_at from released r
    union all
    select r.id, 'running', 'pending', p_worker_id,
           coalesce(p_reason, 'not started: the invocation failed'), v_now
      from released r
  )
  select r.id from released r;
end
$function$;
comment on function public.release_unstarted_jobs(p_worker_id text, p_started uuid[], p_reason text) is 'After a failed invocation: return every job running under p_worker_id and not in p_started to pending, due now, without counting the attempt; returns the ids released. Raises 22QW1 bad worker id.';
grant execute on function public.release_unstarted_jobs(p_worker_id text, p_started uuid[], p_reason text) to service_role;

-- queue.dead_letter_jobs: move jobs to job_dead_letter (their row goes, so a running job's
-- claim becomes an event first), then cancel their dependents; returns the ids moved.
create or replace function queue.dead_letter_jobs(p_ids uuid[], p_worker_id text, p_note text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select m.id, 'pending', 'running', m.claimed_by, null, m.started_at from moved m where m.status = 'running'
    union all
    select m.id, m.status::text, 'dead_letter', p_worker_id, coalesce(p_note, m.last_error), pg_catalog.now() from moved m
  )
  select pg_catalog.array_agg(m.id) into v_moved from moved m;
  perform queue.cancel_dependents(v_moved, 'was moved to the dead letter');
  return query select pg_catalog.unnest(v_moved);
end
$function$;

-- Unchanged but for the table name: enqueue (and replay) write their pending event into
-- job_status_events; the purges delete from it.

create or replace function public.enqueue_job(p_type text, p_payload jsonb DEFAULT '{}'::jsonb, p_priority text DEFAULT 'normal'::text, p_run_at timestamp with time zone DEFAULT now(), p_max_attempts integer DEFAULT NULL::integer, p_depends_on uuid[] DEFAULT NULL::uuid[], p_idempotency_key text DEFAULT NULL::text, p_rate_limit_key text DEFAULT NULL::text, p_owner_id uuid DEFAULT NULL::uuid)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_owner uuid := queue.check_enqueue_allowed(p_type, p_owner_id);  -- permission first, as before
  v_client boolean := queue.caller_is_client();
  v_key text := case when v_client then queue.client_idempotency_key(p_idempotency_key) else p_idempotency_key end;
  v_id uuid;
begin
  perform queue.validate_job(p_type, p_payload, p_priority, p_max_attempts, p_depends_on);
  if v_client then
    perform queue.check_client_job(p_type, p_priority, p_max_attempts);
    perform queue.lock_client_quota(array[p_type]);
  end if;
  loop
    if v_key is not null then
      v_id := queue.dead_letter_key_job(p_type, v_key);
      exit when v_id is not null;
    end if;
    with inserted as (
      insert into public.job_queue (type, payload, priority, run_at, max_attempts, depends_on,
                                    idempotency_key, rate_limit_key, owner_id)
      select p_type, p_payload, p_priority::public.job_priority,
             case when v_client then queue.client_run_at(p_run_at) else coalesce(p_run_at, pg_catalog.now()) end,
             coalesce(p_max_attempts, t.max_attempts), nullif(p_depends_on, '{}'), v_key,
             case when v_client then queue.client_scoped_key(p_rate_limit_key) else p_rate_limit_key end, v_owner
        from public.job_types t where t.name = p_type
      on conflict (type, idempotency_key) where idempotency_key is not null do nothing
      returning id
    ), history as (
      insert into public.job_status_events (job_id, from_status, to_status, note)
      select i.id, null, 'pending', 'enqueued' from inserted i
    )
    select i.id into v_id from inserted i;
    if v_id is not null and (v_key is null or pg_catalog.cardinality(queue.undo_dead_lettered_keys(array[v_id])) = 0) then
      if v_client then
        perform queue.check_client_quota(array[p_type]);
      end if;
      exit;
    end if;
    -- The key exists (or a racing insert just committed it): return that job. If
    -- the holder vanished (purged, rolled back, or just dead-lettered), go round again.
    select j.id into v_id from public.job_queue j where j.type = p_type and j.idempotency_key = v_key;
    exit when v_id is not null;
  end loop;
  return v_id;
end
$function$;
comment on function public.enqueue_job(p_type text, p_payload jsonb, p_priority text, p_run_at timestamp with time zone, p_max_attempts integer, p_depends_on uuid[], p_idempotency_key text, p_rate_limit_key text, p_owner_id uuid) is 'Enqueue one job and return its id. Same (type, idempotency_key) returns the existing id (also one in the dead letter) and creates nothing. Raises 42501 not allowed for this caller (checked first), then 22QT1 unknown type, 22QP1 bad priority, 22QJ1/22QJ2 bad payload, 22QA1 bad max_attempts, 22QD1/22QD2 bad depends_on, PT429 client pending cap.';
grant execute on function public.enqueue_job(p_type text, p_payload jsonb, p_priority text, p_run_at timestamp with time zone, p_max_attempts integer, p_depends_on uuid[], p_idempotency_key text, p_rate_limit_key text, p_owner_id uuid) to authenticated, service_role;

create or replace function public.enqueue_jobs(p_jobs jsonb)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  -- Asked once: the per-row client helpers below are skipped for the server.
  v_client boolean := queue.caller_is_client();
  v_types text[];
  v_ids uuid[];
  v_keys text[];
  v_undone uuid[];
begin
  perform queue.check_enqueue_batch(p_jobs);
  select pg_catalog.array_agg(e ->> 'type') into v_types from pg_catalog.jsonb_array_elements(p_jobs) e;
  if v_client then
    perform queue.lock_client_quota(v_types);
  end if;

  with input as (
    select e.ord,
           gen_random_uuid() as new_id,
           e.value ->> 'type' as type,
           coalesce(e.value -> 'payload', '{}'::jsonb) as payload,
           coalesce(e.value ->> 'priority', 'normal')::public.job_priority as priority,
           case when v_client then queue.client_run_at((e.value ->> 'run_at')::timestamptz)
                else coalesce((e.value ->> 'run_at')::timestamptz, pg_catalog.now()) end as run_at,
           (e.value ->> 'max_attempts')::integer as max_attempts,
           case when pg_catalog.jsonb_typeof(e.value -> 'depends_on') = 'array'
                then (select pg_catalog.array_agg(d::uuid) from pg_catalog.jsonb_array_elements_text(e.value -> 'depends_on') d) end as depends_on,
           case when v_client then queue.client_idempotency_key(e.value ->> 'idempotency_key')
                else e.value ->> 'idempotency_key' end as idempotency_key,
           case when v_client then queue.client_scoped_key(e.value ->> 'rate_limit_key')
                else e.value ->> 'rate_limit_key' end as rate_limit_key,
           case when v_client then queue.check_enqueue_allowed(e.value ->> 'type', (e.value ->> 'owner_id')::uuid)
                else coalesce((e.value ->> 'owner_id')::uuid, auth.uid()) end as owner_id
      from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, ord)
  ),
  inserted as (
    insert into public.job_queue (id, type, payload, priority, run_at, max_attempts, depends_on,
                                  idempotency_key, rate_limit_key, owner_id)
    select i.new_id, i.type, i.payload, i.priority, i.run_at, coalesce(i.max_attempts, t.max_attempts),
           nullif(i.depends_on, '{}'), i.idempotency_key, i.rate_limit_key, i.owner_id
      from input i join public.job_types t on t.name = i.type
     where case when i.idempotency_key is null then true
                else queue.dead_letter_key_job(i.type, i.idempotency_key) is null end
     order by i.ord
    on conflict (type, idempotency_key) where idempotency_key is not null do nothing
    returning id
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, note)
    select ins.id, null, 'pending', 'enqueued' from inserted ins
  )
  select pg_catalog.array_agg(case when ins.id is not null then i.new_id end order by i.ord),
         pg_catalog.array_agg(i.type order by i.ord),
         pg_catalog.array_agg(i.idempotency_key order by i.ord)
    into v_ids, v_types, v_keys
    from input i left join inserted ins on ins.id = i.new_id;

  -- Only an insert with a key can have raced a dead-lettering.
  v_undone := case when exists (select 1 from pg_catalog.unnest(v_keys) k where k is not null)
                   then queue.undo_dead_lettered_keys(v_ids) else '{}' end;
  if v_client then
    perform queue.check_client_quota(v_types);
  end if;

  -- Elements that hit an existing key (earlier, in this call, in a racing call that
  -- has since committed, or in the dead letter) return that job's id. A new
  -- statement, so a new snapshot: it sees what the insert above waited for.
  return query
  select coalesce(case when x.id = any (v_undone) then null else x.id end,
                  (select j.id from public.job_queue j where j.type = x.type and j.idempotency_key = x.key),
                  queue.dead_letter_key_job(x.type, x.key))
    from unnest(v_ids, v_types, v_keys) with ordinality as x(id, type, key, ord)
   order by x.ord;
end
$function$;
comment on function public.enqueue_jobs(p_jobs jsonb) is 'Enqueue many jobs in one statement; returns their ids in input order. Same rules as enqueue_job per element; every element''s permission is checked before any element is validated.';
grant execute on function public.enqueue_jobs(p_jobs jsonb) to authenticated, service_role;

create or replace function public.retry_dead_letter_job(p_id uuid)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
  loop
    with inserted as (
      insert into public.job_queue (type, payload, priority, max_attempts, idempotency_key, rate_limit_key, owner_id, errors)
      values (v_letter.type, v_letter.payload, v_letter.priority, v_letter.max_attempts,
              v_letter.idempotency_key, v_letter.rate_limit_key, v_letter.owner_id, '[]'::jsonb)
      on conflict (type, idempotency_key) where idempotency_key is not null do nothing
      returning id
    ),
    history as (
      insert into public.job_status_events (job_id, from_status, to_status, note)
      select i.id, null, 'pending', pg_catalog.format('replay of dead letter %s (job %s)', p_id, v_letter.job_id)
        from inserted i
    )
    select i.id into v_id from inserted i;
    exit when v_id is not null;
    -- A job in the queue holds the key (one made before keys outlived the queue):
    -- it is the same work, so it stands for the replay. If it vanished meanwhile
    -- (purged), insert again.
    select j.id into v_id from public.job_queue j
     where j.type = v_letter.type and j.idempotency_key = v_letter.idempotency_key;
    exit when v_id is not null;
  end loop;
  update public.job_dead_letter d set replayed_job_id = v_id, replayed_at = pg_catalog.now() where d.id = p_id;
  return v_id;
end
$function$;
comment on function public.retry_dead_letter_job(p_id uuid) is 'Replay a dead letter as a new pending job with attempts 0 and the letter''s idempotency key; returns its id (the same id if already replayed, or the job that already holds the key). Raises PT404.';
grant execute on function public.retry_dead_letter_job(p_id uuid) to service_role;

create or replace function queue.cancel_dependents(p_ids uuid[], p_reason text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
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
    insert into public.job_status_events (job_id, from_status, to_status, note)
    select c.id, 'pending', 'cancelled', c.last_error from cancelled c
  )
  select pg_catalog.count(*) into v_count from cancelled;
  return v_count;
end
$function$;
comment on function queue.cancel_dependents(p_ids uuid[], p_reason text) is 'Cancel pending jobs that depend, directly or through others, on any of p_ids; returns how many.';

create or replace function public.purge_finished_jobs(p_older_than interval DEFAULT NULL::interval)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
    delete from public.job_status_events h where h.job_id in (select p.id from purged p)
  )
  select pg_catalog.count(*) into v_count from purged;
  delete from public.worker_runs r where r.started_at < v_cutoff;
  return v_count;
end
$function$;
comment on function public.purge_finished_jobs(p_older_than interval) is 'Delete completed/cancelled jobs finished longer ago than p_older_than (default: retention_days, 7) with their history. Raises 22QI1.';
grant execute on function public.purge_finished_jobs(p_older_than interval) to service_role;

create or replace function queue.undo_dead_lettered_keys(p_ids uuid[])
 RETURNS uuid[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_undone uuid[];
begin
  with undone as (
    delete from public.job_queue j
     where j.id = any (p_ids) and j.idempotency_key is not null
       and queue.dead_letter_key_job(j.type, j.idempotency_key) is not null
    returning j.id
  ),
  history as (
    delete from public.job_status_events h where h.job_id in (select u.id from undone u)
  )
  select coalesce(pg_catalog.array_agg(u.id), '{}') into v_undone from undone u;
  return v_undone;
end
$function$;
comment on function queue.undo_dead_lettered_keys(p_ids uuid[]) is 'Delete the just-enqueued jobs among p_ids whose idempotency key a dead letter holds; returns their ids.';

insert into queue.schema_migrations (version) values ('20260105000000') on conflict do nothing;
