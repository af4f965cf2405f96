-- What a client may ask for on a client_enqueueable type.
--
-- Why: a client could choose priority critical, a run_at in 1900 (first in claim
-- order), max_attempts 1000, any rate_limit_key (server buckets too), depend on other
-- users' jobs, and fill the queue without bound.
--
-- Contract, for clients only (queue.caller_is_client()); the server is not limited:
-- - priority at most normal (the default enqueue gives every type), else 42501;
-- - max_attempts at most the type's job_types.max_attempts, else 42501;
-- - a run_at before now counts as now (queue.client_run_at);
-- - rate_limit_key is scoped to the user like the idempotency key (queue.client_scoped_key);
-- - depends_on only on their own jobs (validate_job: others' jobs are "not one of
--   your jobs", 22QD1, and are never locked);
-- - at most job_types.client_pending_limit pending jobs of the type per user (default
--   100, null = no cap), else PT429. queue.lock_client_quota serialises a user's
--   enqueues of a type so concurrent calls cannot both slip under the cap.

alter table public.job_types add column if not exists client_pending_limit integer default 100
  constraint job_types_client_pending_limit_positive check (client_pending_limit is null or client_pending_limit >= 1);
comment on column public.job_types.client_pending_limit is
  'Most pending jobs of this type one client user may have (null: no cap). The server is not capped.';

-- Raises 42501 when a client asks for more than the type gives: a priority above
-- normal or more attempts than the type's default. Call after validate_job.
create or replace function queue.check_client_job(p_type text, p_priority text, p_max_attempts integer) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  v_attempts integer;
begin
  if not queue.caller_is_client() then
    return;
  end if;
  if p_priority::public.job_priority > 'normal' then
    perform queue.raise('42501', pg_catalog.format('clients may enqueue at priority normal or low, not %s', p_priority),
      'leave the priority out (normal) or pass low; higher priorities are for the server');
  end if;
  select t.max_attempts into v_attempts from public.job_types t where t.name = p_type;
  if p_max_attempts > v_attempts then
    perform queue.raise('42501',
      pg_catalog.format('clients may ask for at most %s attempts of %L jobs, not %s', v_attempts, p_type, p_max_attempts),
      pg_catalog.format('leave max_attempts null to get the type''s %s, or pass fewer', v_attempts));
  end if;
end
$$;
comment on function queue.check_client_job(text, text, integer) is
  'For clients: raise 42501 for a priority above normal or max_attempts above the type''s default; the server passes.';
revoke execute on function queue.check_client_job(text, text, integer) from public;

-- When the job becomes due: as asked, except that a client's past run_at is now (a
-- past run_at would put its job ahead of everyone's in claim order).
create or replace function queue.client_run_at(p_run_at timestamptz) returns timestamptz
language sql stable
set search_path = ''
as $$
  select case when queue.caller_is_client()
              then greatest(coalesce(p_run_at, pg_catalog.now()), pg_catalog.now())
              else coalesce(p_run_at, pg_catalog.now()) end
$$;
comment on function queue.client_run_at(timestamptz) is
  'p_run_at (null: now), but never before now for a client.';
revoke execute on function queue.client_run_at(timestamptz) from public;

-- Take, for a client, a transaction lock per (type, user) on each of p_types, in name
-- order (so two batches lock alike). Held until commit: a concurrent enqueue by the
-- same user waits here and then counts the jobs this one made.
create or replace function queue.lock_client_quota(p_types text[]) returns void
language plpgsql volatile
set search_path = ''
as $$
begin
  if queue.caller_is_client() then
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
              pg_catalog.format('queue.client_quota:%s:%s', x.type, auth.uid()), 0))
       from (select distinct t from pg_catalog.unnest(p_types) t) as x(type) order by x.type;
  end if;
end
$$;
comment on function queue.lock_client_quota(text[]) is
  'For clients: lock (type, auth.uid()) for each of p_types until commit, so the pending cap holds under concurrency.';
revoke execute on function queue.lock_client_quota(text[]) from public;

-- Raises PT429 when, after this call's inserts, a client has more pending jobs of one
-- of p_types than the type's client_pending_limit. The raise undoes the whole call.
create or replace function queue.check_client_quota(p_types text[]) returns void
language plpgsql stable
set search_path = ''
as $$
declare
  v_over record;
