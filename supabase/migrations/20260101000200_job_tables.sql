-- The job tables: job_queue (live and finished jobs), job_dead_letter (jobs that
-- exhausted their attempts or failed permanently) and job_status_history (one row
-- per status change, written in the same statement as the change).
--
-- Invariants are CHECK constraints so no code path can break them.

do $$
begin
  if not exists (select 1 from pg_type where typname = 'job_priority' and typnamespace = 'public'::regnamespace) then
    -- Declaration order is sort order: low < normal < high < critical.
    create type public.job_priority as enum ('low', 'normal', 'high', 'critical');
  end if;
  if not exists (select 1 from pg_type where typname = 'job_status' and typnamespace = 'public'::regnamespace) then
    create type public.job_status as enum ('pending', 'running', 'completed', 'cancelled');
  end if;
end
$$;

create table if not exists public.job_queue (
  id               uuid primary key default gen_random_uuid(),
  -- Enqueue order: ties on (priority, run_at) are claimed first in, first out.
  seq              bigint generated always as identity,
  type             text not null references public.job_types (name) on update cascade,
  payload          jsonb not null default '{}'::jsonb,
  priority         public.job_priority not null default 'normal',
  status           public.job_status not null default 'pending',
  attempts         integer not null default 0,
  max_attempts     integer not null,
  run_at           timestamptz not null default now(),
  locked_by        text,
  locked_until     timestamptz,
  lock_seconds     integer,
  progress         smallint not null default 0,
  progress_message text,
  result           jsonb,
  last_error       text,
  errors           jsonb not null default '[]'::jsonb,
  depends_on       uuid[],
  idempotency_key  text,
  rate_limit_key   text,
  owner_id         uuid,
  created_at       timestamptz not null default now(),
  started_at       timestamptz,
  finished_at      timestamptz,
  updated_at       timestamptz not null default now(),
  constraint job_queue_payload_is_object check (jsonb_typeof(payload) = 'object'),
  constraint job_queue_errors_is_array check (jsonb_typeof(errors) = 'array'),
  constraint job_queue_attempts_in_range check (attempts >= 0 and attempts <= max_attempts),
  constraint job_queue_max_attempts_positive check (max_attempts >= 1),
  constraint job_queue_progress_percent check (progress between 0 and 100),
  constraint job_queue_running_is_locked check (
    (status = 'running') = (locked_by is not null and locked_until is not null)),
  constraint job_queue_finished_has_time check (
    (status in ('completed', 'cancelled')) = (finished_at is not null))
);
comment on table public.job_queue is
  'Jobs. pending -> running -> completed | pending (retry) | job_dead_letter; pending/running -> cancelled.';

-- The claim path: ready jobs in priority order. Partial, so finished rows cost nothing.
create index if not exists job_queue_claim_idx
  on public.job_queue (priority desc, run_at, seq) where status = 'pending';
-- Stuck-job sweep, per-type concurrency counts and fencing lookups.
create index if not exists job_queue_running_idx
  on public.job_queue (type, locked_until) where status = 'running';
-- Idempotent enqueue: one live-or-finished job per (type, key) until it is purged.
create unique index if not exists job_queue_idempotency_idx
  on public.job_queue (type, idempotency_key) where idempotency_key is not null;
-- Rate limits count recent starts per key.
create index if not exists job_queue_rate_limit_idx
  on public.job_queue (rate_limit_key, started_at) where rate_limit_key is not null;
-- Dependency cascade: which pending jobs wait on a given job.
create index if not exists job_queue_depends_on_idx
  on public.job_queue using gin (depends_on) where depends_on is not null;
-- Retention and stats over finished jobs.
create index if not exists job_queue_finished_idx
  on public.job_queue (finished_at) where finished_at is not null;
create index if not exists job_queue_owner_idx
  on public.job_queue (owner_id) where owner_id is not null;

create table if not exists public.job_dead_letter (
  id              uuid primary key default gen_random_uuid(),
  job_id          uuid not null,
  type            text not null,
  payload         jsonb not null,
  priority        public.job_priority not null,
  attempts        integer not null,
  max_attempts    integer not null,
  last_error      text,
  errors          jsonb not null default '[]'::jsonb,
  idempotency_key text,
  rate_limit_key  text,
  owner_id        uuid,
  job_created_at  timestamptz not null,
  failed_at       timestamptz not null default now(),
  replayed_job_id uuid,
  replayed_at     timestamptz
);
comment on table public.job_dead_letter is
  'Jobs that exhausted their attempts or failed permanently, with their full error history.';
create index if not exists job_dead_letter_failed_at_idx on public.job_dead_letter (failed_at);
create index if not exists job_dead_letter_job_id_idx on public.job_dead_letter (job_id);

-- Run again after 20260105000000_compact_history (which renamed this table to
-- job_status_events and put a view in its place), this part has nothing left to do.
do $$
begin
  if to_regclass('public.job_status_events') is not null then
    return;
  end if;
  create table if not exists public.job_status_history (
    id          bigint generated always as identity primary key,
    job_id      uuid not null,
    from_status text,
    to_status   text not null check (to_status in ('pending', 'running', 'completed', 'cancelled', 'dead_letter')),
    worker_id   text,
    note        text,
    at          timestamptz not null default now()
  );
  comment on table public.job_status_history is
    'One row per status change of a job; to_status dead_letter marks the move to job_dead_letter.';
  create index if not exists job_status_history_job_idx on public.job_status_history (job_id, id);
  create index if not exists job_status_history_at_idx on public.job_status_history (at);
  alter table public.job_status_history enable row level security;
end
$$;

-- RLS everywhere. Clients see nothing but the status, progress and result of
-- their own jobs; the service role and the security definer functions see all.
alter table public.job_queue enable row level security;
alter table public.job_dead_letter enable row level security;

revoke all on public.job_queue, public.job_dead_letter, public.job_status_history from anon, authenticated;
grant select, insert, update, delete on public.job_queue, public.job_dead_letter, public.job_status_history to service_role;

grant select (id, type, status, progress, progress_message, result, created_at, started_at, finished_at, updated_at)
  on public.job_queue to authenticated;

drop policy if exists job_queue_owner_reads_own on public.job_queue;
create policy job_queue_owner_reads_own on public.job_queue
  for select to authenticated
  using (owner_id is not null and owner_id = (select auth.uid()));

insert into queue.schema_migrations (version) values ('20260101000200') on conflict do nothing;
