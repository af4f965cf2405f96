-- queue_health() reports the kicks that woke nobody.
--
-- Contract: queue.unanswered_kicks(p_now) is, over the last hour, the pg_net kicks that no
-- invocation answered within kick_answer_seconds (unanswered and older than that, or
-- answered later: the tick, not the kick, started the worker):
-- {"count", "answer_seconds", "kicks": [{kick_group, kicked_at, request_id, answered_at}]}
-- (the 10 latest; request_id is pg_net's, see net._http_response for what the worker said).
-- notify kicks are not counted: a deployment without a listener never answers them.
-- queue_health() returns what it returned before plus "unanswered_kicks" (that object).

create or replace function queue.unanswered_kicks(p_now timestamptz) returns jsonb
language sql stable
set search_path = ''
as $$
  with limit_ as (
    select pg_catalog.make_interval(secs => coalesce((queue.setting('kick_answer_seconds'))::numeric, 30)) as wait
  ),
  late as (
    select k.* from public.job_kicks k, limit_ l
     where k.via = 'pg_net' and k.kicked_at > p_now - interval '1 hour'
       and coalesce(k.answered_at, p_now) > k.kicked_at + l.wait
  )
  select pg_catalog.jsonb_build_object(
    'count', (select pg_catalog.count(*) from late),
    'answer_seconds', (select extract(epoch from l.wait)::double precision from limit_ l),
    'kicks', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'kick_group', x.kick_group, 'kicked_at', x.kicked_at, 'request_id', x.request_id,
                        'answered_at', x.answered_at) order by x.kicked_at desc)
                         from (select * from late order by kicked_at desc limit 10) x), '[]'::jsonb))
$$;
comment on function queue.unanswered_kicks(timestamptz) is
  'pg_net kicks of the last hour no invocation answered within kick_answer_seconds: {count, answer_seconds, kicks[10 latest]}.';
revoke execute on function queue.unanswered_kicks(timestamptz) from public;

-- As in 20260101000800_observability.sql, plus unanswered_kicks.
create or replace function public.queue_health() returns jsonb
language sql stable security definer
set search_path = ''
as $$
  with now_ as (select pg_catalog.clock_timestamp() as t),
  last_run as (select r.* from public.worker_runs r order by r.started_at desc limit 1)
  select pg_catalog.jsonb_build_object(
    'checked_at', (select t from now_),
    'stuck_jobs', (select pg_catalog.count(*) from public.job_queue j, now_
                    where j.status = 'running' and j.locked_until < now_.t),
    'pending_ready', (select pg_catalog.count(*) from public.job_queue j, now_
                       where j.status = 'pending' and j.run_at <= now_.t),
    'oldest_pending_age_seconds', queue.oldest_pending_age_seconds((select t from now_)),
    'dead_letters_last_1h', (select pg_catalog.count(*) from public.job_dead_letter d, now_
                              where d.failed_at > now_.t - interval '1 hour'),
    'last_worker_run', (select pg_catalog.jsonb_build_object('worker_id', l.worker_id, 'started_at', l.started_at,
                                                               'finished_at', l.finished_at, 'claimed', l.claimed,
                                                               'completed', l.completed) from last_run l),
    'seconds_since_last_worker_run', (select extract(epoch from now_.t - l.started_at)::double precision
                                        from last_run l, now_),
    'unanswered_kicks', queue.unanswered_kicks((select t from now_))
  )
$$;
comment on function public.queue_health() is
  'Stuck jobs, ready backlog, oldest pending age, dead letters in the last hour, the last worker run and the pg_net kicks nobody answered in time.';

insert into queue.schema_migrations (version) values ('20260105000130') on conflict do nothing;
