-- Retry backoff: the one place the delay between attempts is decided.
--
-- Exponential from the base, capped, with "equal jitter": the delay for attempt n
-- is d = least(cap, base * 2^(n-1)), and the wait is d/2 + jitter * d/2, so it
-- always lies in [d/2, d]. Immutable (jitter is an argument) so tests can call it
-- with fixed jitter; callers pass random().
create or replace function queue.retry_delay(
  p_attempt integer, p_base_seconds integer, p_cap_seconds integer, p_jitter double precision
) returns interval
language sql immutable parallel safe
set search_path = ''
as $$
  select pg_catalog.make_interval(secs =>
    least(p_cap_seconds::double precision,
                     p_base_seconds * pg_catalog.power(2::double precision, greatest(p_attempt, 1) - 1))
    * (0.5 + 0.5 * least(greatest(p_jitter, 0), 1)))
$$;
comment on function queue.retry_delay(integer, integer, integer, double precision) is
  'Backoff before retrying after attempt p_attempt: d = least(cap, base * 2^(attempt-1)); returns d/2 + jitter*d/2.';

insert into queue.schema_migrations (version) values ('20260101000500') on conflict do nothing;
