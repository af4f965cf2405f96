-- Circuit breakers per external provider (stripe, resend, smtp, openai, ...).
--
-- Workers are stateless functions, so what a breaker remembers lives here:
-- closed --(p_threshold consecutive failures)--> open --(cool-down over; one caller
-- gets the probe)--> half_open --(success)--> closed, --(failure)--> open again.
-- While a breaker is open its jobs are put back (released without burning an
-- attempt) for the remaining cool-down. Every function takes an optional p_now so
-- tests can move time without sleeping.

create table if not exists public.circuit_breakers (
  provider             text primary key check (provider ~ '^[a-z][a-z0-9_.-]{0,62}$'),
  state                text not null default 'closed' check (state in ('closed', 'open', 'half_open')),
  consecutive_failures integer not null default 0 check (consecutive_failures >= 0),
  open_until           timestamptz,
  last_error           text,
  last_failure_at      timestamptz,
  last_success_at      timestamptz,
  updated_at           timestamptz not null default now(),
  constraint circuit_breakers_open_has_deadline check (state = 'closed' or open_until is not null)
);
comment on table public.circuit_breakers is
  'Per-provider circuit breaker state: closed, open until open_until, or half_open while one probe runs.';

alter table public.circuit_breakers enable row level security;
revoke all on public.circuit_breakers from anon, authenticated;
grant select, insert, update, delete on public.circuit_breakers to service_role;

create or replace function queue.breaker_json(b public.circuit_breakers, p_allowed boolean, p_now timestamptz)
returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'provider', b.provider, 'allowed', p_allowed, 'state', b.state,
    'consecutive_failures', b.consecutive_failures, 'open_until', b.open_until,
    'retry_after_seconds', case when p_allowed then 0
                                else greatest(ceil(extract(epoch from b.open_until - p_now)), 1) end,
    'last_error', b.last_error)
$$;
comment on function queue.breaker_json(public.circuit_breakers, boolean, timestamptz) is
  'A breaker row as jsonb, with whether the caller may proceed and how long it should wait if not.';

-- Contract: may a caller use p_provider now? Closed (or unknown): yes. Open with
-- cool-down left: no, retry_after_seconds = the rest of it. Open and cooled down (or a
-- half-open probe that outlived p_cooldown_seconds): exactly one caller is let through
-- as the probe (state half_open, the probe's window is p_cooldown_seconds); the others
-- wait. Returns {provider, allowed, state, consecutive_failures, open_until,
-- retry_after_seconds, last_error}.
create or replace function public.circuit_breaker_allow(
  p_provider text, p_cooldown_seconds integer default 60, p_now timestamptz default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_breaker public.circuit_breakers;
begin
  select * into v_breaker from public.circuit_breakers b where b.provider = p_provider;
  if not found or v_breaker.state = 'closed' then
    return pg_catalog.jsonb_build_object('provider', p_provider, 'allowed', true, 'state', 'closed',
      'consecutive_failures', coalesce(v_breaker.consecutive_failures, 0), 'retry_after_seconds', 0);
  end if;
  -- Take the probe: only one concurrent caller's update matches.
  update public.circuit_breakers b
     set state = 'half_open', updated_at = v_now,
         open_until = v_now + pg_catalog.make_interval(secs => greatest(p_cooldown_seconds, 1))
   where b.provider = p_provider and b.state <> 'closed' and b.open_until <= v_now
  returning * into v_breaker;
  if found then
    return queue.breaker_json(v_breaker, true, v_now);
  end if;
  select * into v_breaker from public.circuit_breakers b where b.provider = p_provider;
  return queue.breaker_json(v_breaker, v_breaker.state = 'closed', v_now);
end
$$;
comment on function public.circuit_breaker_allow(text, integer, timestamptz) is
  'Whether a caller may use the provider now; lets one probe through after the cool-down.';

-- Contract: record the outcome of one call to p_provider. Success closes the breaker
-- and resets the count. Failure adds one; at p_threshold consecutive failures, or on
-- a failed half-open probe, the breaker opens for p_cooldown_seconds. Returns the
-- breaker as circuit_breaker_allow does. Raises 22QY5 for a bad threshold/cool-down.
create or replace function public.circuit_breaker_record(
  p_provider text, p_success boolean, p_threshold integer default 5, p_cooldown_seconds integer default 60,
  p_error text default null, p_now timestamptz default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_breaker public.circuit_breakers;
begin
  if p_threshold is null or p_threshold < 1 or p_cooldown_seconds is null or p_cooldown_seconds < 1
     or p_success is null then
    perform queue.raise('22QY5', 'circuit_breaker_record: threshold and cool-down must be >= 1, success given',
      'pass p_success true/false, p_threshold >= 1, p_cooldown_seconds >= 1');
  end if;
  insert into public.circuit_breakers as b (provider) values (p_provider)
  on conflict (provider) do nothing;
  if p_success then
    update public.circuit_breakers b
       set state = 'closed', consecutive_failures = 0, open_until = null, last_success_at = v_now,
           updated_at = v_now
     where b.provider = p_provider returning * into v_breaker;
  else
    update public.circuit_breakers b
       set consecutive_failures = b.consecutive_failures + 1, last_error = pg_catalog.left(p_error, 500),
           last_failure_at = v_now, updated_at = v_now,
           state = case when b.state = 'half_open' or b.consecutive_failures + 1 >= p_threshold
                        then 'open' else b.state end,
           open_until = case when b.state = 'half_open' or b.consecutive_failures + 1 >= p_threshold
                             then v_now + pg_catalog.make_interval(secs => p_cooldown_seconds)
                             else b.open_until end
     where b.provider = p_provider returning * into v_breaker;
  end if;
  return queue.breaker_json(v_breaker, v_breaker.state = 'closed', v_now);
end
$$;
comment on function public.circuit_breaker_record(text, boolean, integer, integer, text, timestamptz) is
  'Record a call''s success or failure; opens the breaker after p_threshold consecutive failures.';

-- Contract: every known breaker, for health: {provider: {state, consecutive_failures,
-- open_until, retry_after_seconds, last_error, last_failure_at, last_success_at}}.
create or replace function public.circuit_breaker_states(p_now timestamptz default null) returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_object_agg(b.provider,
           (queue.breaker_json(b, b.state = 'closed', coalesce(p_now, pg_catalog.clock_timestamp()))
              - 'provider' - 'allowed')
           || pg_catalog.jsonb_build_object('last_failure_at', b.last_failure_at,
                                            'last_success_at', b.last_success_at)), '{}'::jsonb)
    from public.circuit_breakers b
$$;
comment on function public.circuit_breaker_states(timestamptz) is 'Every provider''s breaker state, for health.';

do $$
declare
  v_fn regprocedure;
begin
  for v_fn in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname in ('circuit_breaker_allow', 'circuit_breaker_record', 'circuit_breaker_states')
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    execute format('grant execute on function %s to service_role', v_fn);
  end loop;
end
$$;
revoke execute on function queue.breaker_json(public.circuit_breakers, boolean, timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260102000200') on conflict do nothing;
