-- Kicks: the record of each wake-up sent to a worker when ready jobs arrive, and its knobs.
--
-- Contract:
-- public.job_kicks holds one row per kick: its group, when it was sent, how (notify: only
-- pg_notify; pg_net: also an HTTP POST of the worker, whose request id is kept), and when an
-- invocation answered it (worker_run_start) and which. At most one kick per group is in
-- flight: a new one is written only when the group has none younger than kick_window_ms
-- that is unanswered or answered by an invocation still running.
-- job_types.kick_group: types of one group share a kick; 'default' (every type unless told
-- otherwise) POSTs the worker for all types, another group POSTs ?type= with its types.
-- queue.settings keys (a CHECK keeps direct writes in range, so a kick can never fail an enqueue):
--   kick_window_ms       0-60000, default 2000: how long an unanswered kick stands for its group
--   kick_answer_seconds  1-3600, default 30: a pg_net kick not answered within this shows in health
--   kick_http            boolean, default true: POST through pg_net where it and worker_url are set
-- configure_kicks(...) changes them with clear errors (22QK1) and returns the current values.

create table if not exists public.job_kicks (
  id          bigint generated always as identity primary key,
  kick_group  text not null,
  kicked_at   timestamptz not null default pg_catalog.clock_timestamp(),
  via         text not null check (via in ('notify', 'pg_net')),
  request_id  bigint,
  answered_at timestamptz,
  answered_by text,
  constraint job_kicks_answer_complete check ((answered_at is null) = (answered_by is null)),
  constraint job_kicks_request_means_pg_net check (request_id is null or via = 'pg_net')
);
comment on table public.job_kicks is
  'Wake-ups sent when ready jobs arrived: group, when, via notify or pg_net (request id), answered by which invocation and when.';
-- The coalescing read (latest kicks of a group) and the answer (unanswered ones).
create index if not exists job_kicks_group_idx on public.job_kicks (kick_group, kicked_at desc);
create index if not exists job_kicks_unanswered_idx on public.job_kicks (kick_group) where answered_at is null;
alter table public.job_kicks enable row level security;
revoke all on public.job_kicks from public, anon, authenticated;
grant select, insert, update, delete on public.job_kicks to service_role;
do $$
begin
  execute pg_catalog.format('revoke all on sequence %s from public, anon, authenticated',
                            pg_catalog.pg_get_serial_sequence('public.job_kicks', 'id'));
end
$$;

alter table public.job_types add column if not exists kick_group text not null default 'default';
do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint where conname = 'job_types_kick_group_name') then
    alter table public.job_types add constraint job_types_kick_group_name
      check (kick_group ~ '^[a-z][a-z0-9_]{0,62}$');
  end if;
end
$$;
comment on column public.job_types.kick_group is
  'Types of one group share a kick on enqueue; ''default'' wakes the worker for all types, another group with ?type= its types.';

insert into queue.settings (key, value, description) values
  ('kick_window_ms', '2000', 'An unanswered kick stands for its group this long (ms, 0-60000): no second kick meanwhile'),
  ('kick_answer_seconds', '30', 'A pg_net kick no invocation answered within this many seconds (1-3600) shows in queue_health'),
  ('kick_http', 'true', 'Kick through pg_net (POST the worker) where pg_net and worker_url are set; notify always')
on conflict (key) do nothing;

do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint where conname = 'settings_kick_values') then
    -- The casts sit behind CASE: AND does not promise to test the type first.
    alter table queue.settings add constraint settings_kick_values check (case
      when key = 'kick_window_ms' then case when pg_catalog.jsonb_typeof(value) = 'number'
        then value::numeric between 0 and 60000 and value::numeric = pg_catalog.trunc(value::numeric) else false end
      when key = 'kick_answer_seconds' then case when pg_catalog.jsonb_typeof(value) = 'number'
        then value::numeric between 1 and 3600 and value::numeric = pg_catalog.trunc(value::numeric) else false end
      when key = 'kick_http' then pg_catalog.jsonb_typeof(value) = 'boolean'
      else true end);
  end if;
end
$$;

-- Contract: change the kick settings given (null keeps one) and return all three as
-- {"kick_window_ms", "kick_answer_seconds", "kick_http"}. Out of range: 22QK1, nothing changed.
create or replace function public.configure_kicks(
  p_window_ms integer default null, p_answer_seconds integer default null, p_http boolean default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_window_ms is not null and (p_window_ms < 0 or p_window_ms > 60000) then
    perform queue.raise('22QK1', pg_catalog.format('kick window must be 0-60000 ms, got %s', p_window_ms),
                        'a kick stands for its group this long; 0 kicks on every enqueue, 2000 is the default');
  end if;
  if p_answer_seconds is not null and (p_answer_seconds < 1 or p_answer_seconds > 3600) then
    perform queue.raise('22QK1', pg_catalog.format('kick answer time must be 1-3600 s, got %s', p_answer_seconds),
                        'health flags a pg_net kick no invocation answered within this time; 30 is the default');
  end if;
  update queue.settings s
     set value = case s.key when 'kick_window_ms' then pg_catalog.to_jsonb(p_window_ms)
                            when 'kick_answer_seconds' then pg_catalog.to_jsonb(p_answer_seconds)
                            else pg_catalog.to_jsonb(p_http) end
   where (s.key = 'kick_window_ms' and p_window_ms is not null)
      or (s.key = 'kick_answer_seconds' and p_answer_seconds is not null)
      or (s.key = 'kick_http' and p_http is not null);
  return (select pg_catalog.jsonb_object_agg(s.key, s.value) from queue.settings s
           where s.key in ('kick_window_ms', 'kick_answer_seconds', 'kick_http'));
end
$$;
comment on function public.configure_kicks(integer, integer, boolean) is
  'Set kick_window_ms (0-60000), kick_answer_seconds (1-3600) and kick_http (null keeps each); returns all three. 22QK1 when out of range.';
revoke execute on function public.configure_kicks(integer, integer, boolean) from public, anon, authenticated;
grant execute on function public.configure_kicks(integer, integer, boolean) to service_role;

insert into queue.schema_migrations (version) values ('20260105000100') on conflict do nothing;
