-- An idempotency key stays bound to its job while the job exists anywhere: in
-- job_queue (pending, running, completed or cancelled until purge_finished_jobs
-- removes it) or in job_dead_letter (until the dead letter is deleted).
--
-- Why: the key lived only in job_queue's unique index. Once a job was dead-lettered
-- its (type, key) was free again: a second enqueue with the key made a new job, and
-- replaying the dead letter made another (two emails).
--
-- Contract: enqueue_job(s) with a key held by a dead letter returns that job's id
-- (queue.dead_letter_key_job; after a replay, the replay's id) and creates nothing.
-- retry_dead_letter_job gives the replay the letter's key; if a job in job_queue
-- already holds the key, that job counts as the replay and nothing new is made.

create index if not exists job_dead_letter_idempotency_idx
  on public.job_dead_letter (type, idempotency_key) where idempotency_key is not null;

-- The job a dead letter binds (p_type, p_key) to: the newest such letter's replay, or
-- the dead job itself when it was not replayed. Null when no dead letter holds the key.
create or replace function queue.dead_letter_key_job(p_type text, p_key text) returns uuid
language sql stable
set search_path = ''
as $$
  select coalesce(d.replayed_job_id, d.job_id) from public.job_dead_letter d
   where p_key is not null and d.type = p_type and d.idempotency_key = p_key
   order by d.failed_at desc, d.id limit 1
$$;
comment on function queue.dead_letter_key_job(text, text) is
  'The job id a dead letter holds (p_type, p_key) for (its replay if replayed), or null.';
revoke execute on function queue.dead_letter_key_job(text, text) from public;

-- Undo this transaction's inserts of p_ids whose key a dead letter now holds. Only a
-- race gets here: the insert waited on a job that was being dead-lettered, and once
-- that committed the unique index no longer stood in the way. Returns the ids undone.
create or replace function queue.undo_dead_lettered_keys(p_ids uuid[]) returns uuid[]
language plpgsql volatile
set search_path = ''
as $$
declare
  v_undone uuid[];
begin
  with undone as (
    delete from public.job_queue j
     where j.id = any (p_ids) and j.idempotency_key is not null
       and queue.dead_letter_key_job(j.type, j.idempotency_key) is not null
    returning j.id
  ),
  history as (
    delete from public.job_status_history h where h.job_id in (select u.id from undone u)
  )
  select coalesce(pg_catalog.array_agg(u.id), '{}') into v_undone from undone u;
  return v_undone;
end
$$;
comment on function queue.undo_dead_lettered_keys(uuid[]) is
  'Delete the just-enqueued jobs among p_ids whose idempotency key a dead letter holds; returns their ids.';
revoke execute on function queue.undo_dead_lettered_keys(uuid[]) from public;

-- Replay a dead letter as a new pending job (attempts 0) that keeps the letter's
-- idempotency key. Replaying the same dead letter twice returns the job the first
-- replay made.
create or replace function public.retry_dead_letter_job(p_id uuid) returns uuid
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_letter public.job_dead_letter;
  v_id uuid;
begin
  select * into v_letter from public.job_dead_letter d where d.id = p_id for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no dead letter with id %s', p_id),
      'list them with select id, job_id, type, last_error from job_dead_letter order by failed_at desc');
  end if;
  if v_letter.replayed_job_id is not null then
    return v_letter.replayed_job_id;
  end if;
  loop
    with inserted as (
      insert into public.job_queue (type, payload, priority, max_attempts, idempotency_key, rate_limit_key, owner_id, errors)
      values (v_letter.type, v_letter.payload, v_letter.priority, v_letter.max_attempts,
              v_letter.idempotency_key, v_letter.rate_limit_key, v_letter.owner_id, '[]'::jsonb)
      on conflict (type, idempotency_key) where idempotency_key is not null do nothing
      returning id
    ),
    history as (
      insert into public.job_status_history (job_id, from_status, to_status, note)
      select i.id, null, 'pending', pg_catalog.format('replay of dead letter %s (job %s)', p_id, v_letter.job_id)
        from inserted i
    )
    select i.id into v_id from inserted i;
    exit when v_id is not null;
    -- A job in the queue holds the key (one made before keys outlived the queue):
    -- it is the same work, so it stands for the replay. If it vanished meanwhile
    -- (purged), insert again.
    select j.id into v_id from public.job_queue j
     where j.type = v_letter.type and j.idempotency_key = v_letter.idempotency_key;
    exit when v_id is not null;
  end loop;
  update public.job_dead_letter d set replayed_job_id = v_id, replayed_at = pg_catalog.now() where d.id = p_id;
  return v_id;
end
$$;
comment on function public.retry_dead_letter_job(uuid) is
  'Replay a dead letter as a new pending job with attempts 0 and the letter''s idempotency key; returns its id '
  '(the same id if already replayed, or the job that already holds the key). Raises PT404.';

insert into queue.schema_migrations (version) values ('20260104000120') on conflict do nothing;
