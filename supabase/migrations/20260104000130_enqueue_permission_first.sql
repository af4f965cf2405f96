-- enqueue_job and enqueue_jobs, checking permission before anything else and applying
-- the client limits (20260104000110) and the dead-letter key binding (20260104000120).
--
-- Why permission first: validation used to run first, so a client enqueueing a
-- server-only type learnt the list of types (22QT1's message), whether a job id exists
-- (22QD1 or not), and share-locked whatever jobs it named in depends_on. Now such a
-- call is refused with 42501 before any type, payload or job is looked at; a batch
-- checks every element's permission before it validates any element.
--
-- Otherwise the contracts are those of 20260101000300_enqueue.sql: every element is
-- checked before anything is written, and the same (type, idempotency_key) returns
-- the existing id (now also when a dead letter holds the key) and creates nothing.

-- One element of an enqueue_jobs batch: its permission (p_permission) or its validity
-- and, for a client (p_client), the client limits. A failure keeps its code and hint
-- and names the element.
create or replace function queue.check_enqueue_element(p_job jsonb, p_n bigint, p_permission boolean, p_client boolean)
returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_state text;
  v_msg text;
  v_hint text;
begin
  if p_permission then
    perform queue.check_enqueue_allowed(p_job ->> 'type', (p_job ->> 'owner_id')::uuid);
  else
    perform queue.validate_job(p_job ->> 'type', coalesce(p_job -> 'payload', '{}'::jsonb),
      coalesce(p_job ->> 'priority', 'normal'), (p_job ->> 'max_attempts')::integer,
      (select pg_catalog.array_agg(d::uuid) from pg_catalog.jsonb_array_elements_text(
         case when pg_catalog.jsonb_typeof(p_job -> 'depends_on') = 'array' then p_job -> 'depends_on' else '[]'::jsonb end) d));
    perform (p_job ->> 'owner_id')::uuid;  -- a uuid, or 22P02 naming the element
    if p_client then
      perform queue.check_client_job(p_job ->> 'type', coalesce(p_job ->> 'priority', 'normal'), (p_job ->> 'max_attempts')::integer);
    end if;
  end if;
exception when others then
  get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text, v_hint = pg_exception_hint;
  perform queue.raise(v_state, pg_catalog.format('p_jobs element %s: %s', p_n, v_msg), v_hint);
end
$$;
comment on function queue.check_enqueue_element(jsonb, bigint, boolean, boolean) is
  'Check one enqueue_jobs element''s permission (p_permission) or validity; errors name the element.';
revoke execute on function queue.check_enqueue_element(jsonb, bigint, boolean, boolean) from public;

-- The whole batch: its shape, then (for a client: the server may enqueue any type for
-- any owner) every element's permission, then every element's validity. Raises on the
-- first problem; writes nothing.
create or replace function queue.check_enqueue_batch(p_jobs jsonb) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_client boolean := queue.caller_is_client();
  v_e record;
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', 'p_jobs must be a JSON array of job objects',
      'pass [{"type": "email", "payload": {...}}, ...]');
  end if;
  if pg_catalog.jsonb_array_length(p_jobs) > 10000 then
    perform queue.raise('22QB2', pg_catalog.format('p_jobs has %s elements; at most 10000 per call', pg_catalog.jsonb_array_length(p_jobs)),
      'split the batch');
  end if;
  for v_e in select e.value, e.n from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, n) loop
    if pg_catalog.jsonb_typeof(v_e.value) <> 'object' then
      perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s is not an object', v_e.n),
        'each element is {"type": ..., "payload": {...}, ...}');
    end if;
    if v_client then
      perform queue.check_enqueue_element(v_e.value, v_e.n, true, true);
    end if;
  end loop;
  for v_e in select e.value, e.n from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, n) loop
    if pg_catalog.jsonb_typeof(v_e.value -> 'depends_on') not in ('array', 'null') then
      perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s: depends_on must be an array of job ids', v_e.n),
        'pass "depends_on": ["<job uuid>", ...] or leave it out');
    end if;
    perform queue.check_enqueue_element(v_e.value, v_e.n, false, v_client);
  end loop;
