-- Health checks of what takes Postgres queues down when nobody watches: bloat of the queue
-- tables and the xmin horizon held back by a long transaction or a replication slot.
--
-- Contract: queue.health_database_checks(p_now) returns a JSON array of
-- - table_bloat, one per queue table (job_queue, job_status_events, job_dead_letter,
--   job_kicks): value = dead tuples / (live + dead) from the statistics collector, vs
--   health_dead_tuple_ratio_max; ok whatever the ratio while dead tuples < health_dead_tuples_min.
--   details: dead and live tuples, last (auto)vacuum, whether autovacuum is enabled on it.
-- - xmin_horizon: value = seconds the oldest transaction of this database that holds a
--   snapshot (backend_xmin), or the oldest prepared transaction, has been open, vs
--   health_xmin_max_age_seconds. Vacuum cannot remove rows that transaction may still see,
--   so a queue's churn turns into bloat. details: the 5 oldest holders (pid, user,
--   application, state, since, xid age, the first 200 characters of the query).
--   The caller's own session is not counted; autovacuum workers are not (they do not hold
--   the horizon back).
-- - replication_slot_xmin: value = the largest xid age of any slot's xmin or catalog_xmin
--   (0 without slots), vs health_slot_max_xid_age. details: every slot holding one.
-- Statistics lag by up to a second (PG 15+ flushes them at most once a second).

create or replace function queue.health_database_checks(p_now timestamptz) returns jsonb
language sql stable
set search_path = ''
as $$
  with queue_tables as (
    select r.rel, r.ord
      from (values (pg_catalog.to_regclass('public.job_queue'), 1), (pg_catalog.to_regclass('public.job_status_events'), 2),
                   (pg_catalog.to_regclass('public.job_dead_letter'), 3), (pg_catalog.to_regclass('public.job_kicks'), 4)) r(rel, ord)
     where r.rel is not null
  ),
  bloat as (
    select q.ord, s.schemaname || '.' || s.relname as tbl, s.n_dead_tup as dead, s.n_live_tup as live,
           s.last_autovacuum, s.last_vacuum,
           not coalesce(c.reloptions @> array['autovacuum_enabled=false']
                        or c.reloptions @> array['autovacuum_enabled=off'], false) as autovacuum_enabled
      from queue_tables q
      join pg_catalog.pg_stat_all_tables s on s.relid = q.rel
      join pg_catalog.pg_class c on c.oid = q.rel
  ),
  holders as (
    select a.pid, a.usename::text as usr, a.application_name as app, a.state, a.xact_start as since,
           pg_catalog.age(a.backend_xmin) as xid_age, pg_catalog.left(a.query, 200) as query
      from pg_catalog.pg_stat_activity a
     where a.backend_xmin is not null and a.xact_start is not null
       and a.pid <> pg_catalog.pg_backend_pid()
       and a.datname = pg_catalog.current_database()
       and a.backend_type <> 'autovacuum worker'
    union all
    select null, p.owner::text, null, 'prepared transaction ' || p.gid, p.prepared, pg_catalog.age(p.transaction), null
      from pg_catalog.pg_prepared_xacts p
     where p.database = pg_catalog.current_database()
  ),
  slots as (
    select s.slot_name::text as slot, s.slot_type, s.active,
           greatest(pg_catalog.age(s.xmin), pg_catalog.age(s.catalog_xmin)) as xid_age
      from pg_catalog.pg_replication_slots s
     where s.xmin is not null or s.catalog_xmin is not null
  ),
  checks as (
    select b.ord,
           queue.health_check('table_bloat', pg_catalog.jsonb_build_object('table', b.tbl),
             case when b.dead + b.live = 0 then 0 else pg_catalog.round(b.dead::numeric / (b.dead + b.live), 4) end,
             queue.health_setting('health_dead_tuple_ratio_max', 0.2), 'dead tuple share',
             case when not b.autovacuum_enabled
                  then 'autovacuum is off for ' || b.tbl || ': ALTER TABLE ' || b.tbl || ' RESET (autovacuum_enabled)'
                  else 'VACUUM (ANALYZE) ' || b.tbl || '; if dead tuples keep growing, a long transaction (xmin_horizon) or too lax autovacuum settings keep vacuum from removing them' end,
             pg_catalog.jsonb_build_object('dead_tuples', b.dead, 'live_tuples', b.live, 'min_dead_tuples',
               queue.health_setting('health_dead_tuples_min', 10000), 'autovacuum_enabled', b.autovacuum_enabled,
               'last_autovacuum', b.last_autovacuum, 'last_vacuum', b.last_vacuum))
           || case when b.dead < queue.health_setting('health_dead_tuples_min', 10000)
                   then '{"severity": "ok"}'::jsonb else '{}'::jsonb end as c
      from bloat b
    union all
    select 10,
           queue.health_check('xmin_horizon', '{}'::jsonb,
             coalesce((select pg_catalog.max(greatest(extract(epoch from p_now - h.since), 0)) from holders h), 0)::numeric(14, 3),
             queue.health_setting('health_xmin_max_age_seconds', 300), 'seconds',
             'a transaction has held its snapshot open so long that vacuum cannot clean the queue tables: end it (pg_terminate_backend(pid) if it is idle in transaction) or set idle_in_transaction_session_timeout',
             pg_catalog.jsonb_build_object('holders', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('pid', h.pid, 'user', h.usr,
                         'application', h.app, 'state', h.state, 'since', h.since, 'xid_age', h.xid_age, 'query', h.query)
                         order by h.since)
                         from (select * from holders order by since limit 5) h), '[]'::jsonb)))
    union all
    select 11,
           queue.health_check('replication_slot_xmin', '{}'::jsonb,
             coalesce((select pg_catalog.max(s.xid_age) from slots s), 0),
             queue.health_setting('health_slot_max_xid_age', 100000000), 'transaction ids',
             'a replication slot holds the xmin horizon back: drop the slot nobody reads (pg_drop_replication_slot) or restart its consumer',
             pg_catalog.jsonb_build_object('slots', coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s)) from slots s), '[]'::jsonb)))
  )
  select coalesce(pg_catalog.jsonb_agg(x.c order by x.ord), '[]'::jsonb) from checks x
$$;
comment on function queue.health_database_checks(timestamptz) is
  'table_bloat per queue table, xmin_horizon (oldest snapshot-holding or prepared transaction) and replication_slot_xmin, against the health_* settings.';
revoke execute on function queue.health_database_checks(timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260107000130') on conflict do nothing;
