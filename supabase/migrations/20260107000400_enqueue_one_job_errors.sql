-- enqueue_jobs errors for a batch of one job name the field, not the batch element.
--
-- Every door that enqueues one job (`?action=enqueue`, `queue-worker enqueue`, the console's
-- form) sends enqueue_jobs a one-element p_jobs, so a person who typed
-- `--depends-on <id>` read "p_jobs element 1: depends_on names job ..., which does not
-- exist": a parameter name they never wrote. For a one-element batch the message is now
-- what enqueue_job says for the same job ("depends_on names job ..."); from two elements
-- on it names the element as before ("p_jobs element 2: ..."). Codes and hints unchanged.

-- `p_jobs element 2: <message>`, or the message alone when p_n is null.
create or replace function queue.enqueue_element_message(p_n bigint, p_message text)
returns text
language sql immutable
set search_path = ''
as $$
  select case when p_n is null then p_message else pg_catalog.format('p_jobs element %s: %s', p_n, p_message) end
$$;
comment on function queue.enqueue_element_message(bigint, text) is
  'An enqueue_jobs error message naming element p_n of the batch, or p_message alone when p_n is null (a batch of one job).';
revoke execute on function queue.enqueue_element_message(bigint, text) from public, anon, authenticated;

-- One element of an enqueue_jobs batch: its permission (p_permission) or its validity and,
-- for a client (p_client), the client limits. A failure keeps its code and hint; its
-- message names the element p_n, or nothing when p_n is null (a batch of one).
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
    perform (p_job ->> 'owner_id')::uuid;  -- a uuid, or 22P02
    if p_client then
      perform queue.check_client_job(p_job ->> 'type', coalesce(p_job ->> 'priority', 'normal'), (p_job ->> 'max_attempts')::integer);
    end if;
  end if;
exception when others then
  get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text, v_hint = pg_exception_hint;
  perform queue.raise(v_state, queue.enqueue_element_message(p_n, v_msg), v_hint);
end
$$;
comment on function queue.check_enqueue_element(jsonb, bigint, boolean, boolean) is
  'Check one enqueue_jobs element''s permission (p_permission) or validity; errors name the element p_n (nothing when p_n is null: a batch of one).';
revoke execute on function queue.check_enqueue_element(jsonb, bigint, boolean, boolean) from public, anon, authenticated;

-- As 20260105000010, but a batch of one passes no element number, so its errors read as
-- enqueue_job's ("depends_on must be an array of job ids", "the job must be an object").
create or replace function queue.check_enqueue_batch(p_jobs jsonb)
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_client boolean := queue.caller_is_client();
  v_one boolean;
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
  v_one := pg_catalog.jsonb_array_length(p_jobs) = 1;
  for v_e in select e.value, case when v_one then null else e.n end as n
               from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, n) loop
    if pg_catalog.jsonb_typeof(v_e.value) <> 'object' then
      perform queue.raise('22QJ3', case when v_one then 'the job must be a JSON object'
                                        else pg_catalog.format('p_jobs element %s is not an object', v_e.n) end,
        'each element is {"type": ..., "payload": {...}, ...}');
    end if;
    if v_client then
      perform queue.check_enqueue_element(v_e.value, v_e.n, true, true);
    end if;
  end loop;
  for v_e in select e.value, case when v_one then null else e.n end as n
               from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, n) loop
    if pg_catalog.jsonb_typeof(v_e.value -> 'depends_on') not in ('array', 'null') then
      perform queue.raise('22QJ3', queue.enqueue_element_message(v_e.n, 'depends_on must be an array of job ids'),
        'pass "depends_on": ["<job uuid>", ...] or leave it out');
    end if;
    perform queue.check_enqueue_element(v_e.value, v_e.n, false, v_client);
  end loop;
end
$$;
comment on function queue.check_enqueue_batch(p_jobs jsonb) is
  'Check an enqueue_jobs batch: shape, then (unless queue.enqueue_batch_is_plainly_valid says it is clean) every element''s permission, then every element''s validity. Errors name the element, except in a batch of one job.';
revoke execute on function queue.check_enqueue_batch(jsonb) from public, anon, authenticated;

insert into queue.schema_migrations (version) values ('20260107000400') on conflict do nothing;
