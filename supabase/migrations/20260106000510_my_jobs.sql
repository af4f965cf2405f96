-- my_jobs: the signed-in user's own jobs in one list, for an app's "my tasks" view.
--
-- Contract:
-- my_jobs(p_limit 1-1000, default 50) returns the caller's (auth.uid()) newest jobs by
-- created_at, newest first: the ones in job_queue with their status (pending, running,
-- completed, cancelled), progress, progress_message and result, and the ones that failed
-- for good (in job_dead_letter) with status 'failed', finished_at = when they failed and
-- replayed_job_id = the job an operator replayed it as (null until then). id is the job's
-- id in both cases, so an app tracking a job by id sees it turn 'failed'. Only the columns
-- a client may select from the tables (no payload, no error text). No user (no JWT, or the
-- service role) gets no rows. 22QB1 when p_limit is not 1-1000 (PostgREST caps at 1000).
-- Executable by authenticated (and service_role, like every public function); not anon.

create or replace function public.my_jobs(p_limit integer default 50)
returns table (id uuid, type text, status text, progress smallint, progress_message text, result jsonb,
               created_at timestamptz, started_at timestamptz, finished_at timestamptz,
               updated_at timestamptz, replayed_job_id uuid)
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_owner uuid := auth.uid();
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('limit must be 1-1000, got %s', coalesce(p_limit::text, 'null')),
                        'pass p_limit between 1 and 1000, or leave it out for 50');
  end if;
  if v_owner is null then
    return;
  end if;
  return query
    select u.* from (
      (select j.id, j.type, j.status::text, j.progress, j.progress_message, j.result, j.created_at,
              j.started_at, j.finished_at, j.updated_at, null::uuid
         from public.job_queue j
        where j.owner_id = v_owner
        order by j.created_at desc
        limit p_limit)
      union all
      (select d.job_id, d.type, 'failed'::text, null::smallint, null::text, null::jsonb, d.job_created_at,
              null::timestamptz, d.failed_at, coalesce(d.replayed_at, d.failed_at), d.replayed_job_id
         from public.job_dead_letter d
        where d.owner_id = v_owner
        order by d.job_created_at desc
        limit p_limit)
    ) u
    order by 7 desc, 1
    limit p_limit;
end
$$;
comment on function public.my_jobs(integer) is
  'The caller''s (auth.uid()) newest p_limit (1-1000, default 50) jobs: status pending/running/completed/cancelled '
  'from job_queue or failed from job_dead_letter, progress, result, times; no payload or errors. 22QB1 for a bad limit.';
revoke execute on function public.my_jobs(integer) from public, anon, authenticated;
grant execute on function public.my_jobs(integer) to authenticated, service_role;

insert into queue.schema_migrations (version) values ('20260106000510') on conflict do nothing;
