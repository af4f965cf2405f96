-- Enqueueing: enqueue_job (one) and enqueue_jobs (many, one statement).
--
-- Both validate every element before writing anything, so a bad element leaves
-- no partial batch behind. Same (type, idempotency_key) returns the existing id
-- and creates nothing, also when identical calls race.

-- Validates one job description; returns nothing, raises on the first problem.
-- Share-locks the jobs named in p_depends_on until the caller's transaction ends, so a
-- dependency cannot be cancelled or dead-lettered unseen while the new job is being
-- enqueued: that change waits, and its cascade then cancels the new job too.
create or replace function queue.validate_job(
  p_type text, p_payload jsonb, p_priority text, p_max_attempts integer, p_depends_on uuid[]
) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_limit bigint := coalesce((queue.setting('payload_max_bytes'))::text::bigint, 1048576);
  v_size bigint;
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
    -- In id order, so concurrent enqueues lock alike. A dependency deleted (dead
    -- lettered) while we waited is then missing from the next statement's snapshot.
    perform 1 from public.job_queue j where j.id = any (p_depends_on) order by j.id for share of j;
    select d into v_missing from pg_catalog.unnest(p_depends_on) d
     where not exists (select 1 from public.job_queue j where j.id = d) limit 1;
    if v_missing is not null then
      perform queue.raise('22QD1',
        pg_catalog.format('depends_on names job %s, which does not exist', v_missing),
        'depend only on jobs that are in job_queue (pending, running or completed and not yet purged)');
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
  'Raise 22QT1/22QP1/22QJ1/22QJ2/22QA1/22QD1/22QD2 for a bad job description; otherwise do nothing.';

-- Who may enqueue what: service_role and database owners anything; authenticated
-- users only client_enqueueable types, always as themselves.
create or replace function queue.check_enqueue_allowed(p_type text, p_owner_id uuid) returns uuid
language plpgsql stable
set search_path = ''
as $$
declare
  v_role text := queue.caller_role();
  v_uid uuid := auth.uid();
begin
  if v_role not in ('anon', 'authenticated') then
    return coalesce(p_owner_id, v_uid);
  end if;
  if v_role = 'anon' or v_uid is null then
    perform queue.raise('42501', 'only signed-in users may enqueue jobs', 'sign in, or enqueue from the server with the service role');
  end if;
  if not exists (select 1 from public.job_types t where t.name = p_type and t.client_enqueueable) then
    perform queue.raise('42501',
      pg_catalog.format('job type %L cannot be enqueued by clients', p_type),
      'enqueue it from the server with the service role, or set job_types.client_enqueueable for it');
  end if;
  if p_owner_id is not null and p_owner_id <> v_uid then
    perform queue.raise('42501', 'clients can only enqueue jobs they own', 'leave p_owner_id null; it defaults to auth.uid()');
  end if;
  return v_uid;
end
$$;

-- The idempotency key as stored. Keys are unique per type; a client's key is scoped
-- to its user ("user:<uid>:<key>"), so two users' identical keys are two jobs and no
-- user can learn the id of someone else's job by guessing their key.
create or replace function queue.client_idempotency_key(p_key text) returns text
language sql stable
set search_path = ''
as $$
  select case when p_key is not null and queue.caller_role() in ('anon', 'authenticated')
              then pg_catalog.format('user:%s:%s', auth.uid(), p_key) else p_key end
$$;

