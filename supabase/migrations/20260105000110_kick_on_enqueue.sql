-- Kick on enqueue: wake a worker when ready jobs arrive, once per statement.
--
-- Contract:
-- After each INSERT statement on job_queue that added ready jobs (pending, run_at not after the statement's clock),
-- queue.kick_on_insert() runs once, however many rows the statement wrote (a bulk enqueue of
-- 10,000 kicks once). It always sends pg_notify('queue_worker_jobs', '{"types": [...]}')
-- (the arrived types, sorted; "types": null when they would not fit in a small payload);
-- PostgreSQL delivers it at commit and folds identical ones of one transaction together.
-- `queue-worker dev` and the resident worker LISTEN on that channel. Then, per kick_group of
-- those types, unless a kick of that group is in flight (younger than kick_window_ms and
-- unanswered, or answered by an invocation still running), it writes one job_kicks row:
-- via pg_net (trigger_queue_worker POSTs the worker: all types for 'default', ?type= the
-- group's types otherwise) where pg_net is installed, worker_url is set and kick_http is
-- true, else via notify. Only that write path takes a lock (a transaction advisory lock per
-- group, tried, never waited for) and re-reads, so concurrent enqueuers write one kick.
-- A kick never fails an enqueue: a failing POST is a WARNING and the kick is kept as notify.
-- Jobs due later are not kicked: the scheduler tick runs them.
-- A row UPDATE that makes a running job ready again (running -> pending, due by the clock: a
-- release or a lock that expired) sends the same notify, nothing else (cheap: the trigger's
-- WHEN filters rows before any function runs).

-- The notify payload: {"types": [...]} or {"types": null} (= any type) past 50 types or 4000 bytes.
create or replace function queue.kick_payload(p_types text[]) returns text
language sql immutable
set search_path = ''
as $$
  select case when pg_catalog.cardinality(p_types) <= 50
                   and pg_catalog.octet_length(pg_catalog.jsonb_build_object('types', p_types)::text) <= 4000
              then pg_catalog.jsonb_build_object('types', p_types)::text
              else '{"types": null}' end
$$;
comment on function queue.kick_payload(text[]) is
  'The queue_worker_jobs notify payload: {"types": [...]}, or {"types": null} when too many to list.';

-- A kick of this group younger than kick_window_ms that nobody answered yet, or that an
-- invocation still running answered (it will claim what arrives): no new kick needed.
-- plpgsql, not sql: its plans are cached, and this read runs on every enqueue.
create or replace function queue.kick_in_flight(p_group text) returns boolean
language plpgsql stable
set search_path = ''
set plan_cache_mode = force_generic_plan
as $$
declare
  v_window_ms numeric := (select s.value::numeric from queue.settings s where s.key = 'kick_window_ms');
begin
  return exists (
    select 1 from public.job_kicks k
      left join public.worker_runs r on r.worker_id = k.answered_by
     where k.kick_group = p_group
       and k.kicked_at > pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => coalesce(v_window_ms, 2000) / 1000)
       and (k.answered_at is null or (r.worker_id is not null and r.finished_at is null)));
end
$$;
comment on function queue.kick_in_flight(text) is
  'Whether the group has a kick younger than kick_window_ms that is unanswered or answered by a running invocation.';

-- Whether a kick may POST the worker through pg_net: pg_net installed, worker_url set, kick_http on.
create or replace function queue.kick_over_http() returns boolean
language sql stable
set search_path = ''
as $$
  select pg_catalog.to_regnamespace('net') is not null
     and coalesce(queue.setting('worker_url') #>> '{}', '') <> ''
     and coalesce((queue.setting('kick_http'))::boolean, true)
$$;
comment on function queue.kick_over_http() is 'pg_net installed, worker_url set and kick_http true.';

-- Write one kick for the group unless another transaction is writing one or one is in flight.
create or replace function queue.kick_group(p_group text) returns void
language plpgsql volatile
set search_path = ''
as $$
declare
  v_via text := 'notify';
  v_request bigint;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('queue-worker kick'), pg_catalog.hashtext(p_group))
     or queue.kick_in_flight(p_group) then  -- re-read: a kick committed since the first look
    return;
  end if;
  if queue.kick_over_http() then
    begin
      v_request := public.trigger_queue_worker('process',
        case when p_group <> 'default' then
          (select pg_catalog.string_agg(t.name, ',' order by t.name) from public.job_types t where t.kick_group = p_group)
        end, null);
      v_via := case when v_request is null then 'notify' else 'pg_net' end;
    exception when others then
      raise warning 'kick of group %: the POST through pg_net failed (%); the scheduler tick runs the jobs', p_group, sqlerrm;
    end;
  end if;
  -- Old kicks go when their group kicks again: no sweep job, at most one delete per window.
  delete from public.job_kicks k where k.kick_group = p_group and k.kicked_at < pg_catalog.now() - interval '1 day';
  insert into public.job_kicks (kick_group, via, request_id) values (p_group, v_via, v_request);
end
$$;
comment on function queue.kick_group(text) is
  'Write (and send over pg_net where configured) one kick for the group unless one is in flight or being written.';

-- Notify always, then a kick per group of the arrived types that has none in flight. The
-- hot path of every enqueue: one query on the transition table, the notify, one cached read
-- (the same test as queue.kick_in_flight, inlined) that finds no group to kick most of the time.
create or replace function queue.kick_on_insert() returns trigger
language plpgsql volatile security definer
set search_path = ''
-- A custom plan per call (what plpgsql picks here for the array parameter) costs more
-- planning than the query costs to run; the generic plan is as good for a few rows.
set plan_cache_mode = force_generic_plan
as $$
declare
  v_types text[];
  v_group text;
begin
  select pg_catalog.array_agg(distinct n.type) into v_types
    from new_jobs n where n.status = 'pending' and n.run_at <= pg_catalog.clock_timestamp();
  if v_types is null then
    return null;
  end if;
  perform pg_catalog.pg_notify('queue_worker_jobs', queue.kick_payload(v_types));
  for v_group in
    select distinct t.kick_group from public.job_types t
     where t.name = any (v_types)
       and not exists (
         select 1 from public.job_kicks k
           left join public.worker_runs r on r.worker_id = k.answered_by
          where k.kick_group = t.kick_group
            and k.kicked_at > pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => coalesce(
                  (select s.value::numeric from queue.settings s where s.key = 'kick_window_ms'), 2000) / 1000)
            and (k.answered_at is null or (r.worker_id is not null and r.finished_at is null)))
  loop
    perform queue.kick_group(v_group);
  end loop;
  return null;
