-- console_job: everything the console shows about one job, also after it was dead-lettered.
--
-- Contract:
-- console_job(p_id uuid) returns
--   {"job": {every job_queue column, status included}
--            -- a dead-lettered job (its row moved from job_queue to job_dead_letter):
--            -- the same keys, from the dead letter, status 'dead_letter', created_at the
--            -- job's, finished_at when it failed, and null for what the letter does not keep
--            -- (run_at, result, progress, depends_on, locks, ...),
--    "history": [{id, at, from_status, to_status, worker_id, note}] oldest first
--                (job_status_history, ordered by id nulls last, at; the newest 1000),
--    "history_total": how many history rows the job has,
--    "depends_on": [{id, type, status}] the jobs this one waits for, in its depends_on order
--                  (status 'dead_letter' for one that was dead-lettered, 'missing' for one purged),
--    "dependents": [{id, type, status}] jobs whose depends_on names this one (the first 1000 by seq),
--    "dead_letter": the newest job_dead_letter row whose job_id is p_id, else null}
-- PT404 when p_id is neither in job_queue nor in job_dead_letter; 22QS4 when p_id is null.
-- Reads only.

create or replace function queue.console_job_ref(p_id uuid)
returns jsonb
language sql stable
set search_path = ''
as $$
  select coalesce(
    (select pg_catalog.jsonb_build_object('id', j.id, 'type', j.type, 'status', j.status)
       from public.job_queue j where j.id = p_id),
    (select pg_catalog.jsonb_build_object('id', d.job_id, 'type', d.type, 'status', 'dead_letter')
       from public.job_dead_letter d where d.job_id = p_id order by d.failed_at desc limit 1),
    pg_catalog.jsonb_build_object('id', p_id, 'type', null, 'status', 'missing'))
$$;
comment on function queue.console_job_ref(uuid) is
  '{id, type, status} of a job: from job_queue, else its dead letter (status dead_letter), else status missing.';

-- The dead letter as a job: job_queue's keys, what the letter keeps, null for the rest.
create or replace function queue.console_job_from_letter(p_letter public.job_dead_letter)
returns jsonb
language sql stable
set search_path = ''
as $$
  select (select pg_catalog.jsonb_object_agg(c.column_name, null)
            from information_schema.columns c
           where c.table_schema = 'public' and c.table_name = 'job_queue')
         || pg_catalog.jsonb_build_object(
              'id', p_letter.job_id, 'type', p_letter.type, 'payload', p_letter.payload,
              'priority', p_letter.priority, 'status', 'dead_letter', 'attempts', p_letter.attempts,
              'max_attempts', p_letter.max_attempts, 'last_error', p_letter.last_error,
              'errors', p_letter.errors, 'idempotency_key', p_letter.idempotency_key,
              'rate_limit_key', p_letter.rate_limit_key, 'owner_id', p_letter.owner_id,
              'created_at', p_letter.job_created_at, 'finished_at', p_letter.failed_at,
              'updated_at', p_letter.failed_at)
$$;
comment on function queue.console_job_from_letter(public.job_dead_letter) is
  'A dead letter shaped like a job_queue row (status dead_letter), for console_job.';

create or replace function public.console_job(p_id uuid)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
declare
  v_job jsonb;
  v_letter public.job_dead_letter;
  v_history jsonb;
  v_total integer;
begin
  if p_id is null then
    perform queue.raise('22QS4', 'p_id is required: the id of a job', 'list jobs with console_jobs()');
  end if;
  select pg_catalog.to_jsonb(j) into v_job from public.job_queue j where j.id = p_id;
  select * into v_letter from public.job_dead_letter d where d.job_id = p_id order by d.failed_at desc limit 1;
  if v_job is null and v_letter.id is null then
    perform queue.raise('PT404', pg_catalog.format('no job with id %s (neither in job_queue nor dead-lettered)', p_id),
      'it may have been purged (retention); list jobs with console_jobs()');
  end if;
  v_job := coalesce(v_job, queue.console_job_from_letter(v_letter));

  select pg_catalog.count(*)::integer into v_total from public.job_status_history h where h.job_id = p_id;
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(h) - 'job_id' order by h.n desc), '[]'::jsonb)
    into v_history
    from (select x.*, pg_catalog.row_number() over (order by x.id desc nulls first, x.at desc) as n
            from public.job_status_history x where x.job_id = p_id
           order by x.id desc nulls first, x.at desc
           limit 1000) h;

  return pg_catalog.jsonb_build_object(
    'job', v_job,
    'history', v_history,
    'history_total', v_total,
    'depends_on', coalesce((
      select pg_catalog.jsonb_agg(queue.console_job_ref(d.id::uuid) order by d.ord)
        from pg_catalog.jsonb_array_elements_text(coalesce(nullif(v_job -> 'depends_on', 'null'::jsonb), '[]'::jsonb))
             with ordinality as d(id, ord)), '[]'::jsonb),
    'dependents', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', x.id, 'type', x.type, 'status', x.status)
                                  order by x.seq)
        from (select j.id, j.type, j.status, j.seq from public.job_queue j
               where j.depends_on @> array[p_id] order by j.seq limit 1000) x), '[]'::jsonb),
    'dead_letter', case when v_letter.id is not null then pg_catalog.to_jsonb(v_letter) end);
end
$$;
comment on function public.console_job(uuid) is
  'One job for the console: {job (every column; from the dead letter, status dead_letter, once dead-lettered), history (oldest first, newest 1000), history_total, depends_on [{id,type,status}], dependents [{id,type,status}], dead_letter (row or null)}. PT404 unknown id, 22QS4 null id.';

revoke execute on function queue.console_job_ref(uuid) from public;
revoke execute on function queue.console_job_from_letter(public.job_dead_letter) from public;
revoke execute on function public.console_job(uuid) from public, anon, authenticated;
grant execute on function public.console_job(uuid) to service_role;

insert into queue.schema_migrations (version) values ('20260106000220') on conflict do nothing;
