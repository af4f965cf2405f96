-- Why a worker no longer holds a job, for a processor whose heartbeat
-- (update_job_progress) answered false: a job cancelled by an operator must be cleaned up
-- and not left for "another worker", a lease another worker took over must keep what that
-- worker may need (an audio render's stored parts).
--
-- Contract:
-- job_lease_state(p_job_id, p_worker_id) returns
--   'held'      the job is running and locked by p_worker_id;
--   'cancelled' the job was cancelled (cancel_job, the console): nobody runs it again;
--   'lost'      any other state: another worker holds it, or it is pending or completed
--               after this worker's lock expired;
--   'gone'      not in job_queue any more: dead-lettered (a replay is a new job) or purged.
-- Read-only. A null p_job_id raises 22Q01; a bad p_worker_id 22QW1 (queue.require_worker_id).

create or replace function public.job_lease_state(p_job_id uuid, p_worker_id text)
returns text
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_status public.job_status;
  v_locked_by text;
begin
  if p_job_id is null then
    perform queue.raise('22Q01', 'p_job_id must be the id of a job, got null', 'pass the job id you claimed');
  end if;
  perform queue.require_worker_id(p_worker_id);
  select j.status, j.locked_by into v_status, v_locked_by from public.job_queue j where j.id = p_job_id;
  if not found then
    return 'gone';
  end if;
  return case
    when v_status = 'running' and v_locked_by = p_worker_id then 'held'
    when v_status = 'cancelled' then 'cancelled'
    else 'lost'
  end;
end
$$;
comment on function public.job_lease_state(uuid, text) is
  'Why p_worker_id may no longer hold job p_job_id: held, cancelled, lost (another worker or a later attempt) or gone (dead-lettered or purged). Raises 22Q01 for a null job id, 22QW1 for a bad worker id.';
revoke execute on function public.job_lease_state(uuid, text) from public, anon, authenticated;
grant execute on function public.job_lease_state(uuid, text) to service_role;

insert into queue.schema_migrations (version) values ('20260107000500') on conflict do nothing;
