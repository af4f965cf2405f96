-- The operator console resets a circuit breaker.
--
-- Contract: console_reset_breaker(p_provider, p_actor default 'sql') closes the provider's
-- breaker (consecutive_failures 0, no open_until; last_error kept for the record) so callers
-- use the provider again at once, and returns {provider, state: 'closed'}. Recorded in
-- console_actions as breaker.reset (affected 1, detail: the state it had). 22QO1 when
-- p_provider is null, PT404 when no breaker of that provider exists, 22QO2 bad actor.

create or replace function public.console_reset_breaker(p_provider text, p_actor text default 'sql')
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_before public.circuit_breakers;
begin
  perform queue.console_check_actor(p_actor);
  if p_provider is null then
    perform queue.raise('22QO1', 'p_provider is required', 'pass the provider named in console_types().breakers');
  end if;
  select * into v_before from public.circuit_breakers b where b.provider = p_provider for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no circuit breaker for provider %L', p_provider),
      'known providers: ' || coalesce((select pg_catalog.string_agg(b.provider, ', ' order by b.provider)
                                         from public.circuit_breakers b), '(none)'));
  end if;
  update public.circuit_breakers b
     set state = 'closed', consecutive_failures = 0, open_until = null, updated_at = pg_catalog.clock_timestamp()
   where b.provider = p_provider;
  perform queue.console_record(p_actor, 'breaker.reset', pg_catalog.jsonb_build_object('provider', p_provider), 1,
                               pg_catalog.jsonb_build_object('state', v_before.state,
                                                             'consecutive_failures', v_before.consecutive_failures));
  return pg_catalog.jsonb_build_object('provider', p_provider, 'state', 'closed');
end
$$;
comment on function public.console_reset_breaker(text, text) is
  'Close a provider''s circuit breaker (failures 0). Audited as breaker.reset. Returns {provider, state}. 22QO1 null provider, PT404 unknown provider, 22QO2 bad actor.';
revoke execute on function public.console_reset_breaker(text, text) from public, anon, authenticated;
grant execute on function public.console_reset_breaker(text, text) to service_role;

insert into queue.schema_migrations (version) values ('20260106000140') on conflict do nothing;
