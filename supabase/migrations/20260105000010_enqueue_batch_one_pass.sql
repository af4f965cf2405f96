-- enqueue_jobs checks a clean batch in one set-based pass.
--
-- queue.check_enqueue_batch checked every element through queue.check_enqueue_element: a
-- PL/pgSQL call with an exception block (a subtransaction) and validate_job's lookups per
-- element, about 30 of the 45 ms a batch of 1,000 took. Now one query first asks whether
-- every element is plainly valid; only when one is not (or the caller is a client, whose
-- checks lock quotas, or an element has dependencies, which need locks) do the
-- per-element checks run, and they, as before, find the first bad element and raise the
-- error naming it. So the pass may only say "clean" when the per-element checks would
-- pass: each condition below is one of theirs, and anything it cannot decide cheaply
-- (a dependency, a value that is not plainly an integer or uuid) sends the batch the
-- slow way.

create or replace function queue.enqueue_batch_is_plainly_valid(p_jobs jsonb)
returns boolean
language sql
stable
set search_path = ''
as $$
  select coalesce(pg_catalog.bool_and(
           pg_catalog.jsonb_typeof(e) = 'object'
           and t.name is not null
           and coalesce(pg_catalog.jsonb_typeof(e -> 'depends_on'), 'null') = 'null'
           and coalesce(e ->> 'priority', 'normal') in ('critical', 'high', 'normal', 'low')
           and pg_catalog.jsonb_typeof(coalesce(e -> 'payload', '{}'::jsonb)) = 'object'
           and pg_catalog.octet_length(coalesce(e -> 'payload', '{}'::jsonb)::text) <= l.max_bytes
           and case when e -> 'max_attempts' is null or pg_catalog.jsonb_typeof(e -> 'max_attempts') = 'null' then true
                    when (e ->> 'max_attempts') ~ '^[0-9]{1,4}$' then (e ->> 'max_attempts')::integer between 1 and 1000
                    else false end
           and case when e -> 'owner_id' is null or pg_catalog.jsonb_typeof(e -> 'owner_id') = 'null' then true
                    else (e ->> 'owner_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' end),
         true)
    from pg_catalog.jsonb_array_elements(p_jobs) e
    left join public.job_types t on t.name = e ->> 'type'
    cross join (select coalesce((queue.setting('payload_max_bytes'))::text::bigint, 1048576) as max_bytes) l
$$;
comment on function queue.enqueue_batch_is_plainly_valid(p_jobs jsonb) is
  'True when every element of an enqueue_jobs batch (an array) passes the per-element checks for the server: known type, valid priority, an object payload within payload_max_bytes, max_attempts 1-1000, a uuid owner_id, and no depends_on. False sends the batch through the per-element checks.';
revoke execute on function queue.enqueue_batch_is_plainly_valid(jsonb) from public, anon, authenticated;

create or replace function queue.check_enqueue_batch(p_jobs jsonb)
returns void
language plpgsql
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
  if not v_client and queue.enqueue_batch_is_plainly_valid(p_jobs) then
    return;
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
comment on function queue.check_enqueue_batch(p_jobs jsonb) is
  'Check an enqueue_jobs batch: shape, then (unless queue.enqueue_batch_is_plainly_valid says it is clean) every element''s permission, then every element''s validity.';

insert into queue.schema_migrations (version) values ('20260105000010') on conflict do nothing;
