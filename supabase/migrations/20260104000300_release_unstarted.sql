-- Giving back, after a failed invocation, every job it holds and did not start.
--
-- Why: an invocation that loses its connection mid-run knows the jobs it prefetched, but
-- not those of a claim whose answer never arrived (the claim committed, the connection
-- broke before the rows came back). They are running under its worker id and would wait
-- out their lock (30-45 s in production, attempts counted by cleanup_stuck_jobs). The
-- worker id is unique per invocation, so the database knows them all.
--
-- release_unstarted_jobs(p_worker_id, p_started, p_reason): each job running under
-- p_worker_id whose id is not in p_started goes back to pending, due now, without
-- counting the attempt (as release_jobs does), with p_reason in its history. Jobs in
-- p_started ran (or still run, abandoned after their timeout): they are left alone, so
-- a side effect that happened is never repeated because of this call. Returns the ids
-- released. Raises 22QW1 for an empty or over-long worker id.

create or replace function public.release_unstarted_jobs(
  p_worker_id text,
  p_started uuid[] default '{}',
  p_reason text default 'not started: the invocation failed'
) returns setof uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  if p_worker_id is null or pg_catalog.length(p_worker_id) = 0 or pg_catalog.length(p_worker_id) > 200 then
    perform queue.raise('22QW1', 'p_worker_id must be a non-empty text of at most 200 characters',
      'pass the id the invocation claimed with');
  end if;
  return query
  with released as (
    update public.job_queue j
       set status = 'pending', attempts = greatest(j.attempts - 1, 0), run_at = v_now,
           locked_by = null, locked_until = null, updated_at = v_now
     where j.status = 'running' and j.locked_by = p_worker_id
       and j.id <> all (coalesce(p_started, '{}'))
    returning j.id
  ),
  history as (
    insert into public.job_status_history (job_id, from_status, to_status, worker_id, note, at)
    select r.id, 'running', 'pending', p_worker_id,
           coalesce(p_reason, 'not started: the invocation failed'), v_now
      from released r
  )
  select r.id from released r;
end
$$;
comment on function public.release_unstarted_jobs(text, uuid[], text) is
  'After a failed invocation: return every job running under p_worker_id and not in p_started to pending, '
  'due now, without counting the attempt; returns the ids released. Raises 22QW1 bad worker id.';
revoke execute on function public.release_unstarted_jobs(text, uuid[], text) from public, anon, authenticated;
grant execute on function public.release_unstarted_jobs(text, uuid[], text) to service_role;

insert into queue.schema_migrations (version) values ('20260104000300') on conflict do nothing;
