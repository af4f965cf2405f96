-- Where the health warnings' thresholds live: per job type in job_types, queue-wide in
-- queue.settings. Nothing is a constant in code; an operator tunes them with UPDATE.
--
-- Contract:
-- job_types.max_backlog_age_seconds   the oldest ready job of the type may wait this long (default 300)
-- job_types.max_dead_letters_per_hour dead letters of the type in the last hour (default 10)
-- job_types.max_stuck_jobs            running jobs of the type whose lease expired more than
--                                     health_stuck_grace_seconds ago (default 0)
-- queue.settings health_*             the database-wide checks (see the rows below).
-- Every threshold is a number >= 0 (23514 names the constraint otherwise). A check warns when
-- its value exceeds its threshold and is critical past health_critical_factor x threshold.

alter table public.job_types add column if not exists max_backlog_age_seconds integer not null default 300;
alter table public.job_types add column if not exists max_dead_letters_per_hour integer not null default 10;
alter table public.job_types add column if not exists max_stuck_jobs integer not null default 0;

do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint where conname = 'job_types_health_thresholds') then
    alter table public.job_types add constraint job_types_health_thresholds check (
      max_backlog_age_seconds >= 1 and max_dead_letters_per_hour >= 0 and max_stuck_jobs >= 0);
  end if;
end
$$;
comment on column public.job_types.max_backlog_age_seconds is
  'Health warns when the oldest ready job of this type has waited longer (seconds, >= 1).';
comment on column public.job_types.max_dead_letters_per_hour is
  'Health warns when more jobs of this type were dead-lettered in the last hour (>= 0).';
comment on column public.job_types.max_stuck_jobs is
  'Health warns when more jobs of this type hold a lease that expired over health_stuck_grace_seconds ago (>= 0).';

insert into queue.settings (key, value, description) values
  ('health_critical_factor', '3', 'A health check is critical when its value exceeds this many times its threshold (> 1)'),
  ('health_stuck_grace_seconds', '120', 'A running job whose lease expired this long ago counts as stuck (cleanup_stuck_jobs missed it)'),
  ('health_last_run_max_age_seconds', '300', 'Health warns when no worker invocation started for this many seconds'),
  ('health_unanswered_kicks_max', '0', 'Health warns when more pg_net kicks of the last hour went unanswered'),
  ('health_dead_tuples_min', '10000', 'Table bloat is checked only on queue tables with at least this many dead tuples'),
  ('health_dead_tuple_ratio_max', '0.2', 'Health warns when dead tuples exceed this share of a queue table''s tuples (0-1)'),
  ('health_xmin_max_age_seconds', '300', 'Health warns when a transaction (or prepared transaction) has held the xmin horizon this long'),
  ('health_slot_max_xid_age', '100000000', 'Health warns when a replication slot holds xmin back by more transaction ids'),
  ('health_pg_net_queue_max', '1000', 'Health warns when pg_net has more requests queued (net.http_request_queue)'),
  ('health_pg_net_failures_max_per_hour', '10', 'Health warns when more pg_net responses of the last hour failed (error or status >= 400)'),
  ('health_cron_failures_max_per_hour', '0', 'Health warns when more pg_cron runs of the last hour failed'),
  ('health_cron_run_details_max_rows', '100000', 'Health warns when cron.job_run_details holds more rows (it grows with every run)')
on conflict (key) do nothing;

do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint where conname = 'settings_health_values') then
    -- The casts sit behind CASE: AND does not promise to test the type first.
    alter table queue.settings add constraint settings_health_values check (case
      when key not like 'health\_%' then true
      when pg_catalog.jsonb_typeof(value) <> 'number' then false
      when key = 'health_critical_factor' then value::numeric > 1
      when key = 'health_dead_tuple_ratio_max' then value::numeric between 0 and 1
      else value::numeric >= 0 end);
  end if;
end
$$;
comment on constraint settings_health_values on queue.settings is
  'health_* settings are numbers >= 0; health_critical_factor > 1; health_dead_tuple_ratio_max between 0 and 1.';

insert into queue.schema_migrations (version) values ('20260107000100') on conflict do nothing;
