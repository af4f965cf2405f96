-- How many jobs of some types wait, for health's processor check: a processor that is
-- not configured (a missing API key) only degrades health when its jobs are waiting.
--
-- Contract:
-- pending_jobs_by_type(p_types) returns {type: n} for each of p_types with n pending jobs
-- (ready or delayed), 0 included; p_types is a JSON array of names (jsonb, so both backends'
-- rpc pass it as is); null or [] gives {}, anything but an array of strings 22Q01. Reads only pending rows
-- (job_queue_claim_idx is partial on pending), so finished history costs nothing.

create or replace function public.pending_jobs_by_type(p_types jsonb)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_types text[];
begin
  if p_types is null then
    return '{}'::jsonb;
  end if;
  if pg_catalog.jsonb_typeof(p_types) <> 'array'
     or exists (select 1 from pg_catalog.jsonb_array_elements(p_types) e where pg_catalog.jsonb_typeof(e) <> 'string') then
    perform queue.raise('22Q01', 'p_types must be a JSON array of job type names, e.g. ["payout"]');
  end if;
  select pg_catalog.array_agg(e) into v_types from pg_catalog.jsonb_array_elements_text(p_types) e;
  return (select coalesce(pg_catalog.jsonb_object_agg(t.type, coalesce(c.n, 0)), '{}'::jsonb)
            from pg_catalog.unnest(coalesce(v_types, '{}'::text[])) as t(type)
            left join (select j.type, pg_catalog.count(*) as n
                         from public.job_queue j
                        where j.status = 'pending' and j.type = any (v_types)
                        group by j.type) c on c.type = t.type);
end
$$;
comment on function public.pending_jobs_by_type(jsonb) is
  'Pending jobs per type for each of p_types ({type: n}, zeros included): health degrades an unconfigured processor only when its jobs wait.';
revoke execute on function public.pending_jobs_by_type(jsonb) from public, anon, authenticated;
grant execute on function public.pending_jobs_by_type(jsonb) to service_role;

insert into queue.schema_migrations (version) values ('20260106000900') on conflict do nothing;
