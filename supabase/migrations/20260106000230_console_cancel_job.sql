-- console_cancel_job: the console's cancel, which says why when it cannot, and is audited.
--
-- Contract:
-- console_cancel_job(p_id uuid, p_actor text default 'sql') returns
--   {"id", "cancelled": true, "from_status": 'pending' | 'running', "dependents_cancelled": n,
--    "action_id": the console_actions row}
-- Cancels exactly as cancel_job does (it calls it): the job, and transitively every pending
-- job that depends on it; a running job's worker finds its lease gone and changes nothing.
-- The job row is locked first, so a claim racing the cancel either claimed it before (the
-- cancel then cancels the running job) or skips it (SKIP LOCKED) and never sees it pending.
-- Recorded in console_actions (action job.cancel, target {"id"}, affected 1 + dependents)
-- in the same transaction. Refusals change nothing:
--   PT404  no such job (neither in job_queue nor dead-lettered)
--   PT409  the job is completed, cancelled or dead-lettered (the message says which and when)
--   22QS4  p_id is null

create or replace function public.console_cancel_job(p_id uuid, p_actor text default 'sql')
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_job public.job_queue;
  v_dependents integer;
  v_action bigint;
begin
  if p_id is null then
    perform queue.raise('22QS4', 'p_id is required: the id of the job to cancel', 'list jobs with console_jobs()');
  end if;
  select * into v_job from public.job_queue j where j.id = p_id for update;
  if v_job.id is null then
    perform queue.console_job_absent(p_id, 'cancelled');
  end if;
  if v_job.status not in ('pending', 'running') then
    perform queue.raise('PT409', pg_catalog.format('job %s is %s (since %s): only pending or running jobs can be cancelled',
                                                    p_id, v_job.status, v_job.finished_at),
      'nothing to do: it will not run again');
  end if;
  if not public.cancel_job(p_id) then  -- cannot happen under the row lock; never audit a no-op
    perform queue.raise('PT409', pg_catalog.format('job %s could not be cancelled', p_id));
  end if;
  -- cancel_job does not count the dependents it cancelled: their events of this transaction
  -- (at = now()) name this job as the root dependency.
  select pg_catalog.count(*)::integer into v_dependents
    from public.job_status_events e
   where e.at = pg_catalog.now() and e.to_status = 'cancelled' and e.job_id <> p_id
     and e.note like pg_catalog.format('dependency %%%s%%', p_id);
  v_action := queue.console_record(p_actor, 'job.cancel', pg_catalog.jsonb_build_object('id', p_id),
                                   1 + v_dependents,
                                   pg_catalog.jsonb_build_object('from_status', v_job.status, 'type', v_job.type,
                                                                 'dependents_cancelled', v_dependents));
  return pg_catalog.jsonb_build_object('id', p_id, 'cancelled', true, 'from_status', v_job.status,
                                       'dependents_cancelled', v_dependents, 'action_id', v_action);
end
$$;
comment on function public.console_cancel_job(uuid, text) is
  'Console cancel: cancel_job (the job and its pending dependents), audited as job.cancel; {id, cancelled, from_status, dependents_cancelled, action_id}. PT404 unknown id, PT409 not pending/running (says its status), 22QS4 null id.';

-- A job id not in job_queue: PT409 when it was dead-lettered (saying so), else PT404.
create or replace function queue.console_job_absent(p_id uuid, p_verb text)
returns void
language plpgsql stable
set search_path = ''
as $$
declare
  v_letter public.job_dead_letter;
begin
  select * into v_letter from public.job_dead_letter d where d.job_id = p_id order by d.failed_at desc limit 1;
  if v_letter.id is null then
    perform queue.raise('PT404', pg_catalog.format('no job with id %s (neither in job_queue nor dead-lettered)', p_id),
      'it may have been purged (retention); list jobs with console_jobs()');
  end if;
  perform queue.raise('PT409', pg_catalog.format('job %s was dead-lettered at %s: it cannot be %s', p_id,
                                                  v_letter.failed_at, p_verb),
    pg_catalog.format('its dead letter is %s: replay it (console_retry_job) or delete it', v_letter.id));
end
$$;
comment on function queue.console_job_absent(uuid, text) is
  'For a job id missing from job_queue: PT409 naming its dead letter, or PT404.';

revoke execute on function queue.console_job_absent(uuid, text) from public;
revoke execute on function public.console_cancel_job(uuid, text) from public, anon, authenticated;
grant execute on function public.console_cancel_job(uuid, text) to service_role;

insert into queue.schema_migrations (version) values ('20260106000230') on conflict do nothing;
