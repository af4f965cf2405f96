-- The operator console's audit trail: one row per action an operator took (a bulk replay,
-- a pause, a cancel), whoever took it (the dashboard, the HTTP action, the CLI).
--
-- Contract:
-- public.console_actions holds what was done (action), by which role and through what
-- (actor: 'admin' for the HTTP worker secret, 'cli' for the command line, 'sql' when a
-- function was called directly), on what (target: ids, a group, a filter), how many rows
-- it changed (affected) and anything else worth keeping (detail). Rows are only added.
-- queue.console_record(actor, action, target, affected, detail) adds one and returns its id;
-- the console's mutating functions call it in the same transaction as their change, so an
-- action is recorded exactly when it took effect.
-- console_audit(p_limit 1-1000, p_before_id) reads the newest first, keyset-paged by id
-- (22QB1 for a limit out of range).

create table if not exists public.console_actions (
  id       bigint generated always as identity primary key,
  at       timestamptz not null default pg_catalog.clock_timestamp(),
  actor    text not null check (actor in ('admin', 'cli', 'sql')),
  action   text not null check (action ~ '^[a-z][a-z0-9_.]{0,62}$'),
  target   jsonb not null default '{}'::jsonb,
  affected integer not null default 0 check (affected >= 0),
  detail   jsonb not null default '{}'::jsonb
);
comment on table public.console_actions is
  'Audit trail of operator actions: when, which role (admin/cli/sql), what, on what, how many rows changed.';
alter table public.console_actions enable row level security;
revoke all on public.console_actions from public, anon, authenticated;
grant select, insert on public.console_actions to service_role;
do $$
begin
  execute pg_catalog.format('revoke all on sequence %s from public, anon, authenticated',
                            pg_catalog.pg_get_serial_sequence('public.console_actions', 'id'));
end
$$;

create or replace function queue.console_record(p_actor text, p_action text, p_target jsonb,
                                                p_affected integer, p_detail jsonb default '{}'::jsonb)
returns bigint
language sql volatile security definer
set search_path = ''
as $$
  insert into public.console_actions (actor, action, target, affected, detail)
  values (coalesce(p_actor, 'sql'), p_action, coalesce(p_target, '{}'::jsonb), coalesce(p_affected, 0),
          coalesce(p_detail, '{}'::jsonb))
  returning id;
$$;
comment on function queue.console_record(text, text, jsonb, integer, jsonb) is
  'Record one operator action in console_actions (same transaction as the change); returns its id.';
revoke execute on function queue.console_record(text, text, jsonb, integer, jsonb) from public;

create or replace function public.console_audit(p_limit integer default 50, p_before_id bigint default null)
returns setof public.console_actions
language plpgsql stable security definer
set search_path = ''
as $$
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('limit must be 1-1000, got %s', coalesce(p_limit::text, 'null')));
  end if;
  return query
    select * from public.console_actions a
     where p_before_id is null or a.id < p_before_id
     order by a.id desc
     limit p_limit;
end
$$;
comment on function public.console_audit(integer, bigint) is
  'Operator actions, newest first; p_before_id pages on (keyset). 22QB1 when p_limit is not 1-1000.';
revoke execute on function public.console_audit(integer, bigint) from public, anon, authenticated;
grant execute on function public.console_audit(integer, bigint) to service_role;

insert into queue.schema_migrations (version) values ('20260106000000') on conflict do nothing;
