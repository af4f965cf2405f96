-- Per-type settings and queue-wide settings.
--
-- job_types: one row per job type. Enqueueing a type that has no row fails with
-- 22QT1. Claims skip disabled types. client_enqueueable lets the `authenticated`
-- role enqueue the type (off for every seeded type).
-- queue.settings: queue-wide knobs (payload size limit, retention).

create table if not exists public.job_types (
  name                 text primary key check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  description          text not null default '',
  max_attempts         integer not null default 5 check (max_attempts between 1 and 1000),
  backoff_base_seconds integer not null default 10 check (backoff_base_seconds >= 1),
  backoff_cap_seconds  integer not null default 3600,
  timeout_seconds      integer not null default 60 check (timeout_seconds between 1 and 86400),
  concurrency_limit    integer check (concurrency_limit is null or concurrency_limit >= 1),
  enabled              boolean not null default true,
  client_enqueueable   boolean not null default false,
  created_at           timestamptz not null default now(),
  updated_at           timestamptz not null default now(),
  constraint job_types_backoff_cap_not_below_base check (backoff_cap_seconds >= backoff_base_seconds)
);
comment on table public.job_types is
  'Per-type settings: default max attempts, backoff base and cap, lock/timeout seconds, concurrency limit, enabled.';

insert into public.job_types (name, description, max_attempts, backoff_base_seconds, backoff_cap_seconds, timeout_seconds, concurrency_limit)
values
  ('email',     'Transactional email through Resend, SMTP or the local outbox', 5, 10, 3600, 30, null),
  ('audio',     'Text-to-speech render stored in S3-compatible storage',        3, 30, 3600, 300, 4),
  ('payout',    'Stripe Connect transfer of one seller''s unpaid balance',       5, 60, 21600, 60, 2),
  ('analytics', 'Daily analytics rollup',                                        3, 60, 3600, 120, 1),
  ('weekly_payouts', 'Fans out one payout job per eligible seller',             3, 60, 3600, 120, 1),
  ('noop',      'Does nothing; used by the benchmark and smoke tests',          3, 1, 60, 30, null)
on conflict (name) do nothing;

create table if not exists queue.settings (
  key   text primary key,
  value jsonb not null,
  description text not null default ''
);
insert into queue.settings (key, value, description) values
  ('payload_max_bytes', '1048576', 'Largest payload enqueue accepts, in bytes of its JSON text'),
  ('retention_days',    '7',       'Finished (completed/cancelled) jobs older than this are purged'),
  ('worker_url',        'null',    'URL trigger_queue_worker POSTs to (pg_net); null disables it'),
  ('worker_secret',     'null',    'Bearer token trigger_queue_worker sends; prefer Vault on Supabase')
on conflict (key) do nothing;

create or replace function queue.setting(p_key text) returns jsonb
language sql stable
set search_path = ''
as $$ select s.value from queue.settings s where s.key = p_key $$;
comment on function queue.setting(text) is 'The value of a queue.settings key, or null.';

alter table public.job_types enable row level security;
revoke all on public.job_types from anon, authenticated;
grant select, insert, update, delete on public.job_types to service_role;

insert into queue.schema_migrations (version) values ('20260101000100') on conflict do nothing;
