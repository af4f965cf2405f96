-- worker_run_start answers the kicks it starts for.
--
-- Contract: worker_run_start(p_worker_id, p_meta) records the invocation as before
-- (idempotent per worker id) and marks answered, by this worker at this time, every
-- unanswered kick of the last hour whose group holds one of the invocation's types
-- (p_meta->'types', a JSON array; absent or null = every type, so every group). A second
-- call with the same worker id answers nothing more. Same signature and result as before.

create or replace function public.worker_run_start(p_worker_id text, p_meta jsonb default '{}'::jsonb) returns void
language sql volatile security definer
set search_path = ''
as $$
  with started as (
    insert into public.worker_runs (worker_id, meta) values (p_worker_id, coalesce(p_meta, '{}'::jsonb))
    on conflict (worker_id) do nothing
    returning worker_id, meta
  ),
  types as (
    select case when pg_catalog.jsonb_typeof(s.meta -> 'types') = 'array'
                then array(select pg_catalog.jsonb_array_elements_text(s.meta -> 'types')) end as names
      from started s
  )
  update public.job_kicks k
     set answered_at = pg_catalog.clock_timestamp(), answered_by = p_worker_id
    from types
   where k.answered_at is null
     and k.kicked_at > pg_catalog.now() - interval '1 hour'
     and (types.names is null
          or k.kick_group in (select t.kick_group from public.job_types t where t.name = any (types.names)))
$$;
comment on function public.worker_run_start(text, jsonb) is
  'Record the start of a worker invocation and answer the unanswered kicks (last hour) of the groups of its types (all when p_meta has no types).';

insert into queue.schema_migrations (version) values ('20260105000120') on conflict do nothing;
