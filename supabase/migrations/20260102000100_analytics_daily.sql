-- Daily analytics: one row per (day, metric, dimension) in analytics_daily.
--
-- analytics_rollup(day, groups) recomputes the chosen metric groups for one UTC day
-- and replaces that day's rows of those groups in one transaction, so running it
-- twice leaves the same rows. Groups:
--   queue        jobs_enqueued, jobs_completed, jobs_dead_lettered, success_rate,
--                failure_rate, processing_ms_avg, processing_ms_p95 (per job type, and
--                '' for all types), queue_depth_end_of_day (jobs waiting at midnight)
--   users        users_new, users_total from auth.users (skipped where it is absent)
--   marketplace  sales_cents, refunds_cents, payouts_cents, platform_fees_cents,
--                payouts_paid per currency, from the payout ledger (skipped if absent)
-- Rates are fractions (0-1); times are milliseconds; money is integer cents.

create table if not exists public.analytics_daily (
  day        date not null,
  metric     text not null check (metric ~ '^[a-z][a-z0-9_]*$'),
  dimension  text not null default '',
  grp        text not null check (grp in ('queue', 'users', 'marketplace')),
  value      numeric not null,
  updated_at timestamptz not null default now(),
  primary key (day, metric, dimension)
);
comment on table public.analytics_daily is
  'Daily metrics by (day, metric, dimension); dimension is a job type, a currency or '''' for totals.';

alter table public.analytics_daily enable row level security;
revoke all on public.analytics_daily from anon, authenticated;
grant select, insert, update, delete on public.analytics_daily to service_role;

-- Queue metrics of [p_lo, p_hi): rows (metric, dimension, value).
create or replace function queue.analytics_queue_rows(p_lo timestamptz, p_hi timestamptz)
returns table (metric text, dimension text, value numeric)
language sql stable
set search_path = ''
as $$
  with completed as (
    select j.type, extract(epoch from j.finished_at - j.started_at) * 1000 as ms
      from public.job_queue j
     where j.status = 'completed' and j.finished_at >= p_lo and j.finished_at < p_hi
  ),
  dead as (
    select d.type from public.job_dead_letter d where d.failed_at >= p_lo and d.failed_at < p_hi
  ),
  enqueued as (
    select j.type from public.job_queue j where j.created_at >= p_lo and j.created_at < p_hi
    union all
    select d.type from public.job_dead_letter d where d.job_created_at >= p_lo and d.job_created_at < p_hi
  ),
  waiting as (
    select j.type from public.job_queue j
     where j.created_at < p_hi and (j.started_at is null or j.started_at >= p_hi)
       and (j.finished_at is null or j.finished_at >= p_hi)
  ),
  per_type as (
    select t.type,
           (select count(*) from enqueued e where e.type = t.type) as enq,
           (select count(*) from completed c where c.type = t.type) as ok,
           (select count(*) from dead d where d.type = t.type) as bad,
           (select avg(c.ms) from completed c where c.type = t.type) as avg_ms,
           (select percentile_cont(0.95) within group (order by c.ms) from completed c where c.type = t.type) as p95_ms,
           (select count(*) from waiting w where w.type = t.type) as depth
      from (select type from enqueued union select type from completed union select type from dead
            union select type from waiting) t
  ),
  totals as (
    select '' as type, sum(enq) as enq, sum(ok) as ok, sum(bad) as bad,
           (select avg(c.ms) from completed c) as avg_ms,
           (select percentile_cont(0.95) within group (order by c.ms) from completed c) as p95_ms,
           sum(depth) as depth
      from per_type
  )
  select x.metric, p.type, x.value
    from (select * from per_type union all select * from totals) p,
         lateral (values
           ('jobs_enqueued', p.enq::numeric), ('jobs_completed', p.ok::numeric), ('jobs_dead_lettered', p.bad::numeric),
           ('success_rate', round(p.ok::numeric / nullif(p.ok + p.bad, 0), 4)),
           ('failure_rate', round(p.bad::numeric / nullif(p.ok + p.bad, 0), 4)),
           ('processing_ms_avg', round(p.avg_ms::numeric, 1)), ('processing_ms_p95', round(p.p95_ms::numeric, 1)),
           ('queue_depth_end_of_day', p.depth::numeric)
         ) as x(metric, value)
   where x.value is not null and p.enq is not null
$$;
comment on function queue.analytics_queue_rows(timestamptz, timestamptz) is
  'Queue metrics of a time range per job type and in total ('''').';

