-- console_retry_job: "run it now" from the console, audited.
--
-- Contract:
-- console_retry_job(p_id uuid, p_actor text default 'sql') returns jsonb:
--   * a pending job waiting for its run_at (scheduled, or backing off after a failure):
--     run_at becomes now, so the next claim takes it (dependencies, a paused type and the
--     limits still apply) -> {"id", "run_at", "was_run_at", "action_id"}. Not a status change,
--     so no history row; the audit row keeps the old run_at. Like an enqueue it wakes a
--     worker: pg_notify('queue_worker_jobs') (the resident worker, `dev`) and, unless one is
--     in flight, a kick of the type's kick group (queue.kick_group: pg_net where configured).
--   * a dead-lettered job (p_id is the job's id, now only in job_dead_letter): replayed with
--     retry_dead_letter_job, a new pending job -> {"id": the new job, "dead_letter_id",
--     "replayed_job_id", "action_id"}; the insert kicks as any enqueue does.
-- Recorded in console_actions (action job.retry, target {"id"}, affected 1) in the same
-- transaction. Refusals change nothing:
--   PT404  no such job (neither in job_queue nor dead-lettered)
--   PT409  running (wait, or cancel it), completed or cancelled (enqueue it again), pending
--          and already due (the message says what it waits for), or a dead letter already
--          replayed (the message names the replay)
--   22QS4  p_id is null

create or replace function public.console_retry_job(p_id uuid, p_actor text default 'sql')
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_job public.job_queue;
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  if p_id is null then
    perform queue.raise('22QS4', 'p_id is required: the id of the job to retry', 'list jobs with console_jobs()');
  end if;
  select * into v_job from public.job_queue j where j.id = p_id for update;
  if v_job.id is null then
    return queue.console_replay_job(p_id, p_actor);
  end if;
  if v_job.status <> 'pending' then
    perform queue.raise('PT409', pg_catalog.format('job %s is %s: %s', p_id, v_job.status, case v_job.status
        when 'running' then pg_catalog.format('attempt %s runs under worker %s until %s; wait for it, or cancel it',
                                              v_job.attempts, v_job.locked_by, v_job.locked_until)
        else pg_catalog.format('it finished at %s and will not run again', v_job.finished_at) end),
      case when v_job.status <> 'running' then 'to run the same work again, enqueue a new job' end);
  end if;
  if v_job.run_at <= v_now then
    perform queue.raise('PT409', pg_catalog.format('job %s is already due (run_at %s): %s', p_id, v_job.run_at,
                                                    queue.console_job_waits_for(v_job)),
      'nothing to retry: the next claim takes it');
  end if;
  update public.job_queue j set run_at = v_now, updated_at = v_now where j.id = p_id;
  perform pg_catalog.pg_notify('queue_worker_jobs', queue.kick_payload(array[v_job.type]));
  perform queue.kick_group(t.kick_group) from public.job_types t where t.name = v_job.type;
  return pg_catalog.jsonb_build_object('id', p_id, 'run_at', v_now, 'was_run_at', v_job.run_at,
    'action_id', queue.console_record(p_actor, 'job.retry', pg_catalog.jsonb_build_object('id', p_id), 1,
                   pg_catalog.jsonb_build_object('kind', 'run_now', 'type', v_job.type,
                                                 'was_run_at', v_job.run_at, 'attempts', v_job.attempts)));
end
$$;
comment on function public.console_retry_job(uuid, text) is
  'Console retry, audited as job.retry: a pending job waiting for run_at runs now ({id, run_at, was_run_at, action_id}; notify + kick); a dead-lettered job is replayed via retry_dead_letter_job ({id: new job, dead_letter_id, replayed_job_id, action_id}). PT404 unknown, PT409 running/completed/cancelled/already due/already replayed, 22QS4 null id.';

-- Replay the dead letter of a job no longer in job_queue (console_retry_job's second case).
create or replace function queue.console_replay_job(p_id uuid, p_actor text)
returns jsonb
language plpgsql volatile
set search_path = ''
as $$
declare
  v_letter public.job_dead_letter;
  v_new uuid;
begin
  select * into v_letter from public.job_dead_letter d where d.job_id = p_id
   order by d.failed_at desc limit 1 for update;
  if v_letter.id is null then
    perform queue.raise('PT404', pg_catalog.format('no job with id %s (neither in job_queue nor dead-lettered)', p_id),
      'it may have been purged (retention); list jobs with console_jobs()');
  end if;
  if v_letter.replayed_job_id is not null then
    perform queue.raise('PT409', pg_catalog.format('job %s was dead-lettered and already replayed as job %s at %s',
                                                    p_id, v_letter.replayed_job_id, v_letter.replayed_at),
      pg_catalog.format('look at job %s', v_letter.replayed_job_id));
  end if;
  v_new := public.retry_dead_letter_job(v_letter.id);
  return pg_catalog.jsonb_build_object('id', v_new, 'dead_letter_id', v_letter.id, 'replayed_job_id', v_new,
    'action_id', queue.console_record(p_actor, 'job.retry', pg_catalog.jsonb_build_object('id', p_id), 1,
                   pg_catalog.jsonb_build_object('kind', 'replay', 'type', v_letter.type,
                                                 'dead_letter_id', v_letter.id, 'replayed_job_id', v_new)));
end
$$;
comment on function queue.console_replay_job(uuid, text) is
  'Replay the newest unreplayed dead letter of job p_id, audited; PT404 none, PT409 already replayed.';

-- Why a due pending job is not claimed yet, for the PT409 of retrying it.
create or replace function queue.console_job_waits_for(p_job public.job_queue)
returns text
language sql stable
set search_path = ''
as $$
  select coalesce(
    (select pg_catalog.format('its type %s is paused', t.name) from public.job_types t
      where t.name = p_job.type and not t.enabled),
    (select pg_catalog.format('it waits for %s of its dependencies to complete', pg_catalog.count(*))
       from pg_catalog.unnest(p_job.depends_on) d(id)
      where not exists (select 1 from public.job_queue j where j.id = d.id and j.status = 'completed')
     having pg_catalog.count(*) > 0),
    'it waits for a worker to claim it')
$$;
comment on function queue.console_job_waits_for(public.job_queue) is
  'Why a due pending job waits: its type paused, dependencies not completed, or just for a worker.';

revoke execute on function queue.console_replay_job(uuid, text) from public;
revoke execute on function queue.console_job_waits_for(public.job_queue) from public;
revoke execute on function public.console_retry_job(uuid, text) from public, anon, authenticated;
grant execute on function public.console_retry_job(uuid, text) to service_role;

insert into queue.schema_migrations (version) values ('20260106000240') on conflict do nothing;
