-- The audit trail as one jsonb value, for callers that take one value per call
-- (QueueBackend.rpc on both backends); console_audit returns rows.
--
-- Contract: console_audit_list(p_limit 1-1000 default 50, p_before_id) returns
-- {actions: [{id, at, actor, action, target, affected, detail}]} newest first, the rows of
-- console_audit(p_limit, p_before_id) (22QB1 for a limit out of range).

create or replace function public.console_audit_list(p_limit integer default 50, p_before_id bigint default null)
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object('actions',
           coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(a) order by a.id desc), '[]'::jsonb))
    from public.console_audit(p_limit, p_before_id) a
$$;
comment on function public.console_audit_list(integer, bigint) is
  'console_audit as {actions: [...]} (newest first, keyset by p_before_id); 22QB1 when p_limit is not 1-1000.';
revoke execute on function public.console_audit_list(integer, bigint) from public, anon, authenticated;
grant execute on function public.console_audit_list(integer, bigint) to service_role;

insert into queue.schema_migrations (version) values ('20260106000160') on conflict do nothing;