-- Bulk enqueue: the one implementation both enqueue functions share.
-- p_jobs is an array of {type, payload, priority, run_at, max_attempts, depends_on,
-- idempotency_key, rate_limit_key, owner_id}; ids come back in input order.
create or replace function public.enqueue_jobs(p_jobs jsonb) returns setof uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_job jsonb;
  v_i integer := 0;
  v_ids uuid[];
  v_types text[];
  v_keys text[];
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', 'p_jobs must be a JSON array of job objects',
      'pass [{"type": "email", "payload": {...}}, ...]');
  end if;
  if pg_catalog.jsonb_array_length(p_jobs) > 10000 then
    perform queue.raise('22QB2', pg_catalog.format('p_jobs has %s elements; at most 10000 per call', pg_catalog.jsonb_array_length(p_jobs)),
      'split the batch');
  end if;
  for v_job in select value from pg_catalog.jsonb_array_elements(p_jobs) loop
    v_i := v_i + 1;
    if pg_catalog.jsonb_typeof(v_job) <> 'object' then
      perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s is not an object', v_i),
        'each element is {"type": ..., "payload": {...}, ...}');
    end if;
    if pg_catalog.jsonb_typeof(v_job -> 'depends_on') not in ('array', 'null') then
      perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s: depends_on must be an array of job ids', v_i),
        'pass "depends_on": ["<job uuid>", ...] or leave it out');
    end if;
    begin
      perform queue.validate_job(v_job ->> 'type', coalesce(v_job -> 'payload', '{}'::jsonb),
        coalesce(v_job ->> 'priority', 'normal'), (v_job ->> 'max_attempts')::integer,
        (select pg_catalog.array_agg(d::uuid) from pg_catalog.jsonb_array_elements_text(
           case when pg_catalog.jsonb_typeof(v_job -> 'depends_on') = 'array' then v_job -> 'depends_on' else '[]'::jsonb end) d));
      perform queue.check_enqueue_allowed(v_job ->> 'type', (v_job ->> 'owner_id')::uuid);
    exception when others then
      -- Keep the code and hint; say which element was wrong.
      declare v_state text; v_msg text; v_hint text;
      begin
        get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text, v_hint = pg_exception_hint;
        perform queue.raise(v_state, pg_catalog.format('p_jobs element %s: %s', v_i, v_msg), v_hint);
      end;
    end;
  end loop;

  with input as (
    select e.ord,
           gen_random_uuid() as new_id,
           e.value ->> 'type' as type,
           coalesce(e.value -> 'payload', '{}'::jsonb) as payload,
           coalesce(e.value ->> 'priority', 'normal')::public.job_priority as priority,
           coalesce((e.value ->> 'run_at')::timestamptz, pg_catalog.now()) as run_at,
           (e.value ->> 'max_attempts')::integer as max_attempts,
           case when pg_catalog.jsonb_typeof(e.value -> 'depends_on') = 'array'
                then (select pg_catalog.array_agg(d::uuid) from pg_catalog.jsonb_array_elements_text(e.value -> 'depends_on') d) end as depends_on,
           queue.client_idempotency_key(e.value ->> 'idempotency_key') as idempotency_key,
           e.value ->> 'rate_limit_key' as rate_limit_key,
           queue.check_enqueue_allowed(e.value ->> 'type', (e.value ->> 'owner_id')::uuid) as owner_id
      from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, ord)
  ),
  inserted as (
    insert into public.job_queue (id, type, payload, priority, run_at, max_attempts, depends_on,
                                  idempotency_key, rate_limit_key, owner_id)
    select i.new_id, i.type, i.payload, i.priority, i.run_at, coalesce(i.max_attempts, t.max_attempts),
           nullif(i.depends_on, '{}'), i.idempotency_key, i.rate_limit_key, i.owner_id
      from input i join public.job_types t on t.name = i.type
     order by i.ord
    on conflict (type, idempotency_key) where idempotency_key is not null do nothing
    returning id
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, note)
    select ins.id, null, 'pending', 'enqueued' from inserted ins
  )
  select pg_catalog.array_agg(case when ins.id is not null then i.new_id end order by i.ord),
         pg_catalog.array_agg(i.type order by i.ord),
         pg_catalog.array_agg(i.idempotency_key order by i.ord)
    into v_ids, v_types, v_keys
    from input i left join inserted ins on ins.id = i.new_id;

  -- Elements that hit an existing key (earlier, in this call, or in a racing call
  -- that has since committed) return that job's id. A new statement, so a new
  -- snapshot: it sees what the insert above waited for.
  return query
  select coalesce(x.id, (select j.id from public.job_queue j
                          where j.type = x.type and j.idempotency_key = x.key))
    from unnest(v_ids, v_types, v_keys) with ordinality as x(id, type, key, ord)
   order by x.ord;
end
$$;
comment on function public.enqueue_jobs(jsonb) is
  'Enqueue many jobs in one statement; returns their ids in input order. Same rules as enqueue_job per element.';

create or replace function public.enqueue_job(
  p_type text,
  p_payload jsonb default '{}'::jsonb,
  p_priority text default 'normal',
  p_run_at timestamptz default now(),
  p_max_attempts integer default null,
  p_depends_on uuid[] default null,
  p_idempotency_key text default null,
  p_rate_limit_key text default null,
  p_owner_id uuid default null
) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_owner uuid;
  v_key text := queue.client_idempotency_key(p_idempotency_key);
  v_id uuid;
begin
  perform queue.validate_job(p_type, p_payload, p_priority, p_max_attempts, p_depends_on);
  v_owner := queue.check_enqueue_allowed(p_type, p_owner_id);

  loop
    with inserted as (
      insert into public.job_queue (type, payload, priority, run_at, max_attempts, depends_on,
                                    idempotency_key, rate_limit_key, owner_id)
      select p_type, p_payload, p_priority::public.job_priority, coalesce(p_run_at, pg_catalog.now()),
             coalesce(p_max_attempts, t.max_attempts), nullif(p_depends_on, '{}'),
             v_key, p_rate_limit_key, v_owner
        from public.job_types t where t.name = p_type
      on conflict (type, idempotency_key) where idempotency_key is not null do nothing
      returning id
    ), history as (
      insert into public.job_status_history (job_id, from_status, to_status, note)
      select i.id, null, 'pending', 'enqueued' from inserted i
    )
    select i.id into v_id from inserted i;
    if v_id is not null then
      return v_id;
    end if;
    -- The key exists (or a racing insert just committed it): return that job.
    select j.id into v_id from public.job_queue j
     where j.type = p_type and j.idempotency_key = v_key;
    if v_id is not null then
      return v_id;
    end if;
    -- The conflicting row vanished (purged or rolled back) between the two
    -- statements: try the insert again.
  end loop;
end
$$;
comment on function public.enqueue_job(text, jsonb, text, timestamptz, integer, uuid[], text, text, uuid) is
  'Enqueue one job and return its id. Same (type, idempotency_key) returns the existing id and creates nothing. '
  'Raises 22QT1 unknown type, 22QP1 bad priority, 22QJ1 payload not an object, 22QJ2 payload too large, '
  '22QA1 bad max_attempts, 22QD1/22QD2 bad depends_on, 42501 not allowed for this caller.';

insert into queue.schema_migrations (version) values ('20260101000300') on conflict do nothing;