end
$$;
comment on function queue.check_enqueue_batch(jsonb) is
  'Check an enqueue_jobs batch: shape, then every element''s permission, then every element''s validity.';
revoke execute on function queue.check_enqueue_batch(jsonb) from public;

-- p_jobs is an array of {type, payload, priority, run_at, max_attempts, depends_on,
-- idempotency_key, rate_limit_key, owner_id}; ids come back in input order.
create or replace function public.enqueue_jobs(p_jobs jsonb) returns setof uuid
language plpgsql volatile security definer
set search_path = ''
as $$
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
  perform queue.lock_client_quota(v_types);

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
           queue.check_enqueue_allowed(e.value ->> 'type', (e.value ->> 'owner_id')::uuid) as owner_id
      from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, ord)
  ),
  inserted as (
    insert into public.job_queue (id, type, payload, priority, run_at, max_attempts, depends_on,
                                  idempotency_key, rate_limit_key, owner_id)
    select i.new_id, i.type, i.payload, i.priority, i.run_at, coalesce(i.max_attempts, t.max_attempts),
           nullif(i.depends_on, '{}'), i.idempotency_key, i.rate_limit_key, i.owner_id
      from input i join public.job_types t on t.name = i.type
     where queue.dead_letter_key_job(i.type, i.idempotency_key) is null
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

  v_undone := queue.undo_dead_lettered_keys(v_ids);
  perform queue.check_client_quota(v_types);

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
$$;
comment on function public.enqueue_jobs(jsonb) is
  'Enqueue many jobs in one statement; returns their ids in input order. Same rules as enqueue_job per element; '
  'every element''s permission is checked before any element is validated.';

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
  v_owner uuid := queue.check_enqueue_allowed(p_type, p_owner_id);
  v_key text := queue.client_idempotency_key(p_idempotency_key);
  v_id uuid;
begin
  perform queue.validate_job(p_type, p_payload, p_priority, p_max_attempts, p_depends_on);
  perform queue.check_client_job(p_type, p_priority, p_max_attempts);
  perform queue.lock_client_quota(array[p_type]);
  loop
    v_id := queue.dead_letter_key_job(p_type, v_key);
    exit when v_id is not null;
    with inserted as (
      insert into public.job_queue (type, payload, priority, run_at, max_attempts, depends_on,
                                    idempotency_key, rate_limit_key, owner_id)
      select p_type, p_payload, p_priority::public.job_priority, queue.client_run_at(p_run_at),
             coalesce(p_max_attempts, t.max_attempts), nullif(p_depends_on, '{}'),
             v_key, queue.client_scoped_key(p_rate_limit_key), v_owner
        from public.job_types t where t.name = p_type
      on conflict (type, idempotency_key) where idempotency_key is not null do nothing
      returning id
    ), history as (
      insert into public.job_status_history (job_id, from_status, to_status, note)
      select i.id, null, 'pending', 'enqueued' from inserted i
    )
    select i.id into v_id from inserted i;
    if v_id is not null and pg_catalog.cardinality(queue.undo_dead_lettered_keys(array[v_id])) = 0 then
      perform queue.check_client_quota(array[p_type]);
      exit;
    end if;
    -- The key exists (or a racing insert just committed it): return that job. If
    -- the holder vanished (purged, rolled back, or just dead-lettered), go round again.
    select j.id into v_id from public.job_queue j where j.type = p_type and j.idempotency_key = v_key;
    exit when v_id is not null;
  end loop;
  return v_id;
end
$$;
comment on function public.enqueue_job(text, jsonb, text, timestamptz, integer, uuid[], text, text, uuid) is
  'Enqueue one job and return its id. Same (type, idempotency_key) returns the existing id (also one in the dead letter) '
  'and creates nothing. Raises 42501 not allowed for this caller (checked first), then 22QT1 unknown type, 22QP1 bad '
  'priority, 22QJ1/22QJ2 bad payload, 22QA1 bad max_attempts, 22QD1/22QD2 bad depends_on, PT429 client pending cap.';

insert into queue.schema_migrations (version) values ('20260104000130') on conflict do nothing;