begin
  if not queue.caller_is_client() then
    return;
  end if;
  select t.name, t.client_pending_limit as cap into v_over
    from public.job_types t
   where t.name = any (p_types) and t.client_pending_limit is not null
     and (select pg_catalog.count(*) from public.job_queue j
           where j.owner_id = auth.uid() and j.type = t.name and j.status = 'pending') > t.client_pending_limit
   order by t.name limit 1;
  if found then
    perform queue.raise('PT429',
      pg_catalog.format('this would give you more than %s pending %L jobs, the most one user may have', v_over.cap, v_over.name),
      'wait until some of them have run, then enqueue again; the cap is job_types.client_pending_limit');
  end if;
end
$$;
comment on function queue.check_client_quota(text[]) is
  'For clients: raise PT429 if the user now has more pending jobs of one of p_types than its client_pending_limit.';
revoke execute on function queue.check_client_quota(text[]) from public;

-- validate_job as in 20260101000300_enqueue.sql, except for depends_on when the caller
-- is a client: only the client's own jobs count (another user's job is "not one of
-- your jobs", exactly like a missing one, so its existence is not revealed), and only
-- those are share-locked.
create or replace function queue.validate_job(
  p_type text, p_payload jsonb, p_priority text, p_max_attempts integer, p_depends_on uuid[]
) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_limit bigint := coalesce((queue.setting('payload_max_bytes'))::text::bigint, 1048576);
  v_size bigint;
  v_client boolean;
  v_uid uuid := auth.uid();
  v_missing uuid;
  v_dead uuid;
begin
  if p_type is null or not exists (select 1 from public.job_types t where t.name = p_type) then
    perform queue.raise('22QT1',
      pg_catalog.format('unknown job type %L; known types: %s', p_type,
        coalesce((select pg_catalog.string_agg(t.name, ', ' order by t.name) from public.job_types t), '(none)')),
      'use one of the known types, or add one with insert into job_types (name) values (...)');
  end if;
  if p_priority is null or p_priority not in ('critical', 'high', 'normal', 'low') then
    perform queue.raise('22QP1',
      pg_catalog.format('invalid priority %L', p_priority),
      'priority must be one of: critical, high, normal, low');
  end if;
  if p_payload is null or pg_catalog.jsonb_typeof(p_payload) <> 'object' then
    perform queue.raise('22QJ1',
      pg_catalog.format('payload must be a JSON object, got %s', coalesce(pg_catalog.jsonb_typeof(p_payload), 'null')),
      'pass an object such as {"to": "a@example.com"}; wrap arrays and scalars in an object');
  end if;
  v_size := pg_catalog.octet_length(p_payload::text);
  if v_size > v_limit then
    perform queue.raise('22QJ2',
      pg_catalog.format('payload is %s bytes, larger than the limit of %s bytes', v_size, v_limit),
      'store large data elsewhere (e.g. Storage) and pass a reference; the limit is queue.settings payload_max_bytes');
  end if;
  if p_max_attempts is not null and (p_max_attempts < 1 or p_max_attempts > 1000) then
    perform queue.raise('22QA1',
      pg_catalog.format('max_attempts must be between 1 and 1000, got %s', p_max_attempts),
      'pass null to use the job type''s default');
  end if;
  if p_depends_on is not null and pg_catalog.cardinality(p_depends_on) > 0 then
    v_client := queue.caller_is_client();
    -- In id order, so concurrent enqueues lock alike. A dependency deleted (dead
    -- lettered) while we waited is then missing from the next statement's snapshot.
    perform 1 from public.job_queue j
     where j.id = any (p_depends_on) and (not v_client or j.owner_id = v_uid)
     order by j.id for share of j;
    select d into v_missing from pg_catalog.unnest(p_depends_on) d
     where not exists (select 1 from public.job_queue j
                        where j.id = d and (not v_client or j.owner_id = v_uid)) limit 1;
    if v_missing is not null then
      perform queue.raise('22QD1',
        pg_catalog.format('depends_on names job %s, which does not exist%s', v_missing,
                          case when v_client then ' or is not one of your jobs' else '' end),
        case when v_client then 'depend only on your own jobs that are still in the queue'
             else 'depend only on jobs that are in job_queue (pending, running or completed and not yet purged)' end);
    end if;
    select j.id into v_dead from public.job_queue j
     where j.id = any (p_depends_on) and j.status = 'cancelled' limit 1;
    if v_dead is not null then
      perform queue.raise('22QD2',
        pg_catalog.format('depends_on names job %s, which was cancelled and will never complete', v_dead),
        'depend only on jobs that can still complete');
    end if;
  end if;
end
$$;
comment on function queue.validate_job(text, jsonb, text, integer, uuid[]) is
  'Raise 22QT1/22QP1/22QJ1/22QJ2/22QA1/22QD1/22QD2 for a bad job description (clients: depends_on only their own jobs).';

insert into queue.schema_migrations (version) values ('20260104000110') on conflict do nothing;
