-- Claiming: get_next_job and the rate limits it respects.
--
-- job_rate_limits: at most max_per_window job starts per window_seconds for jobs
-- carrying that rate_limit_key. Keys without a row are unlimited.

create table if not exists public.job_rate_limits (
  key            text primary key,
  max_per_window integer not null check (max_per_window >= 1),
  window_seconds integer not null check (window_seconds >= 1),
  created_at     timestamptz not null default now()
);
comment on table public.job_rate_limits is
  'Per-key rate limits: jobs with rate_limit_key = key start at most max_per_window times per window_seconds.';
alter table public.job_rate_limits enable row level security;
revoke all on public.job_rate_limits from anon, authenticated;
grant select, insert, update, delete on public.job_rate_limits to service_role;

-- Claim up to p_batch_size ready jobs for p_worker_id.
--
-- Ready: pending, run_at <= now, type enabled (and in p_types when given), every
-- dependency completed, its type under its concurrency limit and its rate-limit key
-- under its window budget. Order: priority (critical first), then run_at, then
-- enqueue order (seq), which is exactly the partial index job_queue_claim_idx.
-- Claimed jobs become running with attempts + 1 and a lock for p_lock_seconds (the
-- type's timeout_seconds when null). FOR UPDATE SKIP LOCKED lets any number of
-- workers claim at once without blocking each other or claiming a job twice.
-- Limits: claimers that touch a limited type or key serialize on that type's or
-- key's row, so limits hold under concurrency; unlimited work never waits.
create or replace function public.get_next_job(
  p_worker_id text,
  p_types text[] default null,
  p_batch_size integer default 1,
  p_lock_seconds integer default null
) returns setof public.job_queue
language plpgsql volatile security definer
set search_path = ''
as $$
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
           updated_at = v_now
      from chosen c, public.job_types t
     where j.id = c.id and t.name = j.type
    returning j.*
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, worker_id, at)
    select c.id, 'pending', 'running', p_worker_id, v_now from claimed c
  )
  select c.* from claimed c order by c.priority desc, c.run_at, c.seq;
end
$$;
comment on function public.get_next_job(text, text[], integer, integer) is
  'Atomically claim up to p_batch_size (1-1000) ready jobs for p_worker_id, highest priority first, '
  'respecting dependencies, per-type concurrency limits and per-key rate limits. '
  'Raises 22QW1 bad worker id, 22QB1 batch size out of range, 22QL1 bad lock seconds, 22QT1 unknown type.';

insert into queue.schema_migrations (version) values ('20260101000400') on conflict do nothing;
