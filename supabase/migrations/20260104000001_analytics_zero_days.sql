-- A day with no activity rolls up to zeros, not to no rows, so a chart of
-- analytics_daily shows zero where nothing happened instead of a gap.
--
-- queue: the all-types totals ('' dimension) of jobs_enqueued, jobs_completed,
-- jobs_dead_lettered and queue_depth_end_of_day are written as 0 on an empty day; rates
-- and processing times stay absent (there is nothing to divide or time). Per-type rows
-- still exist only for the types that had jobs that day.
-- marketplace: every currency the ledger has ever seen gets sales_cents, refunds_cents,
-- payouts_cents, platform_fees_cents and payouts_paid, 0 when the day had none.

-- Queue metrics of [p_lo, p_hi): rows (metric, dimension, value); totals always present.
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
    select '' as type, coalesce(sum(enq), 0) as enq, coalesce(sum(ok), 0) as ok, coalesce(sum(bad), 0) as bad,
           (select avg(c.ms) from completed c) as avg_ms,
           (select percentile_cont(0.95) within group (order by c.ms) from completed c) as p95_ms,
           coalesce(sum(depth), 0) as depth
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
   where x.value is not null
$$;
comment on function queue.analytics_queue_rows(timestamptz, timestamptz) is
  'Queue metrics of a time range per job type and in total (''''); the totals are 0 on an empty day.';

-- Marketplace money per currency from the payout ledger; 0 for a currency with no activity.
create or replace function queue.analytics_marketplace_rows(p_lo timestamptz, p_hi timestamptz)
returns table (metric text, dimension text, value numeric)
language sql stable
set search_path = ''
as $$
  with currencies as (
    select distinct e.currency from public.ledger_entries e
  ),
  entries as (
    select e.currency, sum(e.amount_cents) filter (where e.kind = 'sale') as sales,
           -sum(e.amount_cents) filter (where e.kind = 'refund') as refunds
      from public.ledger_entries e where e.created_at >= p_lo and e.created_at < p_hi
     group by e.currency
  ),
  paid as (
    select p.currency, sum(p.amount_cents) as paid, sum(p.fee_cents) as fees, count(*) as n
      from public.payouts p where p.status = 'paid' and p.paid_at >= p_lo and p.paid_at < p_hi
     group by p.currency
  )
  select x.metric, c.currency, x.value
    from currencies c
    left join entries e on e.currency = c.currency
    left join paid p on p.currency = c.currency,
         lateral (values ('sales_cents', coalesce(e.sales, 0)::numeric), ('refunds_cents', coalesce(e.refunds, 0)::numeric),
                         ('payouts_cents', coalesce(p.paid, 0)::numeric), ('platform_fees_cents', coalesce(p.fees, 0)::numeric),
                         ('payouts_paid', coalesce(p.n, 0)::numeric)) as x(metric, value)
$$;
comment on function queue.analytics_marketplace_rows(timestamptz, timestamptz) is
  'Sales, refunds, payouts and platform fees (integer cents) per currency the ledger knows; 0 on a quiet day.';

revoke execute on function queue.analytics_queue_rows(timestamptz, timestamptz) from public;
revoke execute on function queue.analytics_marketplace_rows(timestamptz, timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260104000001') on conflict do nothing;