end
$$;
comment on function queue.kick_on_insert() is
  'Statement trigger on job_queue inserts: notify queue_worker_jobs {"types": the ready types inserted}, then kick each of their groups with no kick in flight.';

create or replace function queue.kick_on_ready_again() returns trigger
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  perform pg_catalog.pg_notify('queue_worker_jobs', queue.kick_payload(array[new.type]));
  return null;
end
$$;
comment on function queue.kick_on_ready_again() is
  'Row trigger (WHEN running -> pending and due): notify queue_worker_jobs; identical notifies fold per transaction.';

drop trigger if exists job_queue_kick_on_insert on public.job_queue;
create trigger job_queue_kick_on_insert after insert on public.job_queue
  referencing new table as new_jobs
  for each statement execute function queue.kick_on_insert();

drop trigger if exists job_queue_kick_on_ready_again on public.job_queue;
create trigger job_queue_kick_on_ready_again after update of status on public.job_queue
  for each row when (old.status = 'running' and new.status = 'pending' and new.run_at <= pg_catalog.clock_timestamp())
  execute function queue.kick_on_ready_again();

revoke execute on function queue.kick_payload(text[]) from public;
revoke execute on function queue.kick_in_flight(text) from public;
revoke execute on function queue.kick_over_http() from public;
revoke execute on function queue.kick_group(text) from public;
revoke execute on function queue.kick_on_insert() from public;
revoke execute on function queue.kick_on_ready_again() from public;

insert into queue.schema_migrations (version) values ('20260105000110') on conflict do nothing;