-- Platform user metrics, or nothing when auth.users is absent (plain Postgres).
create or replace function queue.analytics_user_rows(p_lo timestamptz, p_hi timestamptz)
returns table (metric text, dimension text, value numeric)
language plpgsql stable
set search_path = ''
as $$
begin
  if pg_catalog.to_regclass('auth.users') is null then
    return;
  end if;
  -- Dynamic so this function is valid where auth.users does not exist.
  return query execute
    'select x.metric, '''', x.value from (select
        count(*) filter (where u.created_at >= $1 and u.created_at < $2)::numeric as new_,
        count(*) filter (where u.created_at < $2)::numeric as total
       from auth.users u) s,
     lateral (values (''users_new'', s.new_), (''users_total'', s.total)) as x(metric, value)'
    using p_lo, p_hi;
end
$$;
comment on function queue.analytics_user_rows(timestamptz, timestamptz) is
  'users_new and users_total from auth.users; no rows when auth.users does not exist.';

-- Marketplace money per currency from the payout ledger.
create or replace function queue.analytics_marketplace_rows(p_lo timestamptz, p_hi timestamptz)
returns table (metric text, dimension text, value numeric)
language sql stable
set search_path = ''
as $$
  select m.metric, m.currency, m.value from (
    select 'sales_cents' as metric, e.currency, sum(e.amount_cents)::numeric as value
      from public.ledger_entries e where e.kind = 'sale' and e.created_at >= p_lo and e.created_at < p_hi
     group by e.currency
    union all
    select 'refunds_cents', e.currency, -sum(e.amount_cents)::numeric
      from public.ledger_entries e where e.kind = 'refund' and e.created_at >= p_lo and e.created_at < p_hi
     group by e.currency
    union all
    select x.metric, p.currency, x.value
      from (select p.currency, sum(p.amount_cents)::numeric as paid, sum(p.fee_cents)::numeric as fees,
                   count(*)::numeric as n
              from public.payouts p where p.status = 'paid' and p.paid_at >= p_lo and p.paid_at < p_hi
             group by p.currency) p,
           lateral (values ('payouts_cents', p.paid), ('platform_fees_cents', p.fees), ('payouts_paid', p.n))
             as x(metric, value)
  ) m
$$;
comment on function queue.analytics_marketplace_rows(timestamptz, timestamptz) is
  'Sales, refunds, payouts and platform fees (integer cents) per currency from the payout ledger.';

-- Contract: recompute the metric groups p_groups (a JSON array of names; null = all) for UTC day p_day and
-- replace that day's rows of those groups; idempotent. Returns
-- {day, rows, groups: [...computed], skipped: {group: reason}}. Raises 22QY3 for an
-- unknown group and 22QY4 for a day in the future.
create or replace function public.analytics_rollup(p_day date, p_groups jsonb default null) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_lo timestamptz := p_day::timestamp at time zone 'UTC';
  v_hi timestamptz := (p_day + 1)::timestamp at time zone 'UTC';
  v_groups text[] := array['queue', 'users', 'marketplace'];
  v_skipped jsonb := '{}'::jsonb;
  v_rows integer;
begin
  if p_day is null or v_lo > pg_catalog.now() then
    perform queue.raise('22QY4', pg_catalog.format('cannot roll up %s: it has not started', p_day),
      'pass today or an earlier UTC date');
  end if;
  if p_groups is not null and pg_catalog.jsonb_typeof(p_groups) = 'array' then
    v_groups := array(select pg_catalog.jsonb_array_elements_text(p_groups));
  end if;
  if (p_groups is not null and pg_catalog.jsonb_typeof(p_groups) <> 'array')
     or not v_groups <@ array['queue', 'users', 'marketplace'] then
    perform queue.raise('22QY3', pg_catalog.format('unknown metric group in %s', v_groups),
      'groups are: queue, users, marketplace');
  end if;
  -- Two rollups of one day run one after the other (else both would insert its rows).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('analytics_rollup'), p_day - date '2000-01-01');
  if 'users' = any (v_groups) and pg_catalog.to_regclass('auth.users') is null then
    v_groups := pg_catalog.array_remove(v_groups, 'users');
    v_skipped := v_skipped || '{"users": "auth.users does not exist"}'::jsonb;
  end if;
  delete from public.analytics_daily a where a.day = p_day and a.grp = any (v_groups);
  insert into public.analytics_daily (day, metric, dimension, grp, value)
  select p_day, r.metric, r.dimension, r.grp, r.value from (
    select q.*, 'queue' as grp from queue.analytics_queue_rows(v_lo, v_hi) q where 'queue' = any (v_groups)
    union all
    select u.*, 'users' from queue.analytics_user_rows(v_lo, v_hi) u where 'users' = any (v_groups)
    union all
    select m.*, 'marketplace' from queue.analytics_marketplace_rows(v_lo, v_hi) m where 'marketplace' = any (v_groups)
  ) r;
  get diagnostics v_rows = row_count;
  return pg_catalog.jsonb_build_object('day', p_day, 'rows', v_rows, 'groups', pg_catalog.to_jsonb(v_groups),
                                       'skipped', v_skipped);
end
$$;
comment on function public.analytics_rollup(date, jsonb) is
  'Recompute and replace one UTC day''s analytics_daily rows for the given metric groups (null = all); idempotent.';

revoke execute on function public.analytics_rollup(date, jsonb) from public, anon, authenticated;
grant execute on function public.analytics_rollup(date, jsonb) to service_role;
revoke execute on function queue.analytics_queue_rows(timestamptz, timestamptz) from public;
revoke execute on function queue.analytics_user_rows(timestamptz, timestamptz) from public;
revoke execute on function queue.analytics_marketplace_rows(timestamptz, timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260102000100') on conflict do nothing;
