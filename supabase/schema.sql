-- The queue's schema as the migrations in supabase/migrations/ leave it: every type,
-- table, constraint, index, trigger, policy and function, with comments and the
-- privileges of anon, authenticated and service_role (what each may do, granted to it
-- or to PUBLIC). Owners, extensions (pg_cron, pg_net) and rows are left out.
--
-- GENERATED from a freshly migrated database by tests/sql/schema_description.py, and
-- checked against one by tests/sql/test_schema_snapshot.py. It is never applied: to
-- change the schema, add a migration, then regenerate this file with
--   UPDATE_SCHEMA_SQL=1 .venv/bin/pytest tests/sql/test_schema_snapshot.py

-- schema public
grant usage on schema public to anon;
grant usage on schema public to authenticated;
grant usage on schema public to service_role;

-- type public.job_priority
create type public.job_priority as enum ('low', 'normal', 'high', 'critical');

-- type public.job_status
create type public.job_status as enum ('pending', 'running', 'completed', 'cancelled');

-- table public.analytics_daily
create table public.analytics_daily (
    day date not null,
    metric text not null,
    dimension text not null default ''::text,
    grp text not null,
    value numeric not null,
    updated_at timestamp with time zone not null default now()
);
alter table public.analytics_daily add constraint analytics_daily_grp_check CHECK ((grp = ANY (ARRAY['queue'::text, 'users'::text, 'marketplace'::text])));
alter table public.analytics_daily add constraint analytics_daily_metric_check CHECK ((metric ~ '^[a-z][a-z0-9_]*$'::text));
alter table public.analytics_daily add constraint analytics_daily_pkey PRIMARY KEY (day, metric, dimension);
alter table public.analytics_daily enable row level security;
comment on table public.analytics_daily is 'Daily metrics by (day, metric, dimension); dimension is a job type, a currency or '''' for totals.';
grant select, insert, update, delete on table public.analytics_daily to service_role;

-- table public.circuit_breakers
create table public.circuit_breakers (
    provider text not null,
    state text not null default 'closed'::text,
    consecutive_failures integer not null default 0,
    open_until timestamp with time zone,
    last_error text,
    last_failure_at timestamp with time zone,
    last_success_at timestamp with time zone,
    updated_at timestamp with time zone not null default now()
);
alter table public.circuit_breakers add constraint circuit_breakers_consecutive_failures_check CHECK ((consecutive_failures >= 0));
alter table public.circuit_breakers add constraint circuit_breakers_open_has_deadline CHECK (((state = 'closed'::text) OR (open_until IS NOT NULL)));
alter table public.circuit_breakers add constraint circuit_breakers_pkey PRIMARY KEY (provider);
alter table public.circuit_breakers add constraint circuit_breakers_provider_check CHECK ((provider ~ '^[a-z][a-z0-9_.-]{0,62}$'::text));
alter table public.circuit_breakers add constraint circuit_breakers_state_check CHECK ((state = ANY (ARRAY['closed'::text, 'open'::text, 'half_open'::text])));
alter table public.circuit_breakers enable row level security;
comment on table public.circuit_breakers is 'Per-provider circuit breaker state: closed, open until open_until, or half_open while one probe runs.';
grant select, insert, update, delete on table public.circuit_breakers to service_role;

-- table public.console_actions
create table public.console_actions (
    id bigint not null generated always as identity,
    at timestamp with time zone not null default clock_timestamp(),
    actor text not null,
    action text not null,
    target jsonb not null default '{}'::jsonb,
    affected integer not null default 0,
    detail jsonb not null default '{}'::jsonb
);
alter table public.console_actions add constraint console_actions_action_check CHECK ((action ~ '^[a-z][a-z0-9_.]{0,62}$'::text));
alter table public.console_actions add constraint console_actions_actor_check CHECK ((actor = ANY (ARRAY['admin'::text, 'cli'::text, 'sql'::text])));
alter table public.console_actions add constraint console_actions_affected_check CHECK ((affected >= 0));
alter table public.console_actions add constraint console_actions_pkey PRIMARY KEY (id);
alter table public.console_actions enable row level security;
comment on table public.console_actions is 'Audit trail of operator actions: when, which role (admin/cli/sql), what, on what, how many rows changed.';
grant select, insert on table public.console_actions to service_role;

-- table public.job_dead_letter
create table public.job_dead_letter (
    id uuid not null default gen_random_uuid(),
    job_id uuid not null,
    type text not null,
    payload jsonb not null,
    priority public.job_priority not null,
    attempts integer not null,
    max_attempts integer not null,
    last_error text,
    errors jsonb not null default '[]'::jsonb,
    idempotency_key text,
    rate_limit_key text,
    owner_id uuid,
    job_created_at timestamp with time zone not null,
    failed_at timestamp with time zone not null default now(),
    replayed_job_id uuid,
    replayed_at timestamp with time zone,
    error_fingerprint text not null default ''::text
);
alter table public.job_dead_letter add constraint job_dead_letter_pkey PRIMARY KEY (id);
CREATE INDEX job_dead_letter_failed_at_idx ON public.job_dead_letter USING btree (failed_at);
CREATE INDEX job_dead_letter_group_idx ON public.job_dead_letter USING btree (error_fingerprint, type, failed_at) WHERE (replayed_job_id IS NULL);
CREATE INDEX job_dead_letter_idempotency_idx ON public.job_dead_letter USING btree (type, idempotency_key) WHERE (idempotency_key IS NOT NULL);
CREATE INDEX job_dead_letter_job_id_idx ON public.job_dead_letter USING btree (job_id);
CREATE INDEX job_dead_letter_owner_idx ON public.job_dead_letter USING btree (owner_id, job_created_at DESC) WHERE (owner_id IS NOT NULL);
CREATE INDEX job_dead_letter_page_idx ON public.job_dead_letter USING btree (failed_at DESC, id DESC);
CREATE INDEX job_dead_letter_type_page_idx ON public.job_dead_letter USING btree (type, failed_at DESC, id DESC);
CREATE TRIGGER job_dead_letter_fingerprint BEFORE INSERT OR UPDATE OF last_error, error_fingerprint ON public.job_dead_letter FOR EACH ROW EXECUTE FUNCTION queue.dead_letter_fingerprint();
CREATE TRIGGER job_dead_letter_waiting_delete AFTER DELETE ON public.job_dead_letter REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION queue.dead_letters_waiting_on_delete();
CREATE TRIGGER job_dead_letter_waiting_insert AFTER INSERT ON public.job_dead_letter REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue.dead_letters_waiting_on_insert();
CREATE TRIGGER job_dead_letter_waiting_truncate AFTER TRUNCATE ON public.job_dead_letter FOR EACH STATEMENT EXECUTE FUNCTION queue.dead_letters_waiting_on_truncate();
CREATE TRIGGER job_dead_letter_waiting_update AFTER UPDATE ON public.job_dead_letter REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION queue.dead_letters_waiting_on_update();
alter table public.job_dead_letter enable row level security;
create policy job_dead_letter_owner_reads_own on public.job_dead_letter as permissive for select to authenticated
    using (((owner_id IS NOT NULL) AND (owner_id = ( SELECT auth.uid() AS uid))));
comment on table public.job_dead_letter is 'Jobs that exhausted their attempts or failed permanently, with their full error history.';
comment on column public.job_dead_letter.error_fingerprint is 'queue.error_fingerprint(last_error), '''' without an error; written by trigger job_dead_letter_fingerprint.';
grant select, insert, update, delete on table public.job_dead_letter to service_role;
grant select (id, job_id, type, owner_id, job_created_at, failed_at, replayed_job_id, replayed_at) on table public.job_dead_letter to authenticated;

-- table public.job_kicks
create table public.job_kicks (
    id bigint not null generated always as identity,
    kick_group text not null,
    kicked_at timestamp with time zone not null default clock_timestamp(),
    via text not null,
    request_id bigint,
    answered_at timestamp with time zone,
    answered_by text
);
alter table public.job_kicks add constraint job_kicks_answer_complete CHECK (((answered_at IS NULL) = (answered_by IS NULL)));
alter table public.job_kicks add constraint job_kicks_pkey PRIMARY KEY (id);
alter table public.job_kicks add constraint job_kicks_request_means_pg_net CHECK (((request_id IS NULL) OR (via = 'pg_net'::text)));
alter table public.job_kicks add constraint job_kicks_via_check CHECK ((via = ANY (ARRAY['notify'::text, 'pg_net'::text])));
CREATE INDEX job_kicks_group_idx ON public.job_kicks USING btree (kick_group, kicked_at DESC);
CREATE INDEX job_kicks_unanswered_idx ON public.job_kicks USING btree (kick_group) WHERE (answered_at IS NULL);
alter table public.job_kicks enable row level security;
comment on table public.job_kicks is 'Wake-ups sent when ready jobs arrived: group, when, via notify or pg_net (request id), answered by which invocation and when.';
grant select, insert, update, delete on table public.job_kicks to service_role;

-- table public.job_minute_stats
create table public.job_minute_stats (
    minute timestamp with time zone not null,
    type text not null,
    completed integer not null default 0,
    failed integer not null default 0,
    dead_lettered integer not null default 0,
    ready integer,
    run_ms_buckets integer[] not null default array_fill(0, ARRAY[56])
);
alter table public.job_minute_stats add constraint job_minute_stats_completed_check CHECK ((completed >= 0));
alter table public.job_minute_stats add constraint job_minute_stats_dead_lettered_check CHECK ((dead_lettered >= 0));
alter table public.job_minute_stats add constraint job_minute_stats_failed_check CHECK ((failed >= 0));
alter table public.job_minute_stats add constraint job_minute_stats_pkey PRIMARY KEY (minute, type);
alter table public.job_minute_stats add constraint job_minute_stats_ready_check CHECK ((ready >= 0));
alter table public.job_minute_stats add constraint job_minute_stats_run_ms_buckets_check CHECK ((cardinality(run_ms_buckets) = 56));
alter table public.job_minute_stats enable row level security;
comment on table public.job_minute_stats is 'Per minute (older than 25 h: per hour) and type: completed, failed attempts, dead letters, sampled ready backlog, run-time histogram. Filled by queue.record_minute_stats.';
comment on column public.job_minute_stats.run_ms_buckets is 'Completed jobs by run time (finished_at - started_at): element b+1 counts bucket b of queue.run_ms_bucket (0: under 1 ms; b >= 1: [2^((b-1)/2), 2^(b/2)) ms).';
grant select on table public.job_minute_stats to service_role;

-- table public.job_queue
create table public.job_queue (
    id uuid not null default gen_random_uuid(),
    seq bigint not null generated always as identity,
    type text not null,
    payload jsonb not null default '{}'::jsonb,
    priority public.job_priority not null default 'normal'::public.job_priority,
    status public.job_status not null default 'pending'::public.job_status,
    attempts integer not null default 0,
    max_attempts integer not null,
    run_at timestamp with time zone not null default now(),
    locked_by text,
    locked_until timestamp with time zone,
    lock_seconds integer,
    progress smallint not null default 0,
    progress_message text,
    result jsonb,
    last_error text,
    errors jsonb not null default '[]'::jsonb,
    depends_on uuid[],
    idempotency_key text,
    rate_limit_key text,
    owner_id uuid,
    created_at timestamp with time zone not null default now(),
    started_at timestamp with time zone,
    finished_at timestamp with time zone,
    updated_at timestamp with time zone not null default now(),
    claimed_by text,
    traceparent text default COALESCE("substring"(current_setting('queue.traceparent'::text, true), '^(00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2})$'::text), "substring"(current_setting('request.headers'::text, true), '"traceparent"\s*:\s*"(00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2})"'::text))
);
alter table public.job_queue add constraint job_queue_attempts_in_range CHECK (((attempts >= 0) AND (attempts <= max_attempts)));
alter table public.job_queue add constraint job_queue_errors_is_array CHECK ((jsonb_typeof(errors) = 'array'::text));
alter table public.job_queue add constraint job_queue_finished_has_time CHECK (((status = ANY (ARRAY['completed'::public.job_status, 'cancelled'::public.job_status])) = (finished_at IS NOT NULL)));
alter table public.job_queue add constraint job_queue_max_attempts_positive CHECK ((max_attempts >= 1));
alter table public.job_queue add constraint job_queue_payload_is_object CHECK ((jsonb_typeof(payload) = 'object'::text));
alter table public.job_queue add constraint job_queue_pkey PRIMARY KEY (id);
alter table public.job_queue add constraint job_queue_progress_percent CHECK (((progress >= 0) AND (progress <= 100)));
alter table public.job_queue add constraint job_queue_running_is_locked CHECK (((status = 'running'::public.job_status) = ((locked_by IS NOT NULL) AND (locked_until IS NOT NULL))));
alter table public.job_queue add constraint job_queue_type_fkey FOREIGN KEY (type) REFERENCES public.job_types(name) ON UPDATE CASCADE;
CREATE INDEX job_queue_claim_idx ON public.job_queue USING btree (priority DESC, run_at, seq) WHERE (status = 'pending'::public.job_status);
CREATE INDEX job_queue_depends_on_idx ON public.job_queue USING gin (depends_on) WHERE (depends_on IS NOT NULL);
CREATE INDEX job_queue_finished_idx ON public.job_queue USING btree (finished_at) WHERE (finished_at IS NOT NULL);
CREATE UNIQUE INDEX job_queue_idempotency_idx ON public.job_queue USING btree (type, idempotency_key) WHERE (idempotency_key IS NOT NULL);
CREATE INDEX job_queue_owner_idx ON public.job_queue USING btree (owner_id) WHERE (owner_id IS NOT NULL);
CREATE INDEX job_queue_rate_limit_idx ON public.job_queue USING btree (rate_limit_key, started_at) WHERE (rate_limit_key IS NOT NULL);
CREATE INDEX job_queue_running_idx ON public.job_queue USING btree (type, locked_until) WHERE (status = 'running'::public.job_status);
CREATE INDEX job_queue_seq_idx ON public.job_queue USING btree (seq);
CREATE TRIGGER job_queue_kick_on_insert AFTER INSERT ON public.job_queue REFERENCING NEW TABLE AS new_jobs FOR EACH STATEMENT EXECUTE FUNCTION queue.kick_on_insert();
CREATE TRIGGER job_queue_kick_on_ready_again AFTER UPDATE OF status ON public.job_queue FOR EACH ROW WHEN (((old.status = 'running'::public.job_status) AND (new.status = 'pending'::public.job_status) AND (new.run_at <= clock_timestamp()))) EXECUTE FUNCTION queue.kick_on_ready_again();
alter table public.job_queue enable row level security;
create policy job_queue_owner_reads_own on public.job_queue as permissive for select to authenticated
    using (((owner_id IS NOT NULL) AND (owner_id = ( SELECT auth.uid() AS uid))));
comment on table public.job_queue is 'Jobs. pending -> running -> completed | pending (retry) | job_dead_letter; pending/running -> cancelled.';
comment on column public.job_queue.claimed_by is 'Worker of the current (or, once finished, the last) claim; kept after completion for job_status_history.';
comment on column public.job_queue.traceparent is 'W3C traceparent of the span that enqueued the job (setting queue.traceparent, else the PostgREST request''s traceparent header; malformed or absent: null). The worker''s job span links to it.';
grant select, insert, update, delete on table public.job_queue to service_role;
grant select (id, type, status, progress, progress_message, result, owner_id, created_at, started_at, finished_at, updated_at) on table public.job_queue to authenticated;

-- table public.job_rate_limits
create table public.job_rate_limits (
    key text not null,
    max_per_window integer not null,
    window_seconds integer not null,
    created_at timestamp with time zone not null default now()
);
alter table public.job_rate_limits add constraint job_rate_limits_max_per_window_check CHECK ((max_per_window >= 1));
alter table public.job_rate_limits add constraint job_rate_limits_pkey PRIMARY KEY (key);
alter table public.job_rate_limits add constraint job_rate_limits_window_seconds_check CHECK ((window_seconds >= 1));
alter table public.job_rate_limits enable row level security;
comment on table public.job_rate_limits is 'Per-key rate limits: jobs with rate_limit_key = key start at most max_per_window times per window_seconds.';
grant select, insert, update, delete on table public.job_rate_limits to service_role;

-- table public.job_schedules
create table public.job_schedules (
    name text not null,
    cron text not null,
    type text not null,
    payload jsonb not null default '{}'::jsonb,
    priority public.job_priority not null default 'normal'::public.job_priority,
    enabled boolean not null default false,
    next_run_at timestamp with time zone,
    last_run_at timestamp with time zone,
    last_job_id uuid,
    created_at timestamp with time zone not null default now(),
    updated_at timestamp with time zone not null default now()
);
alter table public.job_schedules add constraint job_schedules_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text));
alter table public.job_schedules add constraint job_schedules_payload_check CHECK ((jsonb_typeof(payload) = 'object'::text));
alter table public.job_schedules add constraint job_schedules_pkey PRIMARY KEY (name);
alter table public.job_schedules add constraint job_schedules_type_fkey FOREIGN KEY (type) REFERENCES public.job_types(name) ON UPDATE CASCADE;
CREATE TRIGGER job_schedules_before_write BEFORE INSERT OR UPDATE ON public.job_schedules FOR EACH ROW EXECUTE FUNCTION queue.job_schedules_before_write();
alter table public.job_schedules enable row level security;
comment on table public.job_schedules is 'Recurring jobs (cron in UTC). enqueue_due_schedules() enqueues each due slot once. Enable with update ... set enabled = true.';
grant select, insert, update, delete on table public.job_schedules to service_role;

-- table public.job_status_events
create table public.job_status_events (
    id bigint not null generated always as identity,
    job_id uuid not null,
    from_status text,
    to_status text not null,
    worker_id text,
    note text,
    at timestamp with time zone not null default now()
);
alter table public.job_status_events add constraint job_status_events_pkey PRIMARY KEY (id);
alter table public.job_status_events add constraint job_status_events_to_status_check CHECK ((to_status = ANY (ARRAY['pending'::text, 'running'::text, 'completed'::text, 'cancelled'::text, 'dead_letter'::text])));
CREATE INDEX job_status_events_at_idx ON public.job_status_events USING btree (at);
CREATE INDEX job_status_events_job_idx ON public.job_status_events USING btree (job_id, id);
alter table public.job_status_events enable row level security;
comment on table public.job_status_events is 'Status changes of jobs, except each job''s current claim and its completion, which job_status_history reads from job_queue.';
grant select, insert, update, delete on table public.job_status_events to service_role;

-- table public.job_types
create table public.job_types (
    name text not null,
    description text not null default ''::text,
    max_attempts integer not null default 5,
    backoff_base_seconds integer not null default 10,
    backoff_cap_seconds integer not null default 3600,
    timeout_seconds integer not null default 60,
    concurrency_limit integer,
    enabled boolean not null default true,
    client_enqueueable boolean not null default false,
    created_at timestamp with time zone not null default now(),
    updated_at timestamp with time zone not null default now(),
    client_pending_limit integer default 100,
    kick_group text not null default 'default'::text,
    max_backlog_age_seconds integer not null default 300,
    max_dead_letters_per_hour integer not null default 10,
    max_stuck_jobs integer not null default 0
);
alter table public.job_types add constraint job_types_backoff_base_seconds_check CHECK ((backoff_base_seconds >= 1));
alter table public.job_types add constraint job_types_backoff_cap_not_below_base CHECK ((backoff_cap_seconds >= backoff_base_seconds));
alter table public.job_types add constraint job_types_client_pending_limit_positive CHECK (((client_pending_limit IS NULL) OR (client_pending_limit >= 1)));
alter table public.job_types add constraint job_types_concurrency_limit_check CHECK (((concurrency_limit IS NULL) OR (concurrency_limit >= 1)));
alter table public.job_types add constraint job_types_health_thresholds CHECK (((max_backlog_age_seconds >= 1) AND (max_dead_letters_per_hour >= 0) AND (max_stuck_jobs >= 0)));
alter table public.job_types add constraint job_types_kick_group_name CHECK ((kick_group ~ '^[a-z][a-z0-9_]{0,62}$'::text));
alter table public.job_types add constraint job_types_max_attempts_check CHECK (((max_attempts >= 1) AND (max_attempts <= 1000)));
alter table public.job_types add constraint job_types_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text));
alter table public.job_types add constraint job_types_pkey PRIMARY KEY (name);
alter table public.job_types add constraint job_types_timeout_seconds_check CHECK (((timeout_seconds >= 1) AND (timeout_seconds <= 86400)));
alter table public.job_types enable row level security;
comment on table public.job_types is 'Per-type settings: default max attempts, backoff base and cap, lock/timeout seconds, concurrency limit, enabled.';
comment on column public.job_types.client_pending_limit is 'Most pending jobs of this type one client user may have (null: no cap). The server is not capped.';
comment on column public.job_types.kick_group is 'Types of one group share a kick on enqueue; ''default'' wakes the worker for all types, another group with ?type= its types.';
comment on column public.job_types.max_backlog_age_seconds is 'Health warns when the oldest ready job of this type has waited longer (seconds, >= 1).';
comment on column public.job_types.max_dead_letters_per_hour is 'Health warns when more jobs of this type were dead-lettered in the last hour (>= 0).';
comment on column public.job_types.max_stuck_jobs is 'Health warns when more jobs of this type hold a lease that expired over health_stuck_grace_seconds ago (>= 0).';
grant select, insert, update, delete on table public.job_types to service_role;

-- table public.ledger_entries
create table public.ledger_entries (
    id bigint not null generated always as identity,
    seller_id uuid not null,
    kind text not null,
    amount_cents bigint not null,
    currency text not null,
    reference text,
    payout_id uuid,
    paid_at timestamp with time zone,
    created_at timestamp with time zone not null default now()
);
alter table public.ledger_entries add constraint ledger_entries_currency_check CHECK ((currency ~ '^[a-z]{3}$'::text));
alter table public.ledger_entries add constraint ledger_entries_kind_check CHECK ((kind = ANY (ARRAY['sale'::text, 'refund'::text, 'fee'::text, 'payout'::text])));
alter table public.ledger_entries add constraint ledger_entries_payout_entry_has_payout CHECK (((kind <> 'payout'::text) OR (payout_id IS NOT NULL)));
alter table public.ledger_entries add constraint ledger_entries_payout_id_fkey FOREIGN KEY (payout_id) REFERENCES public.payouts(id);
alter table public.ledger_entries add constraint ledger_entries_pkey PRIMARY KEY (id);
alter table public.ledger_entries add constraint ledger_entries_seller_id_fkey FOREIGN KEY (seller_id) REFERENCES public.seller_accounts(seller_id);
alter table public.ledger_entries add constraint ledger_entries_sign_by_kind CHECK ((((kind = 'sale'::text) AND (amount_cents > 0)) OR ((kind <> 'sale'::text) AND (amount_cents < 0))));
CREATE INDEX ledger_entries_payout_idx ON public.ledger_entries USING btree (payout_id) WHERE (payout_id IS NOT NULL);
CREATE INDEX ledger_entries_unpaid_idx ON public.ledger_entries USING btree (seller_id, currency) WHERE (payout_id IS NULL);
alter table public.ledger_entries enable row level security;
comment on table public.ledger_entries is 'Seller ledger in integer cents: sale (+), refund/fee/payout (-). payout_id marks the payout that pays it.';
grant select, insert, update, delete on table public.ledger_entries to service_role;

-- table public.payouts
create table public.payouts (
    id uuid not null default gen_random_uuid(),
    seller_id uuid not null,
    currency text not null,
    status text not null,
    gross_cents bigint not null,
    fee_cents bigint not null,
    amount_cents bigint not null,
    fee_bps integer not null,
    transfer_id text,
    reason text,
    job_id uuid,
    created_at timestamp with time zone not null default now(),
    paid_at timestamp with time zone,
    destination text,
    sent_at timestamp with time zone,
    hold_reason text
);
alter table public.payouts add constraint payouts_amount_is_gross_minus_fee CHECK ((amount_cents = (gross_cents - fee_cents)));
alter table public.payouts add constraint payouts_check CHECK (((gross_cents >= 0) OR (status = 'skipped'::text)));
alter table public.payouts add constraint payouts_currency_check CHECK ((currency ~ '^[a-z]{3}$'::text));
alter table public.payouts add constraint payouts_fee_bps_check CHECK (((fee_bps >= 0) AND (fee_bps <= 10000)));
alter table public.payouts add constraint payouts_fee_cents_check CHECK ((fee_cents >= 0));
alter table public.payouts add constraint payouts_paid_has_transfer CHECK (((status = 'paid'::text) = ((transfer_id IS NOT NULL) AND (paid_at IS NOT NULL))));
alter table public.payouts add constraint payouts_pending_has_destination CHECK (((status <> 'pending'::text) OR (destination IS NOT NULL)));
alter table public.payouts add constraint payouts_pending_is_positive CHECK (((status <> 'pending'::text) OR (amount_cents > 0)));
alter table public.payouts add constraint payouts_pkey PRIMARY KEY (id);
alter table public.payouts add constraint payouts_seller_id_fkey FOREIGN KEY (seller_id) REFERENCES public.seller_accounts(seller_id);
alter table public.payouts add constraint payouts_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'paid'::text, 'failed'::text, 'skipped'::text])));
CREATE UNIQUE INDEX payouts_one_open_per_seller ON public.payouts USING btree (seller_id, currency) WHERE (status = 'pending'::text);
CREATE INDEX payouts_seller_idx ON public.payouts USING btree (seller_id, created_at);
CREATE UNIQUE INDEX payouts_transfer_id_idx ON public.payouts USING btree (transfer_id) WHERE (transfer_id IS NOT NULL);
alter table public.payouts enable row level security;
comment on table public.payouts is 'One row per payout attempt of a seller balance: pending -> paid | failed; skipped when below the minimum.';
comment on column public.payouts.destination is 'The connected account this payout pays, fixed when it is prepared; every attempt sends exactly this.';
comment on column public.payouts.sent_at is 'When an attempt first may have sent the transfer to Stripe; from then on the entries are released only after Stripe shows no transfer for the payout''s transfer group.';
comment on column public.payouts.hold_reason is 'Why a pending payout waits (its Stripe outcome is unknown now); cleared when it is settled.';
grant select, insert, update, delete on table public.payouts to service_role;

-- table public.seller_accounts
create table public.seller_accounts (
    seller_id uuid not null,
    stripe_account_id text not null,
    email text,
    payouts_enabled boolean not null default true,
    created_at timestamp with time zone not null default now()
);
alter table public.seller_accounts add constraint seller_accounts_pkey PRIMARY KEY (seller_id);
alter table public.seller_accounts add constraint seller_accounts_stripe_account_id_check CHECK ((stripe_account_id ~ '^acct_[A-Za-z0-9]+$'::text));
alter table public.seller_accounts enable row level security;
comment on table public.seller_accounts is 'Sellers paid through Stripe Connect: their connected account id and where to send payout confirmations.';
grant select, insert, update, delete on table public.seller_accounts to service_role;

-- table public.worker_runs
create table public.worker_runs (
    worker_id text not null,
    started_at timestamp with time zone not null default now(),
    finished_at timestamp with time zone,
    claimed integer not null default 0,
    completed integer not null default 0,
    retried integer not null default 0,
    dead_lettered integer not null default 0,
    released integer not null default 0,
    lease_lost integer not null default 0,
    meta jsonb not null default '{}'::jsonb
);
alter table public.worker_runs add constraint worker_runs_pkey PRIMARY KEY (worker_id);
CREATE INDEX worker_runs_started_at_idx ON public.worker_runs USING btree (started_at DESC);
alter table public.worker_runs enable row level security;
comment on table public.worker_runs is 'One row per worker invocation: when it ran and what it did.';
grant select, insert, update, delete on table public.worker_runs to service_role;

-- view public.job_status_history
create view public.job_status_history with (security_invoker=true) as
 SELECT e.id,
    e.job_id,
    e.from_status,
    e.to_status,
    e.worker_id,
    e.note,
    e.at
   FROM public.job_status_events e
UNION ALL
 SELECT NULL::bigint AS id,
    j.id AS job_id,
    'pending'::text AS from_status,
    'running'::text AS to_status,
    j.claimed_by AS worker_id,
    NULL::text AS note,
    j.started_at AS at
   FROM public.job_queue j
  WHERE j.status = ANY (ARRAY['running'::public.job_status, 'completed'::public.job_status])
UNION ALL
 SELECT NULL::bigint AS id,
    j.id AS job_id,
    'running'::text AS from_status,
    'completed'::text AS to_status,
    j.claimed_by AS worker_id,
    NULL::text AS note,
    j.finished_at AS at
   FROM public.job_queue j
  WHERE j.status = 'completed'::public.job_status;
comment on view public.job_status_history is 'One row per status change of a job (to_status dead_letter: the move to job_dead_letter). id is null for the current claim and the completion, read from job_queue: order a job''s rows by id nulls last, at.';
grant select on table public.job_status_history to service_role;

-- function public.analytics_rollup(p_day date, p_groups jsonb)
CREATE OR REPLACE FUNCTION public.analytics_rollup(p_day date, p_groups jsonb DEFAULT NULL::jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
comment on function public.analytics_rollup(p_day date, p_groups jsonb) is 'Recompute and replace one UTC day''s analytics_daily rows for the given metric groups (null = all); idempotent.';
grant execute on function public.analytics_rollup(p_day date, p_groups jsonb) to service_role;

-- function public.cancel_job(p_job_id uuid)
CREATE OR REPLACE FUNCTION public.cancel_job(p_job_id uuid)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_from text;
begin
  with target as (
    select j.id, j.status from public.job_queue j
     where j.id = p_job_id and j.status in ('pending', 'running')
       for update
  ),
  cancelled as (
    update public.job_queue j
       set status = 'cancelled', locked_by = null, locked_until = null,
           finished_at = pg_catalog.clock_timestamp(), updated_at = pg_catalog.clock_timestamp(),
           last_error = 'cancelled by operator'
      from target t
     where j.id = t.id
    returning j.id, t.status, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select c.id, 'pending', 'running', c.claimed_by, null, c.started_at from cancelled c where c.status = 'running'
    union all
    select c.id, c.status::text, 'cancelled', null, 'cancelled by operator', pg_catalog.now() from cancelled c
  )
  select c.status::text into v_from from cancelled c;
  if v_from is null then
    return false;
  end if;
  perform queue.cancel_dependents(array[p_job_id], 'was cancelled');
  return true;
end
$function$;
comment on function public.cancel_job(p_job_id uuid) is 'Cancel a pending or running job and its dependents; false if it was not pending or running.';
grant execute on function public.cancel_job(p_job_id uuid) to service_role;

-- function public.circuit_breaker_allow(p_provider text, p_cooldown_seconds integer, p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.circuit_breaker_allow(p_provider text, p_cooldown_seconds integer DEFAULT 60, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
comment on function public.circuit_breaker_allow(p_provider text, p_cooldown_seconds integer, p_now timestamp with time zone) is 'Whether a caller may use the provider now; lets one probe through after the cool-down.';
grant execute on function public.circuit_breaker_allow(p_provider text, p_cooldown_seconds integer, p_now timestamp with time zone) to service_role;

-- function public.circuit_breaker_record(p_provider text, p_success boolean, p_threshold integer, p_cooldown_seconds integer, p_error text, p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.circuit_breaker_record(p_provider text, p_success boolean, p_threshold integer DEFAULT 5, p_cooldown_seconds integer DEFAULT 60, p_error text DEFAULT NULL::text, p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
comment on function public.circuit_breaker_record(p_provider text, p_success boolean, p_threshold integer, p_cooldown_seconds integer, p_error text, p_now timestamp with time zone) is 'Record a call''s success or failure; opens the breaker after p_threshold consecutive failures.';
grant execute on function public.circuit_breaker_record(p_provider text, p_success boolean, p_threshold integer, p_cooldown_seconds integer, p_error text, p_now timestamp with time zone) to service_role;

-- function public.circuit_breaker_states(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.circuit_breaker_states(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select coalesce(pg_catalog.jsonb_object_agg(b.provider,
           (queue.breaker_json(b, b.state = 'closed', coalesce(p_now, pg_catalog.clock_timestamp()))
              - 'provider' - 'allowed')
           || pg_catalog.jsonb_build_object('last_failure_at', b.last_failure_at,
                                            'last_success_at', b.last_success_at)), '{}'::jsonb)
    from public.circuit_breakers b
$function$;
comment on function public.circuit_breaker_states(p_now timestamp with time zone) is 'Every provider''s breaker state, for health.';
grant execute on function public.circuit_breaker_states(p_now timestamp with time zone) to service_role;

-- function public.cleanup_stuck_jobs(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.cleanup_stuck_jobs(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_retried integer;
  v_dead uuid[];
begin
  with stuck as (
    select j.id from public.job_queue j
     where j.status = 'running' and j.locked_until < v_now
     order by j.locked_until
       for update skip locked
  ),
  expired as (
    update public.job_queue j
       set status = case when j.attempts < j.max_attempts then 'pending'::public.job_status else j.status end,
           -- Ready at once (a test's p_now in the future must not delay it).
           run_at = least(v_now, pg_catalog.clock_timestamp()),
           locked_by = case when j.attempts < j.max_attempts then null else j.locked_by end,
           locked_until = case when j.attempts < j.max_attempts then null else j.locked_until end,
           last_error = pg_catalog.format('lock expired: worker %s did not finish attempt %s in %s s',
                                          j.locked_by, j.attempts, j.lock_seconds),
           errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                      'attempt', j.attempts, 'at', v_now, 'worker_id', j.locked_by, 'retryable', true,
                      'error', pg_catalog.format('lock expired after %s s', j.lock_seconds))),
           updated_at = v_now
      from stuck s
     where j.id = s.id
    returning j.id, j.status, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select e.id, 'pending', 'running', e.claimed_by, null, e.started_at from expired e where e.status = 'pending'
    union all
    select e.id, 'running', 'pending', null, 'lock expired', v_now from expired e where e.status = 'pending'
  )
  select pg_catalog.count(*) filter (where e.status = 'pending'),
         pg_catalog.array_agg(e.id) filter (where e.status = 'running')
    into v_retried, v_dead
    from expired e;

  perform queue.dead_letter_jobs(v_dead, null, 'lock expired with no attempts left');
  -- The console's per-minute stats, on the real clock (a test's p_now must not move them).
  perform queue.record_minute_stats();
  return v_retried + coalesce(pg_catalog.cardinality(v_dead), 0);
end
$function$;
comment on function public.cleanup_stuck_jobs(p_now timestamp with time zone) is 'Return running jobs whose lock expired to pending (dead letter when out of attempts); returns how many. Also records the console''s minute stats (queue.record_minute_stats).';
grant execute on function public.cleanup_stuck_jobs(p_now timestamp with time zone) to service_role;

-- function public.complete_job(p_job_id uuid, p_result jsonb, p_worker_id text)
CREATE OR REPLACE FUNCTION public.complete_job(p_job_id uuid, p_result jsonb DEFAULT NULL::jsonb, p_worker_id text DEFAULT NULL::text)
 RETURNS boolean
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select exists (
    select 1 from public.complete_jobs(
      pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('id', p_job_id, 'result', p_result)), p_worker_id))
$function$;
comment on function public.complete_job(p_job_id uuid, p_result jsonb, p_worker_id text) is 'Complete a running job. Fenced: false (and no change) unless it is running and locked by p_worker_id (required, 22QW1).';
grant execute on function public.complete_job(p_job_id uuid, p_result jsonb, p_worker_id text) to service_role;

-- function public.complete_jobs(p_jobs jsonb, p_worker_id text)
CREATE OR REPLACE FUNCTION public.complete_jobs(p_jobs jsonb, p_worker_id text DEFAULT NULL::text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_ids uuid[];
  v_by_id jsonb;
begin
  select s.ids, s.by_id into v_ids, v_by_id from queue.settle_input(p_jobs, '{"id", "result"}') s;
  perform queue.require_worker_id(p_worker_id);
  return query
  with done as (
    update public.job_queue j
       set status = 'completed',
           result = nullif(v_by_id -> (j.id::text) -> 'result', 'null'::jsonb),
           progress = 100, locked_by = null, locked_until = null,
           finished_at = v_now, updated_at = v_now
     where j.id = any (v_ids) and j.status = 'running'
       and j.locked_by = p_worker_id
    returning j.id
  )
  select d.id from done d;
end
$function$;
comment on function public.complete_jobs(p_jobs jsonb, p_worker_id text) is 'Complete each [{id, result}] that is running and locked by p_worker_id (required, 22QW1); returns the ids completed.';
grant execute on function public.complete_jobs(p_jobs jsonb, p_worker_id text) to service_role;

-- function public.configure_kicks(p_window_ms integer, p_answer_seconds integer, p_http boolean)
CREATE OR REPLACE FUNCTION public.configure_kicks(p_window_ms integer DEFAULT NULL::integer, p_answer_seconds integer DEFAULT NULL::integer, p_http boolean DEFAULT NULL::boolean)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if p_window_ms is not null and (p_window_ms < 0 or p_window_ms > 60000) then
    perform queue.raise('22QK1', pg_catalog.format('kick window must be 0-60000 ms, got %s', p_window_ms),
                        'a kick stands for its group this long; 0 kicks on every enqueue, 2000 is the default');
  end if;
  if p_answer_seconds is not null and (p_answer_seconds < 1 or p_answer_seconds > 3600) then
    perform queue.raise('22QK1', pg_catalog.format('kick answer time must be 1-3600 s, got %s', p_answer_seconds),
                        'health flags a pg_net kick no invocation answered within this time; 30 is the default');
  end if;
  update queue.settings s
     set value = case s.key when 'kick_window_ms' then pg_catalog.to_jsonb(p_window_ms)
                            when 'kick_answer_seconds' then pg_catalog.to_jsonb(p_answer_seconds)
                            else pg_catalog.to_jsonb(p_http) end
   where (s.key = 'kick_window_ms' and p_window_ms is not null)
      or (s.key = 'kick_answer_seconds' and p_answer_seconds is not null)
      or (s.key = 'kick_http' and p_http is not null);
  return (select pg_catalog.jsonb_object_agg(s.key, s.value) from queue.settings s
           where s.key in ('kick_window_ms', 'kick_answer_seconds', 'kick_http'));
end
$function$;
comment on function public.configure_kicks(p_window_ms integer, p_answer_seconds integer, p_http boolean) is 'Set kick_window_ms (0-60000), kick_answer_seconds (1-3600) and kick_http (null keeps each); returns all three. 22QK1 when out of range.';
grant execute on function public.configure_kicks(p_window_ms integer, p_answer_seconds integer, p_http boolean) to service_role;

-- function public.console_audit(p_limit integer, p_before_id bigint)
CREATE OR REPLACE FUNCTION public.console_audit(p_limit integer DEFAULT 50, p_before_id bigint DEFAULT NULL::bigint)
 RETURNS SETOF public.console_actions
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('limit must be 1-1000, got %s', coalesce(p_limit::text, 'null')));
  end if;
  return query
    select * from public.console_actions a
     where p_before_id is null or a.id < p_before_id
     order by a.id desc
     limit p_limit;
end
$function$;
comment on function public.console_audit(p_limit integer, p_before_id bigint) is 'Operator actions, newest first; p_before_id pages on (keyset). 22QB1 when p_limit is not 1-1000.';
grant execute on function public.console_audit(p_limit integer, p_before_id bigint) to service_role;

-- function public.console_audit_list(p_limit integer, p_before_id bigint)
CREATE OR REPLACE FUNCTION public.console_audit_list(p_limit integer DEFAULT 50, p_before_id bigint DEFAULT NULL::bigint)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select pg_catalog.jsonb_build_object('actions',
           coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(a) order by a.id desc), '[]'::jsonb))
    from public.console_audit(p_limit, p_before_id) a
$function$;
comment on function public.console_audit_list(p_limit integer, p_before_id bigint) is 'console_audit as {actions: [...]} (newest first, keyset by p_before_id); 22QB1 when p_limit is not 1-1000.';
grant execute on function public.console_audit_list(p_limit integer, p_before_id bigint) to service_role;

-- function public.console_cancel_job(p_id uuid, p_actor text)
CREATE OR REPLACE FUNCTION public.console_cancel_job(p_id uuid, p_actor text DEFAULT 'sql'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_job public.job_queue;
  v_dependents integer;
  v_action bigint;
begin
  if p_id is null then
    perform queue.raise('22QS4', 'p_id is required: the id of the job to cancel', 'list jobs with console_jobs()');
  end if;
  select * into v_job from public.job_queue j where j.id = p_id for update;
  if v_job.id is null then
    perform queue.console_job_absent(p_id, 'cancelled');
  end if;
  if v_job.status not in ('pending', 'running') then
    perform queue.raise('PT409', pg_catalog.format('job %s is %s (since %s): only pending or running jobs can be cancelled',
                                                    p_id, v_job.status, v_job.finished_at),
      'nothing to do: it will not run again');
  end if;
  if not public.cancel_job(p_id) then  -- cannot happen under the row lock; never audit a no-op
    perform queue.raise('PT409', pg_catalog.format('job %s could not be cancelled', p_id));
  end if;
  -- cancel_job does not count the dependents it cancelled: their events of this transaction
  -- (at = now()) name this job as the root dependency.
  select pg_catalog.count(*)::integer into v_dependents
    from public.job_status_events e
   where e.at = pg_catalog.now() and e.to_status = 'cancelled' and e.job_id <> p_id
     and e.note like pg_catalog.format('dependency %%%s%%', p_id);
  v_action := queue.console_record(p_actor, 'job.cancel', pg_catalog.jsonb_build_object('id', p_id),
                                   1 + v_dependents,
                                   pg_catalog.jsonb_build_object('from_status', v_job.status, 'type', v_job.type,
                                                                 'dependents_cancelled', v_dependents));
  return pg_catalog.jsonb_build_object('id', p_id, 'cancelled', true, 'from_status', v_job.status,
                                       'dependents_cancelled', v_dependents, 'action_id', v_action);
end
$function$;
comment on function public.console_cancel_job(p_id uuid, p_actor text) is 'Console cancel: cancel_job (the job and its pending dependents), audited as job.cancel; {id, cancelled, from_status, dependents_cancelled, action_id}. PT404 unknown id, PT409 not pending/running (says its status), 22QS4 null id.';
grant execute on function public.console_cancel_job(p_id uuid, p_actor text) to service_role;

-- function public.console_job(p_id uuid)
CREATE OR REPLACE FUNCTION public.console_job(p_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_job jsonb;
  v_letter public.job_dead_letter;
  v_history jsonb;
  v_total integer;
begin
  if p_id is null then
    perform queue.raise('22QS4', 'p_id is required: the id of a job', 'list jobs with console_jobs()');
  end if;
  select pg_catalog.to_jsonb(j) into v_job from public.job_queue j where j.id = p_id;
  select * into v_letter from public.job_dead_letter d where d.job_id = p_id order by d.failed_at desc limit 1;
  if v_job is null and v_letter.id is null then
    perform queue.raise('PT404', pg_catalog.format('no job with id %s (neither in job_queue nor dead-lettered)', p_id),
      'it may have been purged (retention); list jobs with console_jobs()');
  end if;
  v_job := coalesce(v_job, queue.console_job_from_letter(v_letter));

  select pg_catalog.count(*)::integer into v_total from public.job_status_history h where h.job_id = p_id;
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(h) - 'job_id' order by h.n desc), '[]'::jsonb)
    into v_history
    from (select x.*, pg_catalog.row_number() over (order by x.id desc nulls first, x.at desc) as n
            from public.job_status_history x where x.job_id = p_id
           order by x.id desc nulls first, x.at desc
           limit 1000) h;

  return pg_catalog.jsonb_build_object(
    'job', v_job,
    'history', v_history,
    'history_total', v_total,
    'depends_on', coalesce((
      select pg_catalog.jsonb_agg(queue.console_job_ref(d.id::uuid) order by d.ord)
        from pg_catalog.jsonb_array_elements_text(coalesce(nullif(v_job -> 'depends_on', 'null'::jsonb), '[]'::jsonb))
             with ordinality as d(id, ord)), '[]'::jsonb),
    'dependents', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('id', x.id, 'type', x.type, 'status', x.status)
                                  order by x.seq)
        from (select j.id, j.type, j.status, j.seq from public.job_queue j
               where j.depends_on @> array[p_id] order by j.seq limit 1000) x), '[]'::jsonb),
    'dead_letter', case when v_letter.id is not null then pg_catalog.to_jsonb(v_letter) end);
end
$function$;
comment on function public.console_job(p_id uuid) is 'One job for the console: {job (every column; from the dead letter, status dead_letter, once dead-lettered), history (oldest first, newest 1000), history_total, depends_on [{id,type,status}], dependents [{id,type,status}], dead_letter (row or null)}. PT404 unknown id, 22QS4 null id.';
grant execute on function public.console_job(p_id uuid) to service_role;

-- function public.console_jobs(p_filter jsonb, p_after bigint, p_limit integer)
CREATE OR REPLACE FUNCTION public.console_jobs(p_filter jsonb DEFAULT '{}'::jsonb, p_after bigint DEFAULT NULL::bigint, p_limit integer DEFAULT 50)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_where text := queue.console_jobs_where(coalesce(p_filter, '{}'::jsonb));
  v_limit integer := coalesce(p_limit, 50);
  v_rows jsonb;
begin
  if v_limit < 1 or v_limit > 200 then
    perform queue.raise('22QS3', pg_catalog.format('limit must be 1-200, got %s', v_limit),
                        'default 50; page on with after = the previous page''s next_after');
  end if;
  if p_after is not null and p_after < 1 then
    perform queue.raise('22QS3', pg_catalog.format('after must be a job seq of at least 1, got %s', p_after),
                        'pass the previous page''s next_after, or nothing for the first page');
  end if;
  -- One row more than asked tells whether another page follows.
  execute pg_catalog.format($q$
    select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'id', p.id, 'seq', p.seq, 'type', p.type, 'status', p.status, 'priority', p.priority,
             'attempts', p.attempts, 'max_attempts', p.max_attempts, 'run_at', p.run_at,
             'created_at', p.created_at, 'started_at', p.started_at, 'finished_at', p.finished_at,
             'owner_id', p.owner_id, 'last_error', pg_catalog.left(p.last_error, 500), 'progress', p.progress)
             order by p.seq desc), '[]'::jsonb)
      from (select j.id, j.seq, j.type, j.status, j.priority, j.attempts, j.max_attempts, j.run_at,
                   j.created_at, j.started_at, j.finished_at, j.owner_id, j.last_error, j.progress
              from public.job_queue j
             where %s%s
             order by j.seq desc
             limit $3) p$q$, v_where, case when p_after is not null then ' and j.seq < $2' else '' end)
    into v_rows
    using coalesce(p_filter, '{}'::jsonb), p_after, v_limit + 1;
  return pg_catalog.jsonb_build_object(
    'jobs', case when pg_catalog.jsonb_array_length(v_rows) > v_limit then v_rows - v_limit else v_rows end,
    'next_after', case when pg_catalog.jsonb_array_length(v_rows) > v_limit then v_rows -> (v_limit - 1) -> 'seq' end);
end
$function$;
comment on function public.console_jobs(p_filter jsonb, p_after bigint, p_limit integer) is 'Console job listing: {jobs: [{id, seq, type, status, priority, attempts, max_attempts, run_at, created_at, started_at, finished_at, owner_id, last_error (500 chars), progress}], next_after}, newest (highest seq) first; p_after = the previous next_after. p_filter keys: type, status (pending|running|completed|cancelled|ready|scheduled), priority, owner (uuid), from/to (created_at, ISO 8601, from inclusive), q (1-200 chars in payload or last_error). 22QS1 unknown key or not an object, 22QS2 bad value, 22QS3 limit not 1-200 or after < 1.';
grant execute on function public.console_jobs(p_filter jsonb, p_after bigint, p_limit integer) to service_role;

-- function public.console_overview(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.console_overview(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_minute timestamptz := date_trunc('minute', v_now);
begin
  perform queue.record_minute_stats(p_now);
  return (
    with live as (select * from queue.console_type_counts(v_now)),
    hour as (
      select s.type, pg_catalog.sum(s.completed)::bigint as completed, pg_catalog.sum(s.failed)::bigint as failed,
             pg_catalog.sum(s.dead_lettered)::bigint as dead_lettered, queue.histograms_sum(pg_catalog.array_agg(s.run_ms_buckets)) as runs
        from public.job_minute_stats s
       where s.minute > v_minute - interval '1 hour' and s.minute <= v_minute
       group by s.type
    ),
    letters as (select w.type, w.waiting as n from queue.dead_letters_waiting w),
    types as (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'type', t.name, 'enabled', t.enabled,
               'pending', coalesce(l.pending, 0), 'ready', coalesce(l.ready, 0),
               'scheduled', coalesce(l.scheduled, 0), 'running', coalesce(l.running, 0),
               'completed_1h', coalesce(h.completed, 0), 'failed_1h', coalesce(h.failed, 0),
               'dead_lettered_1h', coalesce(h.dead_lettered, 0), 'dead_letters', coalesce(d.n, 0),
               'oldest_ready_age_seconds',
                 coalesce(greatest(extract(epoch from v_now - l.oldest_ready)::double precision, 0), 0),
               'run_ms_p50', pg_catalog.round(queue.run_ms_percentile(h.runs, 0.5)::numeric, 1),
               'run_ms_p95', pg_catalog.round(queue.run_ms_percentile(h.runs, 0.95)::numeric, 1))
             order by t.name) as list
        from public.job_types t
        left join live l on l.type = t.name
        left join hour h on h.type = t.name
        left join letters d on d.type = t.name
    ),
    runs as (
      select r.* from public.worker_runs r order by r.started_at desc limit 20
    ),
    stale as (
      select j.id, j.type, j.locked_by, j.locked_until from public.job_queue j
       where j.status = 'running' and j.locked_until < v_now
       order by j.locked_until limit 100
    )
    select pg_catalog.jsonb_build_object(
      'generated_at', v_now,
      'types', coalesce((select types.list from types), '[]'::jsonb),
      'series', queue.console_series(v_now),
      'recent_runs', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'worker_id', r.worker_id, 'started_at', r.started_at, 'finished_at', r.finished_at,
                        'duration_ms', pg_catalog.round((extract(epoch from r.finished_at - r.started_at) * 1000)::numeric, 1),
                        'claimed', r.claimed, 'completed', r.completed, 'retried', r.retried,
                        'dead_lettered', r.dead_lettered) order by r.started_at desc) from runs r), '[]'::jsonb),
      'stale_claims', coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(s) order by s.locked_until)
                                  from stale s), '[]'::jsonb),
      'dead_letters_1h', (select pg_catalog.count(*) from public.job_dead_letter d
                           where d.failed_at > v_now - interval '1 hour' and d.failed_at <= v_now))
  );
end
$function$;
comment on function public.console_overview(p_now timestamp with time zone) is 'The operator console''s overview (records the minute stats first): per-type live counts (every job type), completed/failed/dead-lettered and p50/p95 run ms of the last hour, 60 minute and 96 quarter-hour points of completed/failed/ready, the 20 latest worker runs, up to 100 stale claims, dead letters in the last hour. p_now for tests.';
grant execute on function public.console_overview(p_now timestamp with time zone) to service_role;

-- function public.console_reset_breaker(p_provider text, p_actor text)
CREATE OR REPLACE FUNCTION public.console_reset_breaker(p_provider text, p_actor text DEFAULT 'sql'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
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
$function$;
comment on function public.console_reset_breaker(p_provider text, p_actor text) is 'Close a provider''s circuit breaker (failures 0). Audited as breaker.reset. Returns {provider, state}. 22QO1 null provider, PT404 unknown provider, 22QO2 bad actor.';
grant execute on function public.console_reset_breaker(p_provider text, p_actor text) to service_role;

-- function public.console_retry_job(p_id uuid, p_actor text)
CREATE OR REPLACE FUNCTION public.console_retry_job(p_id uuid, p_actor text DEFAULT 'sql'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_job public.job_queue;
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  if p_id is null then
    perform queue.raise('22QS4', 'p_id is required: the id of the job to retry', 'list jobs with console_jobs()');
  end if;
  select * into v_job from public.job_queue j where j.id = p_id for update;
  if v_job.id is null then
    return queue.console_replay_job(p_id, p_actor);
  end if;
  if v_job.status <> 'pending' then
    perform queue.raise('PT409', pg_catalog.format('job %s is %s: %s', p_id, v_job.status, case v_job.status
        when 'running' then pg_catalog.format('attempt %s runs under worker %s until %s; wait for it, or cancel it',
                                              v_job.attempts, v_job.locked_by, v_job.locked_until)
        else pg_catalog.format('it finished at %s and will not run again', v_job.finished_at) end),
      case when v_job.status <> 'running' then 'to run the same work again, enqueue a new job' end);
  end if;
  if v_job.run_at <= v_now then
    perform queue.raise('PT409', pg_catalog.format('job %s is already due (run_at %s): %s', p_id, v_job.run_at,
                                                    queue.console_job_waits_for(v_job)),
      'nothing to retry: the next claim takes it');
  end if;
  update public.job_queue j set run_at = v_now, updated_at = v_now where j.id = p_id;
  perform pg_catalog.pg_notify('queue_worker_jobs', queue.kick_payload(array[v_job.type]));
  perform queue.kick_group(t.kick_group) from public.job_types t where t.name = v_job.type;
  return pg_catalog.jsonb_build_object('id', p_id, 'run_at', v_now, 'was_run_at', v_job.run_at,
    'action_id', queue.console_record(p_actor, 'job.retry', pg_catalog.jsonb_build_object('id', p_id), 1,
                   pg_catalog.jsonb_build_object('kind', 'run_now', 'type', v_job.type,
                                                 'was_run_at', v_job.run_at, 'attempts', v_job.attempts)));
end
$function$;
comment on function public.console_retry_job(p_id uuid, p_actor text) is 'Console retry, audited as job.retry: a pending job waiting for run_at runs now ({id, run_at, was_run_at, action_id}; notify + kick); a dead-lettered job is replayed via retry_dead_letter_job ({id: new job, dead_letter_id, replayed_job_id, action_id}). PT404 unknown, PT409 running/completed/cancelled/already due/already replayed, 22QS4 null id.';
grant execute on function public.console_retry_job(p_id uuid, p_actor text) to service_role;

-- function public.console_schedules()
CREATE OR REPLACE FUNCTION public.console_schedules()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select pg_catalog.jsonb_build_object('schedules', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'name', s.name, 'cron', s.cron, 'type', s.type, 'payload', s.payload, 'enabled', s.enabled,
           'next_run_at', case when s.enabled then s.next_run_at end, 'last_run_at', s.last_run_at,
           'last_job_id', s.last_job_id) order by s.name), '[]'::jsonb))
    from (select * from public.job_schedules order by name limit 1000) s
$function$;
comment on function public.console_schedules() is 'Every schedule (up to 1000, by name) with its cron, job, enabled, next and last run, for the console''s Schedules view.';
grant execute on function public.console_schedules() to service_role;

-- function public.console_set_schedule_enabled(p_name text, p_enabled boolean, p_actor text)
CREATE OR REPLACE FUNCTION public.console_set_schedule_enabled(p_name text, p_enabled boolean, p_actor text DEFAULT 'sql'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_changed integer;
  v_next timestamptz;
begin
  perform queue.console_check_actor(p_actor);
  if p_name is null or p_enabled is null then
    perform queue.raise('22QO1', 'p_name and p_enabled are required',
      'pass a schedule name and true (enable) or false (disable)');
  end if;
  if not exists (select 1 from public.job_schedules s where s.name = p_name) then
    perform queue.raise('PT404', pg_catalog.format('no schedule named %L', p_name),
      'known schedules: ' || coalesce((select pg_catalog.string_agg(s.name, ', ' order by s.name)
                                         from public.job_schedules s), '(none)'));
  end if;
  update public.job_schedules s set enabled = p_enabled
   where s.name = p_name and s.enabled is distinct from p_enabled;
  get diagnostics v_changed = row_count;
  select s.next_run_at into v_next from public.job_schedules s where s.name = p_name;
  perform queue.console_record(p_actor, case when p_enabled then 'schedule.enable' else 'schedule.disable' end,
                               pg_catalog.jsonb_build_object('name', p_name), v_changed,
                               pg_catalog.jsonb_build_object('enabled', p_enabled));
  return pg_catalog.jsonb_build_object('name', p_name, 'enabled', p_enabled,
                                       'next_run_at', case when p_enabled then v_next end);
end
$function$;
comment on function public.console_set_schedule_enabled(p_name text, p_enabled boolean, p_actor text) is 'Enable or disable a schedule (enabling: next run = the next cron slot after now). Audited as schedule.enable/schedule.disable (affected 0 when unchanged). Returns {name, enabled, next_run_at}. 22QO1 null argument, PT404 unknown schedule, 22QO2 bad actor.';
grant execute on function public.console_set_schedule_enabled(p_name text, p_enabled boolean, p_actor text) to service_role;

-- function public.console_set_type_enabled(p_type text, p_enabled boolean, p_actor text)
CREATE OR REPLACE FUNCTION public.console_set_type_enabled(p_type text, p_enabled boolean, p_actor text DEFAULT 'sql'::text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_changed integer;
begin
  perform queue.console_check_actor(p_actor);
  if p_type is null or p_enabled is null then
    perform queue.raise('22QO1', 'p_type and p_enabled are required',
      'pass a job type name and true (resume) or false (pause)');
  end if;
  if not exists (select 1 from public.job_types t where t.name = p_type) then
    perform queue.raise('22QT1', pg_catalog.format('unknown job type %L', p_type),
      'known types: ' || coalesce((select pg_catalog.string_agg(t.name, ', ' order by t.name)
                                     from public.job_types t), '(none)'));
  end if;
  update public.job_types t set enabled = p_enabled, updated_at = pg_catalog.now()
   where t.name = p_type and t.enabled is distinct from p_enabled;
  get diagnostics v_changed = row_count;
  perform queue.console_record(p_actor, case when p_enabled then 'type.resume' else 'type.pause' end,
                               pg_catalog.jsonb_build_object('type', p_type), v_changed,
                               pg_catalog.jsonb_build_object('enabled', p_enabled));
  return pg_catalog.jsonb_build_object('type', p_type, 'enabled', p_enabled);
end
$function$;
comment on function public.console_set_type_enabled(p_type text, p_enabled boolean, p_actor text) is 'Pause (false) or resume (true) a job type: get_next_job skips a paused type''s jobs. Audited as type.pause/type.resume (affected 0 when unchanged). Returns {type, enabled}. 22QO1 null argument, 22QT1 unknown type, 22QO2 bad actor.';
grant execute on function public.console_set_type_enabled(p_type text, p_enabled boolean, p_actor text) to service_role;

-- function public.console_types()
CREATE OR REPLACE FUNCTION public.console_types()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with counts as (
    select x.type, pg_catalog.sum(x.pending)::bigint as pending, pg_catalog.sum(x.running)::bigint as running
      from (select j.type, pg_catalog.count(*) as pending, 0 as running
              from public.job_queue j where j.status = 'pending' group by j.type
            union all
            select j.type, 0, pg_catalog.count(*) from public.job_queue j where j.status = 'running' group by j.type) x
     group by x.type
  )
  select pg_catalog.jsonb_build_object(
    'types', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'name', t.name, 'enabled', t.enabled, 'concurrency_limit', t.concurrency_limit,
                 'timeout_seconds', t.timeout_seconds, 'max_attempts', t.max_attempts,
                 'backoff_base_seconds', t.backoff_base_seconds, 'backoff_cap_seconds', t.backoff_cap_seconds,
                 'pending', coalesce(c.pending, 0), 'running', coalesce(c.running, 0)) order by t.name)
                 from public.job_types t left join counts c on c.type = t.name), '[]'::jsonb),
    'breakers', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'provider', b.provider, 'state', b.state, 'consecutive_failures', b.consecutive_failures,
                 'open_until', b.open_until, 'last_error', b.last_error) order by b.provider)
                 from public.circuit_breakers b), '[]'::jsonb))
$function$;
comment on function public.console_types() is 'Every job type''s settings with its pending and running counts, and every circuit breaker, for the console''s Types view.';
grant execute on function public.console_types() to service_role;

-- function public.dead_letter_groups(p_type text, p_limit integer)
CREATE OR REPLACE FUNCTION public.dead_letter_groups(p_type text DEFAULT NULL::text, p_limit integer DEFAULT 50)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('limit must be 1-1000, got %s', coalesce(p_limit::text, 'null')));
  end if;
  return (
    select pg_catalog.jsonb_build_object('groups', coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
             'fingerprint', g.error_fingerprint, 'type', g.type, 'count', g.n,
             'first_seen', g.first_seen, 'last_seen', g.last_seen, 'sample_error', s.sample_error)
             order by g.n desc, g.last_seen desc, g.error_fingerprint, g.type), '[]'::jsonb))
      from (select d.error_fingerprint, d.type, pg_catalog.count(*) as n,
                   pg_catalog.min(d.failed_at) as first_seen, pg_catalog.max(d.failed_at) as last_seen
              from public.job_dead_letter d
             where d.replayed_job_id is null and (p_type is null or d.type = p_type)
             group by d.error_fingerprint, d.type
             order by n desc, last_seen desc, d.error_fingerprint, d.type
             limit p_limit) g
      cross join lateral (
        select pg_catalog.left(d.last_error, 500) as sample_error from public.job_dead_letter d
         where d.error_fingerprint = g.error_fingerprint and d.type = g.type and d.replayed_job_id is null
         order by d.failed_at desc limit 1) s
  );
end
$function$;
comment on function public.dead_letter_groups(p_type text, p_limit integer) is 'Dead letters not yet replayed, grouped by (error_fingerprint, type), largest first: {groups: [{fingerprint, type, count, first_seen, last_seen, sample_error}]}. p_type limits to one type; p_limit 1-1000 (22QB1).';
grant execute on function public.dead_letter_groups(p_type text, p_limit integer) to service_role;

-- function public.dead_letters_act(p_action text, p_selector jsonb, p_as_of timestamp with time zone, p_batch integer, p_actor text, p_action_id bigint)
CREATE OR REPLACE FUNCTION public.dead_letters_act(p_action text, p_selector jsonb, p_as_of timestamp with time zone, p_batch integer DEFAULT 500, p_actor text DEFAULT 'sql'::text, p_action_id bigint DEFAULT NULL::bigint)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_sel jsonb;
  v_where text;
  v_name text := 'dead_letters.' || p_action;
  v_target jsonb;
  v_ids uuid[];
  v_id uuid;
  v_remaining bigint;
  v_detail jsonb := '{}'::jsonb;
  v_action_id bigint := p_action_id;
begin
  if p_action is null or p_action not in ('replay', 'delete') then
    perform queue.raise('22QV4', pg_catalog.format('unknown dead-letter action %s', coalesce(p_action, 'null')),
                        'the action is replay or delete');
  end if;
  if p_actor is null or p_actor not in ('admin', 'cli', 'sql') then
    perform queue.raise('22QV4', pg_catalog.format('unknown actor %s', coalesce(p_actor, 'null')), 'the actor is admin, cli or sql');
  end if;
  if p_as_of is null then
    perform queue.raise('22QV5', 'as_of is required: the as_of of the dead_letters_count the operator confirmed',
                        'call dead_letters_count(selector) first and pass its as_of');
  end if;
  if p_batch is null or p_batch < 1 or p_batch > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('batch must be 1-1000, got %s', coalesce(p_batch::text, 'null')));
  end if;
  v_sel := queue.dead_letter_selection(p_selector);
  v_target := pg_catalog.jsonb_build_object('selector', p_selector, 'as_of', p_as_of);
  if v_action_id is not null then
    select a.detail into v_detail from public.console_actions a
     where a.id = v_action_id and a.action = v_name and a.target = v_target for update;
    if not found then
      perform queue.raise('22QV7', pg_catalog.format('action %s is not a %s of this selector and as_of', v_action_id, v_name),
                          'pass the action_id the first batch returned, with the same selector and as_of');
    end if;
  elsif v_sel ? 'ids' then
    v_detail := queue.dead_letter_ids_missing(v_sel);
  end if;

  v_where := queue.dead_letter_where(v_sel, true);
  execute 'select coalesce(pg_catalog.array_agg(x.id), ''{}'') from (select d.id from public.job_dead_letter d where '
       || v_where || ' order by d.failed_at, d.id limit $3 for update skip locked) x'
    into v_ids using v_sel, p_as_of, p_batch;
  if p_action = 'replay' then
    foreach v_id in array v_ids loop
      perform public.retry_dead_letter_job(v_id);
    end loop;
  else
    delete from public.job_dead_letter d where d.id = any (v_ids);
  end if;
  execute 'select pg_catalog.count(*) from public.job_dead_letter d where ' || v_where
    into v_remaining using v_sel, p_as_of;

  v_detail := v_detail || pg_catalog.jsonb_build_object('batches', coalesce((v_detail ->> 'batches')::integer, 0) + 1);
  if v_action_id is null then
    v_action_id := queue.console_record(p_actor, v_name, v_target, pg_catalog.cardinality(v_ids), v_detail);
  else
    update public.console_actions a set affected = a.affected + pg_catalog.cardinality(v_ids), detail = v_detail
     where a.id = v_action_id;
  end if;
  return pg_catalog.jsonb_build_object('action_id', v_action_id, 'affected', pg_catalog.cardinality(v_ids),
                                       'remaining', v_remaining)
         || (v_detail - 'batches');
end
$function$;
comment on function public.dead_letters_act(p_action text, p_selector jsonb, p_as_of timestamp with time zone, p_batch integer, p_actor text, p_action_id bigint) is 'One bounded batch (p_batch 1-1000, SKIP LOCKED) of replay (as retry_dead_letter_job) or delete over the letters the selector covers that are not replayed and failed at or before p_as_of: {action_id, affected, remaining}. First call records a console_actions row; pass its action_id back for the next batches. 22QV1-22QV5, 22QV7, 22QB1.';
grant execute on function public.dead_letters_act(p_action text, p_selector jsonb, p_as_of timestamp with time zone, p_batch integer, p_actor text, p_action_id bigint) to service_role;

-- function public.dead_letters_count(p_selector jsonb)
CREATE OR REPLACE FUNCTION public.dead_letters_count(p_selector jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_sel jsonb := queue.dead_letter_selection(p_selector);
  v_as_of timestamptz := pg_catalog.now();
  v_count bigint;
  v_out jsonb;
begin
  execute 'select pg_catalog.count(*) from public.job_dead_letter d where ' || queue.dead_letter_where(v_sel, true)
    into v_count using v_sel, v_as_of;
  v_out := pg_catalog.jsonb_build_object('count', v_count, 'as_of', v_as_of);
  if v_sel ? 'ids' then
    v_out := v_out || queue.dead_letter_ids_missing(v_sel);
  end if;
  return v_out;
end
$function$;
comment on function public.dead_letters_count(p_selector jsonb) is 'Dead letters a selector covers that are not replayed and failed at or before now: {count, as_of} (+ not_found, already_replayed for ids). Pass as_of to dead_letters_act. Selector errors 22QV1-22QV3.';
grant execute on function public.dead_letters_count(p_selector jsonb) to service_role;

-- function public.dead_letters_page(p_filter jsonb, p_after text, p_limit integer)
CREATE OR REPLACE FUNCTION public.dead_letters_page(p_filter jsonb DEFAULT '{}'::jsonb, p_after text DEFAULT NULL::text, p_limit integer DEFAULT 50)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_sel jsonb;
  v_after_at timestamptz;
  v_after_id uuid;
  v_rows jsonb;
begin
  if p_limit is null or p_limit < 1 or p_limit > 200 then
    perform queue.raise('22QB1', pg_catalog.format('limit must be 1-200, got %s', coalesce(p_limit::text, 'null')));
  end if;
  v_sel := queue.dead_letter_filter(p_filter, array['type', 'fingerprint', 'q', 'from', 'to', 'replayed']);
  if p_after is not null then
    begin
      v_after_at := pg_catalog.split_part(p_after, ',', 1)::timestamptz;
      v_after_id := pg_catalog.split_part(p_after, ',', 2)::uuid;
    exception when others then
      v_after_at := null;
    end;
    if v_after_at is null or v_after_id is null then
      perform queue.raise('22QV6', pg_catalog.format('after is not a cursor from dead_letters_page: %s', p_after),
                          'pass next_after from the previous page unchanged, or nothing for the first page');
    end if;
  end if;
  execute 'select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object('
       || '''id'', d.id, ''job_id'', d.job_id, ''type'', d.type, ''priority'', d.priority, '
       || '''last_error'', pg_catalog.left(d.last_error, 2000), ''fingerprint'', d.error_fingerprint, '
       || '''attempts'', d.attempts, ''max_attempts'', d.max_attempts, ''job_created_at'', d.job_created_at, '
       || '''failed_at'', d.failed_at, ''replayed_job_id'', d.replayed_job_id, ''replayed_at'', d.replayed_at'
       || ') order by d.failed_at desc, d.id desc), ''[]''::jsonb) from ('
       || 'select * from public.job_dead_letter d where ' || queue.dead_letter_where(v_sel, false)
       || case when v_after_at is not null then ' and (d.failed_at, d.id) < ($3, $4)' else '' end
       || ' order by d.failed_at desc, d.id desc limit $5) d'
    into v_rows
    using v_sel, null::timestamptz, v_after_at, v_after_id, p_limit + 1;
  return pg_catalog.jsonb_build_object(
    'dead_letters', case when pg_catalog.jsonb_array_length(v_rows) > p_limit then v_rows - p_limit else v_rows end,
    'next_after', case when pg_catalog.jsonb_array_length(v_rows) > p_limit then
        pg_catalog.to_char((v_rows -> (p_limit - 1) ->> 'failed_at')::timestamptz at time zone 'UTC',
                           'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') || ',' || (v_rows -> (p_limit - 1) ->> 'id') end);
end
$function$;
comment on function public.dead_letters_page(p_filter jsonb, p_after text, p_limit integer) is 'Dead letters newest first (failed_at desc, id desc): {dead_letters: [...], next_after}. p_filter {type, fingerprint, q, from, to, replayed} (22QV3), p_after the previous next_after (22QV6), p_limit 1-200 (22QB1).';
grant execute on function public.dead_letters_page(p_filter jsonb, p_after text, p_limit integer) to service_role;

-- function public.enqueue_due_schedules(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.enqueue_due_schedules(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_s public.job_schedules;
  v_id uuid;
  v_count integer := 0;
begin
  for v_s in
    select * from public.job_schedules s
     where s.enabled and s.next_run_at <= v_now
     order by s.name
       for update skip locked
  loop
    -- One broken schedule (say its payload outgrew a lowered payload_max_bytes) must
    -- not stop the others: warn, leave it due, and go on.
    begin
      v_id := public.enqueue_job(
        p_type => v_s.type, p_payload => v_s.payload, p_priority => v_s.priority::text,
        p_run_at => v_now,
        p_idempotency_key => pg_catalog.format('schedule:%s:%s', v_s.name,
                               pg_catalog.to_char(v_s.next_run_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"')));
      update public.job_schedules s
         set last_run_at = v_s.next_run_at, last_job_id = v_id,
             next_run_at = queue.cron_next(v_s.cron, v_now)
       where s.name = v_s.name;
      v_count := v_count + 1;
    exception when others then
      raise warning 'enqueue_due_schedules: schedule % failed: % (SQLSTATE %)', v_s.name, sqlerrm, sqlstate;
    end;
  end loop;
  return v_count;
end
$function$;
comment on function public.enqueue_due_schedules(p_now timestamp with time zone) is 'Enqueue each enabled schedule''s due slot exactly once (concurrent ticks included); returns how many due schedules it handled.';
grant execute on function public.enqueue_due_schedules(p_now timestamp with time zone) to service_role;

-- function public.enqueue_job(p_type text, p_payload jsonb, p_priority text, p_run_at timestamp with time zone, p_max_attempts integer, p_depends_on uuid[], p_idempotency_key text, p_rate_limit_key text, p_owner_id uuid)
CREATE OR REPLACE FUNCTION public.enqueue_job(p_type text, p_payload jsonb DEFAULT '{}'::jsonb, p_priority text DEFAULT 'normal'::text, p_run_at timestamp with time zone DEFAULT now(), p_max_attempts integer DEFAULT NULL::integer, p_depends_on uuid[] DEFAULT NULL::uuid[], p_idempotency_key text DEFAULT NULL::text, p_rate_limit_key text DEFAULT NULL::text, p_owner_id uuid DEFAULT NULL::uuid)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_owner uuid := queue.check_enqueue_allowed(p_type, p_owner_id);  -- permission first, as before
  v_client boolean := queue.caller_is_client();
  v_key text := case when v_client then queue.client_idempotency_key(p_idempotency_key) else p_idempotency_key end;
  v_id uuid;
begin
  perform queue.validate_job(p_type, p_payload, p_priority, p_max_attempts, p_depends_on);
  if v_client then
    perform queue.check_client_job(p_type, p_priority, p_max_attempts);
    perform queue.lock_client_quota(array[p_type]);
  end if;
  loop
    if v_key is not null then
      v_id := queue.dead_letter_key_job(p_type, v_key);
      exit when v_id is not null;
    end if;
    with inserted as (
      insert into public.job_queue (type, payload, priority, run_at, max_attempts, depends_on,
                                    idempotency_key, rate_limit_key, owner_id)
      select p_type, p_payload, p_priority::public.job_priority,
             case when v_client then queue.client_run_at(p_run_at) else coalesce(p_run_at, pg_catalog.now()) end,
             coalesce(p_max_attempts, t.max_attempts), nullif(p_depends_on, '{}'), v_key,
             case when v_client then queue.client_scoped_key(p_rate_limit_key) else p_rate_limit_key end, v_owner
        from public.job_types t where t.name = p_type
      on conflict (type, idempotency_key) where idempotency_key is not null do nothing
      returning id
    ), history as (
      insert into public.job_status_events (job_id, from_status, to_status, note)
      select i.id, null, 'pending', 'enqueued' from inserted i
    )
    select i.id into v_id from inserted i;
    if v_id is not null and (v_key is null or pg_catalog.cardinality(queue.undo_dead_lettered_keys(array[v_id])) = 0) then
      if v_client then
        perform queue.check_client_quota(array[p_type]);
      end if;
      exit;
    end if;
    -- The key exists (or a racing insert just committed it): return that job. If
    -- the holder vanished (purged, rolled back, or just dead-lettered), go round again.
    select j.id into v_id from public.job_queue j where j.type = p_type and j.idempotency_key = v_key;
    exit when v_id is not null;
  end loop;
  return v_id;
end
$function$;
comment on function public.enqueue_job(p_type text, p_payload jsonb, p_priority text, p_run_at timestamp with time zone, p_max_attempts integer, p_depends_on uuid[], p_idempotency_key text, p_rate_limit_key text, p_owner_id uuid) is 'Enqueue one job and return its id. Same (type, idempotency_key) returns the existing id (also one in the dead letter) and creates nothing. Raises 42501 not allowed for this caller (checked first), then 22QT1 unknown type, 22QP1 bad priority, 22QJ1/22QJ2 bad payload, 22QA1 bad max_attempts, 22QD1/22QD2 bad depends_on, PT429 client pending cap.';
grant execute on function public.enqueue_job(p_type text, p_payload jsonb, p_priority text, p_run_at timestamp with time zone, p_max_attempts integer, p_depends_on uuid[], p_idempotency_key text, p_rate_limit_key text, p_owner_id uuid) to authenticated, service_role;

-- function public.enqueue_jobs(p_jobs jsonb)
CREATE OR REPLACE FUNCTION public.enqueue_jobs(p_jobs jsonb)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  -- Asked once: the per-row client helpers below are skipped for the server.
  v_client boolean := queue.caller_is_client();
  v_types text[];
  v_ids uuid[];
  v_keys text[];
  v_undone uuid[];
begin
  perform queue.check_enqueue_batch(p_jobs);
  select pg_catalog.array_agg(e ->> 'type') into v_types from pg_catalog.jsonb_array_elements(p_jobs) e;
  if v_client then
    perform queue.lock_client_quota(v_types);
  end if;

  with input as (
    select e.ord,
           gen_random_uuid() as new_id,
           e.value ->> 'type' as type,
           coalesce(e.value -> 'payload', '{}'::jsonb) as payload,
           coalesce(e.value ->> 'priority', 'normal')::public.job_priority as priority,
           case when v_client then queue.client_run_at((e.value ->> 'run_at')::timestamptz)
                else coalesce((e.value ->> 'run_at')::timestamptz, pg_catalog.now()) end as run_at,
           (e.value ->> 'max_attempts')::integer as max_attempts,
           case when pg_catalog.jsonb_typeof(e.value -> 'depends_on') = 'array'
                then (select pg_catalog.array_agg(d::uuid) from pg_catalog.jsonb_array_elements_text(e.value -> 'depends_on') d) end as depends_on,
           case when v_client then queue.client_idempotency_key(e.value ->> 'idempotency_key')
                else e.value ->> 'idempotency_key' end as idempotency_key,
           case when v_client then queue.client_scoped_key(e.value ->> 'rate_limit_key')
                else e.value ->> 'rate_limit_key' end as rate_limit_key,
           case when v_client then queue.check_enqueue_allowed(e.value ->> 'type', (e.value ->> 'owner_id')::uuid)
                else coalesce((e.value ->> 'owner_id')::uuid, auth.uid()) end as owner_id
      from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, ord)
  ),
  inserted as (
    insert into public.job_queue (id, type, payload, priority, run_at, max_attempts, depends_on,
                                  idempotency_key, rate_limit_key, owner_id)
    select i.new_id, i.type, i.payload, i.priority, i.run_at, coalesce(i.max_attempts, t.max_attempts),
           nullif(i.depends_on, '{}'), i.idempotency_key, i.rate_limit_key, i.owner_id
      from input i join public.job_types t on t.name = i.type
     where case when i.idempotency_key is null then true
                else queue.dead_letter_key_job(i.type, i.idempotency_key) is null end
     order by i.ord
    on conflict (type, idempotency_key) where idempotency_key is not null do nothing
    returning id
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, note)
    select ins.id, null, 'pending', 'enqueued' from inserted ins
  )
  select pg_catalog.array_agg(case when ins.id is not null then i.new_id end order by i.ord),
         pg_catalog.array_agg(i.type order by i.ord),
         pg_catalog.array_agg(i.idempotency_key order by i.ord)
    into v_ids, v_types, v_keys
    from input i left join inserted ins on ins.id = i.new_id;

  -- Only an insert with a key can have raced a dead-lettering.
  v_undone := case when exists (select 1 from pg_catalog.unnest(v_keys) k where k is not null)
                   then queue.undo_dead_lettered_keys(v_ids) else '{}' end;
  if v_client then
    perform queue.check_client_quota(v_types);
  end if;

  -- Elements that hit an existing key (earlier, in this call, in a racing call that
  -- has since committed, or in the dead letter) return that job's id. A new
  -- statement, so a new snapshot: it sees what the insert above waited for.
  return query
  select coalesce(case when x.id = any (v_undone) then null else x.id end,
                  (select j.id from public.job_queue j where j.type = x.type and j.idempotency_key = x.key),
                  queue.dead_letter_key_job(x.type, x.key))
    from unnest(v_ids, v_types, v_keys) with ordinality as x(id, type, key, ord)
   order by x.ord;
end
$function$;
comment on function public.enqueue_jobs(p_jobs jsonb) is 'Enqueue many jobs in one statement; returns their ids in input order. Same rules as enqueue_job per element; every element''s permission is checked before any element is validated.';
grant execute on function public.enqueue_jobs(p_jobs jsonb) to authenticated, service_role;

-- function public.fail_job(p_job_id uuid, p_error text, p_retryable boolean, p_retry_after_seconds integer, p_worker_id text)
CREATE OR REPLACE FUNCTION public.fail_job(p_job_id uuid, p_error text, p_retryable boolean DEFAULT true, p_retry_after_seconds integer DEFAULT NULL::integer, p_worker_id text DEFAULT NULL::text)
 RETURNS text
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if p_retry_after_seconds < 0 then
    perform queue.raise('22QR1', pg_catalog.format('p_retry_after_seconds must be 0 or more, got %s', p_retry_after_seconds),
      'pass null to use the type''s backoff');
  end if;
  return (select f.outcome from public.fail_jobs(
    pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
      'id', p_job_id, 'error', p_error, 'retryable', p_retryable,
      'retry_after_seconds', p_retry_after_seconds))),
    p_worker_id) f);
end
$function$;
comment on function public.fail_job(p_job_id uuid, p_error text, p_retryable boolean, p_retry_after_seconds integer, p_worker_id text) is 'Fail a running job locked by p_worker_id (required, 22QW1). Returns retried, dead_lettered or lease_lost.';
grant execute on function public.fail_job(p_job_id uuid, p_error text, p_retryable boolean, p_retry_after_seconds integer, p_worker_id text) to service_role;

-- function public.fail_jobs(p_jobs jsonb, p_worker_id text)
CREATE OR REPLACE FUNCTION public.fail_jobs(p_jobs jsonb, p_worker_id text DEFAULT NULL::text)
 RETURNS TABLE(job_id uuid, outcome text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_ids uuid[];
  v_by_id jsonb;
  v_dead uuid[];
  v_retried uuid[];
begin
  select s.ids, s.by_id into v_ids, v_by_id
    from queue.settle_input(p_jobs, '{"id", "error", "retryable", "retry_after_seconds"}') s;
  perform queue.check_settle_options(p_jobs);
  perform queue.require_worker_id(p_worker_id);

  -- FOR UPDATE re-checks status and lock holder after waiting on a concurrent change;
  -- the update below joins only by id, so this is where fencing holds.
  with targets as (
    select x.id, x.error, x.retryable, x.retryable and x.attempts < x.max_attempts as retry, x.retry_after
      from (select j.id, j.attempts, j.max_attempts,
                   coalesce(v_by_id -> (j.id::text) ->> 'error', 'unknown error') as error,
                   coalesce((v_by_id -> (j.id::text) ->> 'retryable')::boolean, true) as retryable,
                   (v_by_id -> (j.id::text) ->> 'retry_after_seconds')::integer as retry_after
              from public.job_queue j
             where j.id = any (v_ids) and j.status = 'running'
               and j.locked_by = p_worker_id
               for update of j) x
  ),
  failed as (
    update public.job_queue j
       set status = case when i.retry then 'pending'::public.job_status else j.status end,
           run_at = case when i.retry
                         then v_now + coalesce(pg_catalog.make_interval(secs => i.retry_after),
                                               queue.retry_delay(j.attempts, t.backoff_base_seconds,
                                                                 t.backoff_cap_seconds, pg_catalog.random()))
                         else j.run_at end,
           locked_by = case when i.retry then null else j.locked_by end,
           locked_until = case when i.retry then null else j.locked_until end,
           last_error = i.error,
           errors = j.errors || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
                      'attempt', j.attempts, 'error', i.error, 'at', v_now,
                      'worker_id', j.locked_by, 'retryable', i.retryable)),
           updated_at = v_now
      from targets i, public.job_types t
     where j.id = i.id and t.name = j.type
    returning j.id, j.status, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select f.id, 'pending', 'running', f.claimed_by, null, f.started_at from failed f where f.status = 'pending'
    union all
    select f.id, 'running', 'pending', p_worker_id, 'retry scheduled', pg_catalog.now() from failed f where f.status = 'pending'
  )
  select coalesce(pg_catalog.array_agg(f.id) filter (where f.status = 'running'), '{}'),
         coalesce(pg_catalog.array_agg(f.id) filter (where f.status = 'pending'), '{}')
    into v_dead, v_retried
    from failed f;

  -- Still running here means it was not retried: out of attempts or permanent.
  perform queue.dead_letter_jobs(v_dead, p_worker_id, null);

  return query
  select x.id,
         case when x.id = any (v_dead) then 'dead_lettered'
              when x.id = any (v_retried) then 'retried'
              else 'lease_lost' end
    from (select (e ->> 'id')::uuid as id from pg_catalog.jsonb_array_elements(p_jobs) e) x;
end
$function$;
comment on function public.fail_jobs(p_jobs jsonb, p_worker_id text) is 'Fail each [{id, error, retryable, retry_after_seconds}]: retried with backoff while attempts remain and retryable, else moved to job_dead_letter (dependents cancelled). Only jobs locked by p_worker_id (required, 22QW1). Outcome per job: retried, dead_lettered or lease_lost.';
grant execute on function public.fail_jobs(p_jobs jsonb, p_worker_id text) to service_role;

-- function public.get_next_job(p_worker_id text, p_types text[], p_batch_size integer, p_lock_seconds integer)
CREATE OR REPLACE FUNCTION public.get_next_job(p_worker_id text, p_types text[] DEFAULT NULL::text[], p_batch_size integer DEFAULT 1, p_lock_seconds integer DEFAULT NULL::integer)
 RETURNS SETOF public.job_queue
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_limited_types text[];
  v_keys text[];
  v_type_slots jsonb := '{}'::jsonb;
  v_key_slots jsonb := '{}'::jsonb;
  v_full_types text[] := '{}';
  v_full_keys text[] := '{}';
  v_scan integer;
begin
  if p_worker_id is null or pg_catalog.length(p_worker_id) = 0 or pg_catalog.length(p_worker_id) > 200 then
    perform queue.raise('22QW1', 'p_worker_id must be a non-empty text of at most 200 characters',
      'pass an id unique to this worker invocation, e.g. host:pid:uuid');
  end if;
  if p_batch_size is null or p_batch_size < 1 or p_batch_size > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('p_batch_size must be between 1 and 1000, got %s', coalesce(p_batch_size::text, 'null')),
      'PostgREST truncates results at 1000 rows, so a claim never returns more');
  end if;
  if p_lock_seconds is not null and (p_lock_seconds < 1 or p_lock_seconds > 86400) then
    perform queue.raise('22QL1', pg_catalog.format('p_lock_seconds must be between 1 and 86400, got %s', p_lock_seconds),
      'pass null to use the job type''s timeout_seconds');
  end if;
  if p_types is not null then
    declare v_unknown text;
    begin
      select t into v_unknown from pg_catalog.unnest(p_types) t
       where not exists (select 1 from public.job_types jt where jt.name = t) limit 1;
      if pg_catalog.cardinality(p_types) = 0 then
        perform queue.raise('22QT1', 'p_types is an empty array', 'pass null to claim every type, or name at least one');
      end if;
      if v_unknown is not null then
        perform queue.raise('22QT1', pg_catalog.format('unknown job type %L', v_unknown),
          'known types: ' || (select pg_catalog.string_agg(jt.name, ', ' order by jt.name) from public.job_types jt)
          || '; pass null for all types');
      end if;
    end;
  end if;

  -- Concurrency limits: lock the limited types' rows (in name order, so claimers
  -- cannot deadlock), then count what runs now.
  select pg_catalog.array_agg(t.name order by t.name) into v_limited_types
    from public.job_types t
   where t.concurrency_limit is not null and t.enabled
     and (p_types is null or t.name = any (p_types));
  if v_limited_types is not null then
    perform 1 from public.job_types t where t.name = any (v_limited_types) order by t.name for no key update;
    select coalesce(pg_catalog.jsonb_object_agg(t.name, s.slots), '{}'::jsonb),
           coalesce(pg_catalog.array_agg(t.name) filter (where s.slots <= 0), '{}')
      into v_type_slots, v_full_types
      from public.job_types t
      cross join lateral (
        select t.concurrency_limit - (select pg_catalog.count(*) from public.job_queue r
                                        where r.type = t.name and r.status = 'running')::integer as slots
      ) s
     where t.name = any (v_limited_types);
  end if;

  -- Rate limits: only keys that have ready work and a configured limit.
  select pg_catalog.array_agg(k.key order by k.key) into v_keys
    from public.job_rate_limits k
   where exists (select 1 from public.job_queue j
                  where j.rate_limit_key = k.key and j.status = 'pending' and j.run_at <= v_now);
  if v_keys is not null then
    perform 1 from public.job_rate_limits k where k.key = any (v_keys) order by k.key for no key update;
    select coalesce(pg_catalog.jsonb_object_agg(k.key, s.slots), '{}'::jsonb),
           coalesce(pg_catalog.array_agg(k.key) filter (where s.slots <= 0), '{}')
      into v_key_slots, v_full_keys
      from public.job_rate_limits k
      cross join lateral (
        select k.max_per_window - (select pg_catalog.count(*) from public.job_queue r
                                     where r.rate_limit_key = k.key
                                       and r.started_at > v_now - pg_catalog.make_interval(secs => k.window_seconds))::integer as slots
      ) s
     where k.key = any (v_keys);
  end if;

  -- With limits in play some candidates are filtered after locking: look further.
  v_scan := case when v_limited_types is null and v_keys is null then p_batch_size
                 else least(p_batch_size * 4 + 16, 5000) end;

  return query
  with candidates as (
    select j.id, j.type, j.rate_limit_key, j.priority, j.run_at, j.seq
      from public.job_queue j
     where j.status = 'pending'
       and j.run_at <= v_now
       and (p_types is null or j.type = any (p_types))
       and j.type <> all (v_full_types)
       -- A limited key counted above, or a key without a limit. A limited key that
       -- became ready after the count (a racing enqueue) waits for the next claim.
       and (j.rate_limit_key is null
            or (j.rate_limit_key <> all (v_full_keys)
                and (j.rate_limit_key = any (v_keys)
                     or not exists (select 1 from public.job_rate_limits k where k.key = j.rate_limit_key))))
       and j.type not in (select t.name from public.job_types t where not t.enabled)
       and (j.depends_on is null or not exists (
             select 1 from public.job_queue d
              where d.id = any (j.depends_on) and d.status <> 'completed'))
     order by j.priority desc, j.run_at, j.seq
     limit v_scan
       for update of j skip locked
  ),
  ranked as (
    select c.*,
           pg_catalog.row_number() over (partition by c.type order by c.priority desc, c.run_at, c.seq) as type_rank,
           pg_catalog.row_number() over (partition by c.rate_limit_key order by c.priority desc, c.run_at, c.seq) as key_rank
      from candidates c
  ),
  chosen as (
    select r.id from ranked r
     where (v_type_slots -> r.type is null or r.type_rank <= (v_type_slots ->> r.type)::integer)
       and (r.rate_limit_key is null or v_key_slots -> r.rate_limit_key is null
            or r.key_rank <= (v_key_slots ->> r.rate_limit_key)::integer)
     order by r.priority desc, r.run_at, r.seq
     limit p_batch_size
  ),
  claimed as (
    update public.job_queue j
       set status = 'running',
           attempts = j.attempts + 1,
           locked_by = p_worker_id,
           lock_seconds = coalesce(p_lock_seconds, t.timeout_seconds),
           locked_until = v_now + pg_catalog.make_interval(secs => coalesce(p_lock_seconds, t.timeout_seconds)),
           started_at = v_now,
           claimed_by = p_worker_id,
           updated_at = v_now
      from chosen c, public.job_types t
     where j.id = c.id and t.name = j.type
    returning j.*
  )
  select c.* from claimed c order by c.priority desc, c.run_at, c.seq;
end
$function$;
comment on function public.get_next_job(p_worker_id text, p_types text[], p_batch_size integer, p_lock_seconds integer) is 'Atomically claim up to p_batch_size (1-1000) ready jobs for p_worker_id, highest priority first, respecting dependencies, per-type concurrency limits and per-key rate limits. Raises 22QW1 bad worker id, 22QB1 batch size out of range, 22QL1 bad lock seconds, 22QT1 unknown type.';
grant execute on function public.get_next_job(p_worker_id text, p_types text[], p_batch_size integer, p_lock_seconds integer) to service_role;

-- function public.health_warnings(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.health_warnings(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_extensions jsonb := queue.health_extension_checks(v_now);
  v_checks jsonb;
begin
  v_checks := queue.health_type_checks(v_now) || queue.health_database_checks(v_now)
              || (v_extensions -> 'checks') || queue.health_worker_checks(v_now);
  return pg_catalog.jsonb_build_object(
    'checked_at', v_now,
    'severity', (select case pg_catalog.max(queue.health_rank(c ->> 'severity'))
                          when 2 then 'critical' when 1 then 'warning' else 'ok' end
                   from pg_catalog.jsonb_array_elements(v_checks) c),
    'warnings', (select pg_catalog.count(*) from pg_catalog.jsonb_array_elements(v_checks) c
                  where c ->> 'severity' <> 'ok'),
    'checks', v_checks,
    'not_checked', v_extensions -> 'not_checked');
end
$function$;
comment on function public.health_warnings(p_now timestamp with time zone) is 'Every health check with value, threshold, severity and hint: per type (backlog age, stuck jobs, dead-letter spike), table bloat, xmin horizon, replication slots, pg_net, pg_cron, last worker run, unanswered kicks.';
grant execute on function public.health_warnings(p_now timestamp with time zone) to service_role;

-- function public.job_lease_state(p_job_id uuid, p_worker_id text)
CREATE OR REPLACE FUNCTION public.job_lease_state(p_job_id uuid, p_worker_id text)
 RETURNS text
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_status public.job_status;
  v_locked_by text;
begin
  if p_job_id is null then
    perform queue.raise('22Q01', 'p_job_id must be the id of a job, got null', 'pass the job id you claimed');
  end if;
  perform queue.require_worker_id(p_worker_id);
  select j.status, j.locked_by into v_status, v_locked_by from public.job_queue j where j.id = p_job_id;
  if not found then
    return 'gone';
  end if;
  return case
    when v_status = 'running' and v_locked_by = p_worker_id then 'held'
    when v_status = 'cancelled' then 'cancelled'
    else 'lost'
  end;
end
$function$;
comment on function public.job_lease_state(p_job_id uuid, p_worker_id text) is 'Why p_worker_id may no longer hold job p_job_id: held, cancelled, lost (another worker or a later attempt) or gone (dead-lettered or purged). Raises 22Q01 for a null job id, 22QW1 for a bad worker id.';
grant execute on function public.job_lease_state(p_job_id uuid, p_worker_id text) to service_role;

-- function public.metrics_snapshot(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION public.metrics_snapshot(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
begin
  perform queue.record_minute_stats(p_now);
  return (
    with live as (select * from queue.console_type_counts(v_now)),
    types as (
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'type', t.name, 'enabled', t.enabled,
               'ready', coalesce(l.ready, 0), 'scheduled', coalesce(l.scheduled, 0),
               'running', coalesce(l.running, 0),
               'oldest_ready_age_seconds',
                 coalesce(greatest(extract(epoch from v_now - l.oldest_ready)::double precision, 0), 0),
               'dead_letters', coalesce(w.waiting, 0),
               'completed_total', coalesce(x.completed, 0), 'failed_attempts_total', coalesce(x.failed, 0),
               'dead_lettered_total', coalesce(x.dead_lettered, 0),
               'run_seconds', queue.run_seconds_histogram(x.run_ms_buckets, x.run_seconds_sum))
             order by t.name) as list
        from public.job_types t
        left join live l on l.type = t.name
        left join queue.dead_letters_waiting w on w.type = t.name
        left join queue.job_totals x on x.type = t.name
    ),
    last_run as (select r.* from public.worker_runs r order by r.started_at desc limit 1),
    last_finished as (
      select r.* from public.worker_runs r where r.finished_at is not null order by r.started_at desc limit 1
    )
    select pg_catalog.jsonb_build_object(
      'generated_at', v_now,
      'types', coalesce((select types.list from types), '[]'::jsonb),
      'breakers', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                     'provider', b.provider, 'state', b.state, 'consecutive_failures', b.consecutive_failures,
                     'open_until', b.open_until) order by b.provider)
                     from public.circuit_breakers b), '[]'::jsonb),
      'last_invocation', (select pg_catalog.jsonb_build_object(
                            'worker_id', r.worker_id, 'started_at', extract(epoch from r.started_at),
                            'running', r.finished_at is null) from last_run r),
      'last_finished_invocation', (select pg_catalog.jsonb_build_object(
                            'worker_id', r.worker_id, 'started_at', extract(epoch from r.started_at),
                            'finished_at', extract(epoch from r.finished_at),
                            'duration_seconds', greatest(extract(epoch from r.finished_at - r.started_at), 0),
                            'claimed', r.claimed, 'completed', r.completed, 'retried', r.retried,
                            'dead_lettered', r.dead_lettered, 'released', r.released, 'lease_lost', r.lease_lost)
                            from last_finished r),
      'health', public.health_warnings(v_now))
  );
end
$function$;
comment on function public.metrics_snapshot(p_now timestamp with time zone) is 'Everything ?action=metrics exposes (records the minute stats first): per type live counts, oldest ready age, dead letters waiting, completed/failed/dead-lettered totals and the run-time histogram; circuit breakers; the last worker invocations; health_warnings(). p_now for tests.';
grant execute on function public.metrics_snapshot(p_now timestamp with time zone) to service_role;

-- function public.my_jobs(p_limit integer)
CREATE OR REPLACE FUNCTION public.my_jobs(p_limit integer DEFAULT 50)
 RETURNS TABLE(id uuid, type text, status text, progress smallint, progress_message text, result jsonb, created_at timestamp with time zone, started_at timestamp with time zone, finished_at timestamp with time zone, updated_at timestamp with time zone, replayed_job_id uuid)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_owner uuid := auth.uid();
begin
  if p_limit is null or p_limit < 1 or p_limit > 1000 then
    perform queue.raise('22QB1', pg_catalog.format('limit must be 1-1000, got %s', coalesce(p_limit::text, 'null')),
                        'pass p_limit between 1 and 1000, or leave it out for 50');
  end if;
  if v_owner is null then
    return;
  end if;
  return query
    select u.* from (
      (select j.id, j.type, j.status::text, j.progress, j.progress_message, j.result, j.created_at,
              j.started_at, j.finished_at, j.updated_at, null::uuid
         from public.job_queue j
        where j.owner_id = v_owner
        order by j.created_at desc
        limit p_limit)
      union all
      (select d.job_id, d.type, 'failed'::text, null::smallint, null::text, null::jsonb, d.job_created_at,
              null::timestamptz, d.failed_at, coalesce(d.replayed_at, d.failed_at), d.replayed_job_id
         from public.job_dead_letter d
        where d.owner_id = v_owner
        order by d.job_created_at desc
        limit p_limit)
    ) u
    order by 7 desc, 1
    limit p_limit;
end
$function$;
comment on function public.my_jobs(p_limit integer) is 'The caller''s (auth.uid()) newest p_limit (1-1000, default 50) jobs: status pending/running/completed/cancelled from job_queue or failed from job_dead_letter, progress, result, times; no payload or errors. 22QB1 for a bad limit.';
grant execute on function public.my_jobs(p_limit integer) to authenticated, service_role;

-- function public.payout_eligible_sellers(p_currency text, p_fee_bps integer, p_min_cents bigint)
CREATE OR REPLACE FUNCTION public.payout_eligible_sellers(p_currency text, p_fee_bps integer, p_min_cents bigint)
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select coalesce(pg_catalog.jsonb_agg(s.seller_id order by s.seller_id), '[]'::jsonb) from (
    select a.seller_id from public.seller_accounts a
      join public.ledger_entries e on e.seller_id = a.seller_id and e.currency = p_currency and e.payout_id is null
     where a.payouts_enabled
     group by a.seller_id
    having sum(e.amount_cents) - greatest(pg_catalog.div(sum(e.amount_cents) * p_fee_bps, 10000), 0) >= p_min_cents
    union
    select p.seller_id from public.payouts p where p.currency = p_currency and p.status = 'pending'
  ) s
$function$;
comment on function public.payout_eligible_sellers(p_currency text, p_fee_bps integer, p_min_cents bigint) is 'Seller ids (jsonb array) with a payable unreserved balance in the currency, or an open payout to resume.';
grant execute on function public.payout_eligible_sellers(p_currency text, p_fee_bps integer, p_min_cents bigint) to service_role;

-- function public.payout_fail(p_payout_id uuid, p_reason text, p_absent_at_stripe boolean)
CREATE OR REPLACE FUNCTION public.payout_fail(p_payout_id uuid, p_reason text, p_absent_at_stripe boolean DEFAULT false)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_payout public.payouts;
begin
  select * into v_payout from public.payouts p where p.id = p_payout_id and p.status = 'pending' for update;
  if not found then
    return false;
  end if;
  if v_payout.sent_at is not null and not coalesce(p_absent_at_stripe, false) then
    perform queue.raise('22QY7', pg_catalog.format(
      'payout %s may have reached Stripe (first sent %s); its entries stay reserved', p_payout_id, v_payout.sent_at),
      pg_catalog.format('ask Stripe for transfers of transfer_group payout_%s; fail it only if there are none, '
                        'settle it with payout_settle if there is one', p_payout_id));
  end if;
  update public.payouts p set status = 'failed', reason = p_reason, hold_reason = null where p.id = p_payout_id;
  update public.ledger_entries e set payout_id = null where e.payout_id = p_payout_id and e.paid_at is null;
  return true;
end
$function$;
comment on function public.payout_fail(p_payout_id uuid, p_reason text, p_absent_at_stripe boolean) is 'Fail a pending payout and release its entries, only if it was never sent or Stripe shows no transfer for it.';
grant execute on function public.payout_fail(p_payout_id uuid, p_reason text, p_absent_at_stripe boolean) to service_role;

-- function public.payout_hold(p_payout_id uuid, p_reason text)
CREATE OR REPLACE FUNCTION public.payout_hold(p_payout_id uuid, p_reason text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if p_reason is null or pg_catalog.btrim(p_reason) = '' then
    perform queue.raise('22QY6', 'payout_hold: a reason is required', 'say why the payout waits');
  end if;
  update public.payouts p set hold_reason = pg_catalog.left(p_reason, 1000)
   where p.id = p_payout_id and p.status = 'pending';
  return found;
end
$function$;
comment on function public.payout_hold(p_payout_id uuid, p_reason text) is 'Keep a pending payout reserved with the reason its Stripe outcome is unknown; false if it was not pending.';
grant execute on function public.payout_hold(p_payout_id uuid, p_reason text) to service_role;

-- function public.payout_mark_sent(p_payout_id uuid)
CREATE OR REPLACE FUNCTION public.payout_mark_sent(p_payout_id uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_payout public.payouts;
begin
  update public.payouts p set sent_at = coalesce(p.sent_at, pg_catalog.clock_timestamp())
   where p.id = p_payout_id and p.status = 'pending'
  returning * into v_payout;
  if not found then
    select * into v_payout from public.payouts p where p.id = p_payout_id;
    if not found then
      perform queue.raise('PT404', pg_catalog.format('no payout %s', p_payout_id), null);
    end if;
    perform queue.raise('22QY2', pg_catalog.format('payout %s is %s; only a pending payout is sent',
      p_payout_id, v_payout.status), 'prepare a new payout with payout_prepare');
  end if;
  return queue.payout_json(v_payout);
end
$function$;
comment on function public.payout_mark_sent(p_payout_id uuid) is 'Record (before the request leaves) that a pending payout''s transfer may reach Stripe from now on.';
grant execute on function public.payout_mark_sent(p_payout_id uuid) to service_role;

-- function public.payout_prepare(p_seller_id uuid, p_currency text, p_fee_bps integer, p_min_cents bigint, p_job_id uuid)
CREATE OR REPLACE FUNCTION public.payout_prepare(p_seller_id uuid, p_currency text, p_fee_bps integer, p_min_cents bigint, p_job_id uuid DEFAULT NULL::uuid)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_account public.seller_accounts;
  v_payout public.payouts;
  v_gross bigint;
  v_fee bigint;
begin
  if p_currency is null or p_currency !~ '^[a-z]{3}$' or p_fee_bps is null or p_fee_bps not between 0 and 10000
     or p_min_cents is null or p_min_cents < 1 then
    perform queue.raise('22QY1', 'payout_prepare: invalid currency, fee_bps or min_cents',
      'currency is 3 lowercase letters, fee_bps 0-10000, min_cents >= 1');
  end if;
  -- The row lock serialises payouts of one seller: no two jobs reserve the same entries.
  select * into v_account from public.seller_accounts a where a.seller_id = p_seller_id for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no seller account %s', p_seller_id),
      'insert the seller into seller_accounts with their Stripe account id');
  end if;
  select * into v_payout from public.payouts p
   where p_job_id is not null and p.job_id = p_job_id and p.seller_id = p_seller_id and p.status <> 'skipped'
   order by p.created_at desc limit 1;
  if found then
    return queue.payout_json(v_payout) || '{"resumed": true}'::jsonb;
  end if;
  select * into v_payout from public.payouts p
   where p.seller_id = p_seller_id and p.currency = p_currency and p.status = 'pending';
  if found then
    return queue.payout_json(v_payout) || '{"resumed": true}'::jsonb;
  end if;
  select coalesce(sum(e.amount_cents), 0) into v_gross from public.ledger_entries e
   where e.seller_id = p_seller_id and e.currency = p_currency and e.payout_id is null;
  v_fee := greatest(pg_catalog.div(v_gross * p_fee_bps, 10000), 0);
  if not v_account.payouts_enabled or v_gross - v_fee < p_min_cents then
    insert into public.payouts (seller_id, currency, status, gross_cents, fee_cents, amount_cents, fee_bps, reason, job_id)
    values (p_seller_id, p_currency, 'skipped', v_gross, v_fee, v_gross - v_fee, p_fee_bps,
            case when not v_account.payouts_enabled then 'payouts are disabled for this seller'
                 else pg_catalog.format('balance %s %s after a fee of %s is below the minimum of %s',
                                        v_gross - v_fee, p_currency, v_fee, p_min_cents) end, p_job_id)
    returning * into v_payout;
    return queue.payout_json(v_payout);
  end if;
  insert into public.payouts (seller_id, currency, status, gross_cents, fee_cents, amount_cents, fee_bps, job_id,
                              destination)
  values (p_seller_id, p_currency, 'pending', v_gross, v_fee, v_gross - v_fee, p_fee_bps, p_job_id,
          v_account.stripe_account_id)
  returning * into v_payout;
  update public.ledger_entries e set payout_id = v_payout.id
   where e.seller_id = p_seller_id and e.currency = p_currency and e.payout_id is null;
  return queue.payout_json(v_payout);
end
$function$;
comment on function public.payout_prepare(p_seller_id uuid, p_currency text, p_fee_bps integer, p_min_cents bigint, p_job_id uuid) is 'Start or resume the payout of a seller''s unpaid balance: returns the open payout, a new pending one (entries reserved, destination fixed), or a skipped one with the reason.';
grant execute on function public.payout_prepare(p_seller_id uuid, p_currency text, p_fee_bps integer, p_min_cents bigint, p_job_id uuid) to service_role;

-- function public.payout_settle(p_payout_id uuid, p_transfer_id text)
CREATE OR REPLACE FUNCTION public.payout_settle(p_payout_id uuid, p_transfer_id text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_payout public.payouts;
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  select * into v_payout from public.payouts p where p.id = p_payout_id for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no payout %s', p_payout_id), null);
  end if;
  if v_payout.status = 'paid' and v_payout.transfer_id = p_transfer_id then
    return queue.payout_json(v_payout) || '{"settled": false}'::jsonb;
  end if;
  if v_payout.status <> 'pending' or p_transfer_id is null then
    perform queue.raise('22QY2', pg_catalog.format('payout %s is %s (transfer %s); cannot settle with %s',
      p_payout_id, v_payout.status, v_payout.transfer_id, p_transfer_id), 'only pending payouts settle');
  end if;
  update public.payouts p set status = 'paid', transfer_id = p_transfer_id, paid_at = v_now, hold_reason = null
   where p.id = p_payout_id returning * into v_payout;
  insert into public.ledger_entries (seller_id, kind, amount_cents, currency, reference, payout_id, paid_at)
  select v_payout.seller_id, x.kind, x.amount, v_payout.currency, x.reference, v_payout.id, v_now
    from (values ('fee', -v_payout.fee_cents, 'platform fee'), ('payout', -v_payout.amount_cents, p_transfer_id))
         as x(kind, amount, reference)
   where x.amount <> 0;
  update public.ledger_entries e set paid_at = v_now where e.payout_id = p_payout_id and e.paid_at is null;
  return queue.payout_json(v_payout) || '{"settled": true}'::jsonb;
end
$function$;
comment on function public.payout_settle(p_payout_id uuid, p_transfer_id text) is 'Mark a pending payout paid with its Stripe transfer id and its entries paid, in one transaction; idempotent.';
grant execute on function public.payout_settle(p_payout_id uuid, p_transfer_id text) to service_role;

-- function public.payouts_on_hold()
CREATE OR REPLACE FUNCTION public.payouts_on_hold()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'payout_id', h.id, 'seller_id', h.seller_id, 'amount_cents', h.amount_cents, 'currency', h.currency,
           'sent_at', h.sent_at, 'reason', h.hold_reason) order by h.created_at), '[]'::jsonb)
    from (select * from public.payouts p where p.status = 'pending' and p.hold_reason is not null
           order by p.created_at limit 100) h
$function$;
comment on function public.payouts_on_hold() is 'Pending payouts held because their Stripe outcome is unknown, with the reason (for health).';
grant execute on function public.payouts_on_hold() to service_role;

-- function public.pending_jobs_by_type(p_types jsonb)
CREATE OR REPLACE FUNCTION public.pending_jobs_by_type(p_types jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_types text[];
begin
  if p_types is null then
    return '{}'::jsonb;
  end if;
  if pg_catalog.jsonb_typeof(p_types) <> 'array'
     or exists (select 1 from pg_catalog.jsonb_array_elements(p_types) e where pg_catalog.jsonb_typeof(e) <> 'string') then
    perform queue.raise('22Q01', 'p_types must be a JSON array of job type names, e.g. ["payout"]');
  end if;
  select pg_catalog.array_agg(e) into v_types from pg_catalog.jsonb_array_elements_text(p_types) e;
  return (select coalesce(pg_catalog.jsonb_object_agg(t.type, coalesce(c.n, 0)), '{}'::jsonb)
            from pg_catalog.unnest(coalesce(v_types, '{}'::text[])) as t(type)
            left join (select j.type, pg_catalog.count(*) as n
                         from public.job_queue j
                        where j.status = 'pending' and j.type = any (v_types)
                        group by j.type) c on c.type = t.type);
end
$function$;
comment on function public.pending_jobs_by_type(p_types jsonb) is 'Pending jobs per type for each of p_types ({type: n}, zeros included): health degrades an unconfigured processor only when its jobs wait.';
grant execute on function public.pending_jobs_by_type(p_types jsonb) to service_role;

-- function public.purge_finished_jobs(p_older_than interval)
CREATE OR REPLACE FUNCTION public.purge_finished_jobs(p_older_than interval DEFAULT NULL::interval)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_age interval := coalesce(p_older_than,
    pg_catalog.make_interval(days => coalesce((queue.setting('retention_days'))::text::integer, 7)));
  v_cutoff timestamptz;
  v_count integer;
begin
  if v_age < interval '0' then
    perform queue.raise('22QI1', pg_catalog.format('p_older_than must not be negative, got %s', v_age),
      'pass an interval such as ''7 days''');
  end if;
  v_cutoff := pg_catalog.now() - v_age;
  with purged as (
    delete from public.job_queue j
     where j.status in ('completed', 'cancelled') and j.finished_at < v_cutoff
    returning j.id
  ),
  history as (
    delete from public.job_status_events h where h.job_id in (select p.id from purged p)
  )
  select pg_catalog.count(*) into v_count from purged;
  delete from public.worker_runs r where r.started_at < v_cutoff;
  return v_count;
end
$function$;
comment on function public.purge_finished_jobs(p_older_than interval) is 'Delete completed/cancelled jobs finished longer ago than p_older_than (default: retention_days, 7) with their history. Raises 22QI1.';
grant execute on function public.purge_finished_jobs(p_older_than interval) to service_role;

-- function public.queue_health()
CREATE OR REPLACE FUNCTION public.queue_health()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with now_ as (select pg_catalog.clock_timestamp() as t),
  last_run as (select r.* from public.worker_runs r order by r.started_at desc limit 1)
  select pg_catalog.jsonb_build_object(
    'checked_at', (select t from now_),
    'stuck_jobs', (select pg_catalog.count(*) from public.job_queue j, now_
                    where j.status = 'running' and j.locked_until < now_.t),
    'pending_ready', (select pg_catalog.count(*) from public.job_queue j, now_
                       where j.status = 'pending' and j.run_at <= now_.t),
    'oldest_pending_age_seconds', queue.oldest_pending_age_seconds((select t from now_)),
    'dead_letters_last_1h', (select pg_catalog.count(*) from public.job_dead_letter d, now_
                              where d.failed_at > now_.t - interval '1 hour'),
    'last_worker_run', (select pg_catalog.jsonb_build_object('worker_id', l.worker_id, 'started_at', l.started_at,
                                                               'finished_at', l.finished_at, 'claimed', l.claimed,
                                                               'completed', l.completed) from last_run l),
    'seconds_since_last_worker_run', (select extract(epoch from now_.t - l.started_at)::double precision
                                        from last_run l, now_),
    'unanswered_kicks', queue.unanswered_kicks((select t from now_))
  )
$function$;
comment on function public.queue_health() is 'Stuck jobs, ready backlog, oldest pending age, dead letters in the last hour, the last worker run and the pg_net kicks nobody answered in time.';
grant execute on function public.queue_health() to service_role;

-- function public.queue_schema_versions()
CREATE OR REPLACE FUNCTION public.queue_schema_versions()
 RETURNS text[]
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$ select coalesce(pg_catalog.array_agg(m.version order by m.version), '{}') from queue.schema_migrations m $function$;
comment on function public.queue_schema_versions() is 'Versions of the migration files this database has run.';
grant execute on function public.queue_schema_versions() to service_role;

-- function public.queue_stats()
CREATE OR REPLACE FUNCTION public.queue_stats()
 RETURNS jsonb
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with now_ as (select pg_catalog.clock_timestamp() as t),
  counts as (
    select j.type, j.status::text as status, j.priority::text as priority, pg_catalog.count(*) as n
      from public.job_queue j group by 1, 2, 3
  ),
  -- Attempts that ended in the last hour. A release (running -> pending with the
  -- caller's reason) gave the attempt back, so it is neither completed nor failed.
  recent as (
    select h.to_status, h.at from public.job_status_history h, now_
     where h.at > now_.t - interval '1 hour' and h.from_status = 'running'
       and (h.to_status in ('completed', 'dead_letter')
            or (h.to_status = 'pending' and h.note in ('retry scheduled', 'lock expired')))
  ),
  runs as (
    select extract(epoch from j.finished_at - j.started_at) * 1000 as ms
      from public.job_queue j, now_
     where j.status = 'completed' and j.finished_at > now_.t - interval '1 hour'
  )
  select pg_catalog.jsonb_build_object(
    'generated_at', (select t from now_),
    'by_status', coalesce((select pg_catalog.jsonb_object_agg(s.status, s.n) from
                   (select c.status, sum(c.n) as n from counts c group by 1) s), '{}'::jsonb),
    'by_type', coalesce((select pg_catalog.jsonb_object_agg(s.type, s.statuses) from
                   (select c.type, pg_catalog.jsonb_object_agg(c.status, c.n) as statuses
                      from (select type, status, sum(n) as n from counts group by 1, 2) c group by 1) s), '{}'::jsonb),
    'by_priority', coalesce((select pg_catalog.jsonb_object_agg(s.priority, s.n) from
                   (select c.priority, sum(c.n) as n from counts c where c.status in ('pending', 'running') group by 1) s), '{}'::jsonb),
    'dead_letter_count', (select pg_catalog.count(*) from public.job_dead_letter),
    'oldest_pending_age_seconds', queue.oldest_pending_age_seconds((select t from now_)),
    'completed_last_5m', (select pg_catalog.count(*) from recent r, now_ where r.to_status = 'completed' and r.at > now_.t - interval '5 minutes'),
    'completed_last_1h', (select pg_catalog.count(*) from recent r where r.to_status = 'completed'),
    'failed_last_5m', (select pg_catalog.count(*) from recent r, now_ where r.to_status in ('pending', 'dead_letter') and r.at > now_.t - interval '5 minutes'),
    'failed_last_1h', (select pg_catalog.count(*) from recent r where r.to_status in ('pending', 'dead_letter')),
    'run_time_p50_ms', (select pg_catalog.percentile_cont(0.5) within group (order by ms) from runs),
    'run_time_p95_ms', (select pg_catalog.percentile_cont(0.95) within group (order by ms) from runs)
  )
$function$;
comment on function public.queue_stats() is 'Counts by status, type and priority; dead letters; oldest pending age; completed/failed in the last 5 min and hour; p50/p95 run time (last hour).';
grant execute on function public.queue_stats() to service_role;

-- function public.release_jobs(p_jobs jsonb, p_worker_id text)
CREATE OR REPLACE FUNCTION public.release_jobs(p_jobs jsonb, p_worker_id text DEFAULT NULL::text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
  v_ids uuid[];
  v_by_id jsonb;
begin
  select s.ids, s.by_id into v_ids, v_by_id
    from queue.settle_input(p_jobs, '{"id", "retry_after_seconds", "reason", "checkpoint"}') s;
  perform queue.check_settle_options(p_jobs);
  perform queue.require_worker_id(p_worker_id);
  return query
  with released as (
    update public.job_queue j
       set status = 'pending', attempts = greatest(j.attempts - 1, 0),
           result = coalesce(v_by_id -> (j.id::text) -> 'checkpoint', j.result),
           run_at = v_now + pg_catalog.make_interval(
                      secs => coalesce((v_by_id -> (j.id::text) ->> 'retry_after_seconds')::integer, 0)),
           locked_by = null, locked_until = null, updated_at = v_now
     where j.id = any (v_ids) and j.status = 'running'
       and j.locked_by = p_worker_id
    returning j.id, coalesce(v_by_id -> (j.id::text) ->> 'reason', 'released') as reason, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select r.id, 'pending', 'running', r.claimed_by, null, r.started_at from released r
    union all
    select r.id, 'running', 'pending', p_worker_id, r.reason, pg_catalog.now() from released r
  )
  select r.id from released r;
end
$function$;
comment on function public.release_jobs(p_jobs jsonb, p_worker_id text) is 'Return running jobs [{id, retry_after_seconds, reason, checkpoint}] to pending after retry_after_seconds without counting the attempt (rate limit, open circuit, shutdown, continue later). A checkpoint is saved into result. Only jobs locked by p_worker_id (required, 22QW1).';
grant execute on function public.release_jobs(p_jobs jsonb, p_worker_id text) to service_role;

-- function public.release_unstarted_jobs(p_worker_id text, p_started uuid[], p_reason text)
CREATE OR REPLACE FUNCTION public.release_unstarted_jobs(p_worker_id text, p_started uuid[] DEFAULT '{}'::uuid[], p_reason text DEFAULT 'not started: the invocation failed'::text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  if p_worker_id is null or pg_catalog.length(p_worker_id) = 0 or pg_catalog.length(p_worker_id) > 200 then
    perform queue.raise('22QW1', 'p_worker_id must be a non-empty text of at most 200 characters',
      'pass the id the invocation claimed with');
  end if;
  return query
  with released as (
    update public.job_queue j
       set status = 'pending', attempts = greatest(j.attempts - 1, 0), run_at = v_now,
           locked_by = null, locked_until = null, updated_at = v_now
     where j.status = 'running' and j.locked_by = p_worker_id
       and j.id <> all (coalesce(p_started, '{}'))
    returning j.id, j.started_at, j.claimed_by
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select r.id, 'pending', 'running', r.claimed_by, null, r.started_at from released r
    union all
    select r.id, 'running', 'pending', p_worker_id,
           coalesce(p_reason, 'not started: the invocation failed'), v_now
      from released r
  )
  select r.id from released r;
end
$function$;
comment on function public.release_unstarted_jobs(p_worker_id text, p_started uuid[], p_reason text) is 'After a failed invocation: return every job running under p_worker_id and not in p_started to pending, due now, without counting the attempt; returns the ids released. Raises 22QW1 bad worker id.';
grant execute on function public.release_unstarted_jobs(p_worker_id text, p_started uuid[], p_reason text) to service_role;

-- function public.retry_dead_letter_job(p_id uuid)
CREATE OR REPLACE FUNCTION public.retry_dead_letter_job(p_id uuid)
 RETURNS uuid
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_letter public.job_dead_letter;
  v_id uuid;
begin
  select * into v_letter from public.job_dead_letter d where d.id = p_id for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no dead letter with id %s', p_id),
      'list them with select id, job_id, type, last_error from job_dead_letter order by failed_at desc');
  end if;
  if v_letter.replayed_job_id is not null then
    return v_letter.replayed_job_id;
  end if;
  loop
    with inserted as (
      insert into public.job_queue (type, payload, priority, max_attempts, idempotency_key, rate_limit_key, owner_id, errors)
      values (v_letter.type, v_letter.payload, v_letter.priority, v_letter.max_attempts,
              v_letter.idempotency_key, v_letter.rate_limit_key, v_letter.owner_id, '[]'::jsonb)
      on conflict (type, idempotency_key) where idempotency_key is not null do nothing
      returning id
    ),
    history as (
      insert into public.job_status_events (job_id, from_status, to_status, note)
      select i.id, null, 'pending', pg_catalog.format('replay of dead letter %s (job %s)', p_id, v_letter.job_id)
        from inserted i
    )
    select i.id into v_id from inserted i;
    exit when v_id is not null;
    -- A job in the queue holds the key (one made before keys outlived the queue):
    -- it is the same work, so it stands for the replay. If it vanished meanwhile
    -- (purged), insert again.
    select j.id into v_id from public.job_queue j
     where j.type = v_letter.type and j.idempotency_key = v_letter.idempotency_key;
    exit when v_id is not null;
  end loop;
  update public.job_dead_letter d set replayed_job_id = v_id, replayed_at = pg_catalog.now() where d.id = p_id;
  return v_id;
end
$function$;
comment on function public.retry_dead_letter_job(p_id uuid) is 'Replay a dead letter as a new pending job with attempts 0 and the letter''s idempotency key; returns its id (the same id if already replayed, or the job that already holds the key). Raises PT404.';
grant execute on function public.retry_dead_letter_job(p_id uuid) to service_role;

-- function public.schedule_worker_tick(p_every text)
CREATE OR REPLACE FUNCTION public.schedule_worker_tick(p_every text DEFAULT '30 seconds'::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_cron text := (select e.extversion from pg_catalog.pg_extension e where e.extname = 'pg_cron');
  v_seconds integer := (pg_catalog.regexp_match(coalesce(p_every, ''), '^\s*([0-9]{1,2}) seconds?\s*$'))[1]::integer;
  v_id bigint;
begin
  if v_seconds is not null and (v_seconds < 1 or v_seconds > 59) then
    perform queue.raise('22QK2', pg_catalog.format('a tick of %s seconds is out of range', v_seconds),
                        'use ''1 seconds'' to ''59 seconds'', or a cron expression such as ''* * * * *''');
  end if;
  if v_seconds is null and coalesce(pg_catalog.array_length(pg_catalog.regexp_split_to_array(pg_catalog.btrim(p_every), '\s+'), 1), 0) <> 5 then
    perform queue.raise('22QK2', pg_catalog.format('tick schedule %L is neither ''N seconds'' nor a 5-field cron expression', p_every),
                        'use ''1 seconds'' to ''59 seconds'' (pg_cron 1.5+) or a cron expression such as ''* * * * *''');
  end if;
  if v_cron is null then
    perform queue.raise('22QK2', 'pg_cron is not installed in this database',
                        'install pg_cron (see README "Without pg_cron") and run 20260104000200_pg_cron_setup.sql again');
  end if;
  if v_seconds is not null and pg_catalog.string_to_array(pg_catalog.split_part(v_cron, '-', 1), '.')::integer[] < array[1, 5] then
    perform queue.raise('22QK2', pg_catalog.format('pg_cron %s cannot schedule in seconds', v_cron),
                        'seconds need pg_cron 1.5 or later; use a cron expression such as ''* * * * *''');
  end if;
  if pg_catalog.to_regnamespace('net') is null then
    perform queue.raise('22QK2', 'pg_net is not installed: the tick has nothing to POST through',
                        'install pg_net and set worker_url (deploy/supabase/configure.sql), or tick from your own scheduler');
  end if;
  -- cron.* exists only with pg_cron, checked above; plpgsql_check would resolve it regardless.
  perform 'PRAGMA:disable:check';
  execute 'select cron.schedule($1, $2, $3)' into v_id
    using 'queue-trigger-worker', pg_catalog.btrim(p_every), 'select public.trigger_queue_worker()';
  return v_id;
end
$function$;
comment on function public.schedule_worker_tick(p_every text) is 'Schedule queue-trigger-worker (pg_cron) at ''N seconds'' (1-59, pg_cron 1.5+) or a cron expression; returns the job id. 22QK2 on a bad schedule or without pg_cron/pg_net.';
grant execute on function public.schedule_worker_tick(p_every text) to service_role;

-- function public.set_job_schedule(p_name text, p_cron text, p_type text, p_payload jsonb, p_priority text, p_enabled boolean)
CREATE OR REPLACE FUNCTION public.set_job_schedule(p_name text, p_cron text, p_type text, p_payload jsonb DEFAULT '{}'::jsonb, p_priority text DEFAULT 'normal'::text, p_enabled boolean DEFAULT true)
 RETURNS public.job_schedules
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_row public.job_schedules;
begin
  perform queue.validate_job(p_type, p_payload, p_priority, null, null);
  perform queue.cron_parse(p_cron);
  insert into public.job_schedules as s (name, cron, type, payload, priority, enabled)
  values (p_name, p_cron, p_type, coalesce(p_payload, '{}'::jsonb), p_priority::public.job_priority, p_enabled)
  on conflict (name) do update
     set cron = excluded.cron, type = excluded.type, payload = excluded.payload,
         priority = excluded.priority, enabled = excluded.enabled
  returning * into v_row;
  return v_row;
end
$function$;
comment on function public.set_job_schedule(p_name text, p_cron text, p_type text, p_payload jsonb, p_priority text, p_enabled boolean) is 'Create or replace a recurring job schedule (cron in UTC). Raises 22QC1 bad cron, 22QT1/22QP1/22QJ1 bad job.';
grant execute on function public.set_job_schedule(p_name text, p_cron text, p_type text, p_payload jsonb, p_priority text, p_enabled boolean) to service_role;

-- function public.trigger_queue_worker(p_action text, p_type text, p_batch integer)
CREATE OR REPLACE FUNCTION public.trigger_queue_worker(p_action text DEFAULT 'process'::text, p_type text DEFAULT NULL::text, p_batch integer DEFAULT NULL::integer)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_url text := queue.setting('worker_url') #>> '{}';
  v_secret text := queue.setting('worker_secret') #>> '{}';
  v_id bigint;
begin
  if p_action is null or p_action not in ('process', 'health', 'stats') then
    perform queue.raise('22QX1', pg_catalog.format('unknown action %L', p_action), 'use process, health or stats');
  end if;
  if p_batch is not null and (p_batch < 1 or p_batch > 1000) then
    perform queue.raise('22QB1', pg_catalog.format('p_batch must be between 1 and 1000, got %s', p_batch), 'pass null for the default (10)');
  end if;
  if v_url is null or v_url = '' then
    raise notice 'trigger_queue_worker: no worker_url in queue.settings; nothing sent';
    return null;
  end if;
  if pg_catalog.to_regnamespace('net') is null then
    raise notice 'trigger_queue_worker: pg_net is not installed; nothing sent';
    return null;
  end if;
  if pg_catalog.to_regclass('vault.decrypted_secrets') is not null then
    -- plpgsql_check (supabase db lint) resolves this constant query and reports
    -- vault.decrypted_secrets missing wherever Supabase Vault is not installed; the
    -- to_regclass guard above is what keeps it from running there, so skip the check.
    perform 'PRAGMA:disable:check';
    execute 'select decrypted_secret from vault.decrypted_secrets where name = $1'
      into v_secret using 'queue_worker_secret';
    v_secret := coalesce(v_secret, queue.setting('worker_secret') #>> '{}');
  end if;
  -- The same for net.http_post: pg_net is optional and checked for above.
  perform 'PRAGMA:disable:check';
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    into v_id
    using queue.worker_trigger_url(v_url, p_action, p_type, p_batch),
          '{}'::jsonb,
          pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'Content-Type', 'application/json',
            'Authorization', case when v_secret is not null then 'Bearer ' || v_secret end)),
          55000;
  return v_id;
end
$function$;
comment on function public.trigger_queue_worker(p_action text, p_type text, p_batch integer) is 'POST ?action=p_action[&type][&batch] (percent-encoded) to the configured worker URL through pg_net; null when not configured.';
grant execute on function public.trigger_queue_worker(p_action text, p_type text, p_batch integer) to service_role;

-- function public.update_job_progress(p_job_id uuid, p_progress integer, p_message text, p_worker_id text)
CREATE OR REPLACE FUNCTION public.update_job_progress(p_job_id uuid, p_progress integer, p_message text DEFAULT NULL::text, p_worker_id text DEFAULT NULL::text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  if p_progress is null or p_progress < 0 or p_progress > 100 then
    perform queue.raise('22QG1', pg_catalog.format('progress must be between 0 and 100, got %s', coalesce(p_progress::text, 'null')),
      'report a percentage');
  end if;
  perform queue.require_worker_id(p_worker_id);
  update public.job_queue j
     set progress = p_progress,
         progress_message = coalesce(p_message, j.progress_message),
         locked_until = pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => j.lock_seconds),
         updated_at = pg_catalog.clock_timestamp()
   where j.id = p_job_id and j.status = 'running' and j.locked_by = p_worker_id;
  return found;
end
$function$;
comment on function public.update_job_progress(p_job_id uuid, p_progress integer, p_message text, p_worker_id text) is 'Set progress (0-100) and message of a running job locked by p_worker_id and extend its lock; false if it lost the job. Raises 22QG1, and 22QW1 without a worker id.';
grant execute on function public.update_job_progress(p_job_id uuid, p_progress integer, p_message text, p_worker_id text) to service_role;

-- function public.worker_run_finish(p_worker_id text, p_counts jsonb)
CREATE OR REPLACE FUNCTION public.worker_run_finish(p_worker_id text, p_counts jsonb DEFAULT '{}'::jsonb)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  insert into public.worker_runs (worker_id, finished_at, claimed, completed, retried, dead_lettered, released, lease_lost)
  values (p_worker_id, pg_catalog.clock_timestamp(),
          coalesce((p_counts ->> 'claimed')::integer, 0), coalesce((p_counts ->> 'completed')::integer, 0),
          coalesce((p_counts ->> 'retried')::integer, 0), coalesce((p_counts ->> 'dead_lettered')::integer, 0),
          coalesce((p_counts ->> 'released')::integer, 0), coalesce((p_counts ->> 'lease_lost')::integer, 0))
  on conflict (worker_id) do update
     set finished_at = excluded.finished_at, claimed = excluded.claimed, completed = excluded.completed,
         retried = excluded.retried, dead_lettered = excluded.dead_lettered,
         released = excluded.released, lease_lost = excluded.lease_lost
$function$;
comment on function public.worker_run_finish(p_worker_id text, p_counts jsonb) is 'Record the end of a worker invocation and its counts.';
grant execute on function public.worker_run_finish(p_worker_id text, p_counts jsonb) to service_role;

-- function public.worker_run_start(p_worker_id text, p_meta jsonb)
CREATE OR REPLACE FUNCTION public.worker_run_start(p_worker_id text, p_meta jsonb DEFAULT '{}'::jsonb)
 RETURNS void
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  with started as (
    insert into public.worker_runs (worker_id, meta) values (p_worker_id, coalesce(p_meta, '{}'::jsonb))
    on conflict (worker_id) do nothing
    returning worker_id, meta
  ),
  types as (
    select case when pg_catalog.jsonb_typeof(s.meta -> 'types') = 'array'
                then array(select pg_catalog.jsonb_array_elements_text(s.meta -> 'types')) end as names
      from started s
  )
  update public.job_kicks k
     set answered_at = pg_catalog.clock_timestamp(), answered_by = p_worker_id
    from types
   where k.answered_at is null
     and k.kicked_at > pg_catalog.now() - interval '1 hour'
     and (types.names is null
          or k.kick_group in (select t.kick_group from public.job_types t where t.name = any (types.names)))
$function$;
comment on function public.worker_run_start(p_worker_id text, p_meta jsonb) is 'Record the start of a worker invocation and answer the unanswered kicks (last hour) of the groups of its types (all when p_meta has no types).';
grant execute on function public.worker_run_start(p_worker_id text, p_meta jsonb) to service_role;

-- schema queue
create schema queue;

-- table queue.dead_letters_waiting
create table queue.dead_letters_waiting (
    type text not null,
    waiting bigint not null default 0
);
alter table queue.dead_letters_waiting add constraint dead_letters_waiting_pkey PRIMARY KEY (type);

-- table queue.job_totals
create table queue.job_totals (
    type text not null,
    completed bigint not null default 0,
    failed bigint not null default 0,
    dead_lettered bigint not null default 0,
    run_ms_buckets bigint[] not null default array_fill((0)::bigint, ARRAY[56]),
    run_seconds_sum double precision not null default 0
);
alter table queue.job_totals add constraint job_totals_completed_check CHECK ((completed >= 0));
alter table queue.job_totals add constraint job_totals_dead_lettered_check CHECK ((dead_lettered >= 0));
alter table queue.job_totals add constraint job_totals_failed_check CHECK ((failed >= 0));
alter table queue.job_totals add constraint job_totals_pkey PRIMARY KEY (type);
alter table queue.job_totals add constraint job_totals_run_ms_buckets_check CHECK ((cardinality(run_ms_buckets) = 56));
alter table queue.job_totals add constraint job_totals_run_seconds_sum_check CHECK ((run_seconds_sum >= (0)::double precision));
comment on table queue.job_totals is 'Per type, since recording began: completed, failed attempts, dead letters, run-time histogram (queue.run_ms_bucket buckets) and run-time sum (s). Only grows; added to by queue.add_minute_stats.';

-- table queue.minute_stats_watermark
create table queue.minute_stats_watermark (
    singleton boolean not null default true,
    recorded_through timestamp with time zone
);
alter table queue.minute_stats_watermark add constraint minute_stats_watermark_pkey PRIMARY KEY (singleton);
alter table queue.minute_stats_watermark add constraint minute_stats_watermark_singleton_check CHECK (singleton);

-- table queue.schema_migrations
create table queue.schema_migrations (
    version text not null,
    applied_at timestamp with time zone not null default now()
);
alter table queue.schema_migrations add constraint schema_migrations_pkey PRIMARY KEY (version);

-- table queue.settings
create table queue.settings (
    key text not null,
    value jsonb not null,
    description text not null default ''::text
);
alter table queue.settings add constraint settings_health_values CHECK (
CASE
    WHEN (key !~~ 'health\_%'::text) THEN true
    WHEN (jsonb_typeof(value) <> 'number'::text) THEN false
    WHEN (key = 'health_critical_factor'::text) THEN ((value)::numeric > (1)::numeric)
    WHEN (key = 'health_dead_tuple_ratio_max'::text) THEN (((value)::numeric >= (0)::numeric) AND ((value)::numeric <= (1)::numeric))
    ELSE ((value)::numeric >= (0)::numeric)
END);
alter table queue.settings add constraint settings_kick_values CHECK (
CASE
    WHEN (key = 'kick_window_ms'::text) THEN
    CASE
        WHEN (jsonb_typeof(value) = 'number'::text) THEN ((((value)::numeric >= (0)::numeric) AND ((value)::numeric <= (60000)::numeric)) AND ((value)::numeric = trunc((value)::numeric)))
        ELSE false
    END
    WHEN (key = 'kick_answer_seconds'::text) THEN
    CASE
        WHEN (jsonb_typeof(value) = 'number'::text) THEN ((((value)::numeric >= (1)::numeric) AND ((value)::numeric <= (3600)::numeric)) AND ((value)::numeric = trunc((value)::numeric)))
        ELSE false
    END
    WHEN (key = 'kick_http'::text) THEN (jsonb_typeof(value) = 'boolean'::text)
    ELSE true
END);
alter table queue.settings add constraint settings_pkey PRIMARY KEY (key);

-- function queue.add_minute_stats(p_from timestamp with time zone, p_through timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.add_minute_stats(p_from timestamp with time zone, p_through timestamp with time zone)
 RETURNS integer
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  with done as (
    select date_trunc('minute', j.finished_at) as minute, j.type,
           extract(epoch from j.finished_at - j.started_at)::double precision as seconds
      from public.job_queue j
     where j.finished_at > p_from and j.finished_at <= p_through and j.status = 'completed'
  ),
  completed as (
    select h.minute, h.type, pg_catalog.sum(h.n)::integer as n,
           array(select coalesce((pg_catalog.jsonb_object_agg(h.bucket, h.n) ->> b::text)::integer, 0)
                   from pg_catalog.generate_series(0, 55) b) as buckets
      from (select d.minute, d.type, queue.run_ms_bucket(d.seconds * 1000) as bucket, pg_catalog.count(*) as n
              from done d group by 1, 2, 3) h
     group by 1, 2
  ),
  run_sums as (
    select d.type, pg_catalog.sum(greatest(d.seconds, 0)) as seconds from done d group by 1
  ),
  retried as (
    select date_trunc('minute', e.at) as minute,
           coalesce((select j.type from public.job_queue j where j.id = e.job_id),
                    (select d.type from public.job_dead_letter d where d.job_id = e.job_id limit 1)) as type,
           pg_catalog.count(*)::integer as n
      from public.job_status_events e
     where e.at > p_from and e.at <= p_through and e.from_status = 'running' and e.to_status = 'pending'
       and e.note in ('retry scheduled', 'lock expired')
     group by 1, 2
  ),
  dead as (
    select date_trunc('minute', d.failed_at) as minute, d.type, pg_catalog.count(*)::integer as n
      from public.job_dead_letter d
     where d.failed_at > p_from and d.failed_at <= p_through
     group by 1, 2
  ),
  keys as (
    select minute, type from completed union select minute, type from retried where type is not null
    union select minute, type from dead
  ),
  rows_ as (
    select k.minute, k.type, coalesce(c.n, 0) as completed, coalesce(r.n, 0) + coalesce(d.n, 0) as failed,
           coalesce(d.n, 0) as dead_lettered, coalesce(c.buckets, pg_catalog.array_fill(0, array[56])) as buckets
      from keys k
      left join completed c on c.minute = k.minute and c.type = k.type
      left join retried r on r.minute = k.minute and r.type = k.type
      left join dead d on d.minute = k.minute and d.type = k.type
  ),
  added as (
    insert into public.job_minute_stats as s (minute, type, completed, failed, dead_lettered, run_ms_buckets)
    select x.minute, x.type, x.completed, x.failed, x.dead_lettered, x.buckets from rows_ x
    on conflict (minute, type) do update
       set completed = s.completed + excluded.completed, failed = s.failed + excluded.failed,
           dead_lettered = s.dead_lettered + excluded.dead_lettered,
           run_ms_buckets = queue.int_arrays_add(s.run_ms_buckets, excluded.run_ms_buckets)
    returning 1
  ),
  totals as (
    insert into queue.job_totals as t (type, completed, failed, dead_lettered, run_ms_buckets, run_seconds_sum)
    select x.type, pg_catalog.sum(x.completed), pg_catalog.sum(x.failed), pg_catalog.sum(x.dead_lettered),
           queue.histograms_sum(pg_catalog.array_agg(x.buckets))::bigint[],
           coalesce(pg_catalog.max(rs.seconds), 0)
      from rows_ x left join run_sums rs on rs.type = x.type
     group by x.type
     order by x.type
    on conflict (type) do update
       set completed = t.completed + excluded.completed, failed = t.failed + excluded.failed,
           dead_lettered = t.dead_lettered + excluded.dead_lettered,
           run_ms_buckets = queue.histogram_add(t.run_ms_buckets, excluded.run_ms_buckets),
           run_seconds_sum = t.run_seconds_sum + excluded.run_seconds_sum
  )
  select pg_catalog.count(*)::integer from added
$function$;
comment on function queue.add_minute_stats(p_from timestamp with time zone, p_through timestamp with time zone) is 'Add to job_minute_stats and queue.job_totals what completed, was retried or dead-lettered in (p_from, p_through]; returns the job_minute_stats rows touched. Callers hold the watermark.';

-- function queue.analytics_marketplace_rows(p_lo timestamp with time zone, p_hi timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.analytics_marketplace_rows(p_lo timestamp with time zone, p_hi timestamp with time zone)
 RETURNS TABLE(metric text, dimension text, value numeric)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
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
$function$;
comment on function queue.analytics_marketplace_rows(p_lo timestamp with time zone, p_hi timestamp with time zone) is 'Sales, refunds, payouts and platform fees (integer cents) per currency the ledger knows; 0 on a quiet day.';

-- function queue.analytics_queue_rows(p_lo timestamp with time zone, p_hi timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.analytics_queue_rows(p_lo timestamp with time zone, p_hi timestamp with time zone)
 RETURNS TABLE(metric text, dimension text, value numeric)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
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
$function$;
comment on function queue.analytics_queue_rows(p_lo timestamp with time zone, p_hi timestamp with time zone) is 'Queue metrics of a time range per job type and in total (''''); the totals are 0 on an empty day.';

-- function queue.analytics_user_rows(p_lo timestamp with time zone, p_hi timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.analytics_user_rows(p_lo timestamp with time zone, p_hi timestamp with time zone)
 RETURNS TABLE(metric text, dimension text, value numeric)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  if pg_catalog.to_regclass('auth.users') is null then
    return;
  end if;
  -- Dynamic so this function is valid where auth.users does not exist.
  perform 'PRAGMA:disable:check';
  return query execute
    'select x.metric, '''', x.value from (select
        count(*) filter (where u.created_at >= $1 and u.created_at < $2)::numeric as new_,
        count(*) filter (where u.created_at < $2)::numeric as total
       from auth.users u) s,
     lateral (values (''users_new'', s.new_), (''users_total'', s.total)) as x(metric, value)'
    using p_lo, p_hi;
end
$function$;
comment on function queue.analytics_user_rows(p_lo timestamp with time zone, p_hi timestamp with time zone) is 'users_new and users_total from auth.users; no rows when auth.users does not exist.';

-- function queue.breaker_json(b public.circuit_breakers, p_allowed boolean, p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.breaker_json(b public.circuit_breakers, p_allowed boolean, p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select pg_catalog.jsonb_build_object(
    'provider', b.provider, 'allowed', p_allowed, 'state', b.state,
    'consecutive_failures', b.consecutive_failures, 'open_until', b.open_until,
    'retry_after_seconds', case when p_allowed then 0
                                else greatest(ceil(extract(epoch from b.open_until - p_now)), 1) end,
    'last_error', b.last_error)
$function$;
comment on function queue.breaker_json(b public.circuit_breakers, p_allowed boolean, p_now timestamp with time zone) is 'A breaker row as jsonb, with whether the caller may proceed and how long it should wait if not.';

-- function queue.caller_is_client()
CREATE OR REPLACE FUNCTION queue.caller_is_client()
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_role text := queue.caller_role();
begin
  return not coalesce((
    select r.rolsuper
        or pg_catalog.pg_has_role(r.oid, 'service_role', 'MEMBER')
        or pg_catalog.pg_has_role(r.oid, n.nspowner, 'MEMBER')
      from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
     where r.rolname = v_role and n.nspname = 'queue'), false);
end
$function$;
comment on function queue.caller_is_client() is 'True unless the caller is service_role, a superuser, the queue schema''s owner, or a member of either of those roles.';

-- function queue.caller_is_signed_in()
CREATE OR REPLACE FUNCTION queue.caller_is_signed_in()
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_role text := queue.caller_role();
begin
  return auth.uid() is not null
     and (pg_catalog.pg_has_role(v_role, 'authenticated', 'MEMBER') or not pg_catalog.pg_has_role(v_role, 'anon', 'MEMBER'));
end
$function$;
comment on function queue.caller_is_signed_in() is 'True when the caller carries a user id (auth.uid()) and is not merely anonymous (a member of anon only).';

-- function queue.caller_role()
CREATE OR REPLACE FUNCTION queue.caller_role()
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(nullif(pg_catalog.current_setting('role', true), 'none'), session_user::text)
$function$;
comment on function queue.caller_role() is 'The role the caller runs as (SET ROLE value, else session user); used by security definer functions.';

-- function queue.cancel_dependents(p_ids uuid[], p_reason text)
CREATE OR REPLACE FUNCTION queue.cancel_dependents(p_ids uuid[], p_reason text)
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_count integer;
begin
  if p_ids is null or pg_catalog.cardinality(p_ids) = 0 then
    return 0;
  end if;
  -- root: the job in p_ids the chain starts from; cause: the direct dependency.
  with recursive dependents(id, cause, root) as (
    select j.id, c.root, c.root
      from pg_catalog.unnest(p_ids) as c(root)
      join public.job_queue j on j.depends_on @> array[c.root] and j.status = 'pending'
    union
    select j.id, d.id, d.root
      from dependents d
      join public.job_queue j on j.depends_on @> array[d.id] and j.status = 'pending'
  ),
  cancelled as (
    update public.job_queue j
       set status = 'cancelled', finished_at = pg_catalog.now(), updated_at = pg_catalog.now(),
           last_error = case when d.cause = d.root then pg_catalog.format('dependency %s %s', d.root, p_reason)
                             else pg_catalog.format('dependency %s was cancelled because dependency %s %s',
                                                    d.cause, d.root, p_reason) end
      from (select distinct on (x.id) x.id, x.cause, x.root from dependents x order by x.id, x.cause = x.root desc) d
     where j.id = d.id and j.status = 'pending'
    returning j.id, j.last_error
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, note)
    select c.id, 'pending', 'cancelled', c.last_error from cancelled c
  )
  select pg_catalog.count(*) into v_count from cancelled;
  return v_count;
end
$function$;
comment on function queue.cancel_dependents(p_ids uuid[], p_reason text) is 'Cancel pending jobs that depend, directly or through others, on any of p_ids; returns how many.';

-- function queue.check_client_job(p_type text, p_priority text, p_max_attempts integer)
CREATE OR REPLACE FUNCTION queue.check_client_job(p_type text, p_priority text, p_max_attempts integer)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_attempts integer;
begin
  if not queue.caller_is_client() then
    return;
  end if;
  if p_priority::public.job_priority > 'normal' then
    perform queue.raise('42501', pg_catalog.format('clients may enqueue at priority normal or low, not %s', p_priority),
      'leave the priority out (normal) or pass low; higher priorities are for the server');
  end if;
  select t.max_attempts into v_attempts from public.job_types t where t.name = p_type;
  if p_max_attempts > v_attempts then
    perform queue.raise('42501',
      pg_catalog.format('clients may ask for at most %s attempts of %L jobs, not %s', v_attempts, p_type, p_max_attempts),
      pg_catalog.format('leave max_attempts null to get the type''s %s, or pass fewer', v_attempts));
  end if;
end
$function$;
comment on function queue.check_client_job(p_type text, p_priority text, p_max_attempts integer) is 'For clients: raise 42501 for a priority above normal or max_attempts above the type''s default; the server passes.';

-- function queue.check_client_quota(p_types text[])
CREATE OR REPLACE FUNCTION queue.check_client_quota(p_types text[])
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_over record;
begin
  if not queue.caller_is_client() then
    return;
  end if;
  select t.name, t.client_pending_limit as cap into v_over
    from public.job_types t
   where t.name = any (p_types) and t.client_pending_limit is not null
     and (select pg_catalog.count(*) from public.job_queue j
           where j.owner_id = auth.uid() and j.type = t.name and j.status = 'pending') > t.client_pending_limit
   order by t.name limit 1;
  if found then
    perform queue.raise('PT429',
      pg_catalog.format('this would give you more than %s pending %L jobs, the most one user may have', v_over.cap, v_over.name),
      'wait until some of them have run, then enqueue again; the cap is job_types.client_pending_limit');
  end if;
end
$function$;
comment on function queue.check_client_quota(p_types text[]) is 'For clients: raise PT429 if the user now has more pending jobs of one of p_types than its client_pending_limit.';

-- function queue.check_enqueue_allowed(p_type text, p_owner_id uuid)
CREATE OR REPLACE FUNCTION queue.check_enqueue_allowed(p_type text, p_owner_id uuid)
 RETURNS uuid
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_uid uuid := auth.uid();
begin
  if not queue.caller_is_client() then
    return coalesce(p_owner_id, v_uid);
  end if;
  if not queue.caller_is_signed_in() then
    perform queue.raise('42501', 'only signed-in users may enqueue jobs', 'sign in, or enqueue from the server with the service role');
  end if;
  if not exists (select 1 from public.job_types t where t.name = p_type and t.client_enqueueable) then
    perform queue.raise('42501',
      pg_catalog.format('job type %L cannot be enqueued by clients', p_type),
      'enqueue it from the server with the service role, or set job_types.client_enqueueable for it');
  end if;
  if p_owner_id is not null and p_owner_id <> v_uid then
    perform queue.raise('42501', 'clients can only enqueue jobs they own', 'leave p_owner_id null; it defaults to auth.uid()');
  end if;
  return v_uid;
end
$function$;
comment on function queue.check_enqueue_allowed(p_type text, p_owner_id uuid) is 'Raise 42501 unless the caller may enqueue p_type for p_owner_id; returns the owner to store (clients: auth.uid()).';

-- function queue.check_enqueue_batch(p_jobs jsonb)
CREATE OR REPLACE FUNCTION queue.check_enqueue_batch(p_jobs jsonb)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_client boolean := queue.caller_is_client();
  v_one boolean;
  v_e record;
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', 'p_jobs must be a JSON array of job objects',
      'pass [{"type": "email", "payload": {...}}, ...]');
  end if;
  if pg_catalog.jsonb_array_length(p_jobs) > 10000 then
    perform queue.raise('22QB2', pg_catalog.format('p_jobs has %s elements; at most 10000 per call', pg_catalog.jsonb_array_length(p_jobs)),
      'split the batch');
  end if;
  if not v_client and queue.enqueue_batch_is_plainly_valid(p_jobs) then
    return;
  end if;
  v_one := pg_catalog.jsonb_array_length(p_jobs) = 1;
  for v_e in select e.value, case when v_one then null else e.n end as n
               from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, n) loop
    if pg_catalog.jsonb_typeof(v_e.value) <> 'object' then
      perform queue.raise('22QJ3', case when v_one then 'the job must be a JSON object'
                                        else pg_catalog.format('p_jobs element %s is not an object', v_e.n) end,
        'each element is {"type": ..., "payload": {...}, ...}');
    end if;
    if v_client then
      perform queue.check_enqueue_element(v_e.value, v_e.n, true, true);
    end if;
  end loop;
  for v_e in select e.value, case when v_one then null else e.n end as n
               from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as e(value, n) loop
    if pg_catalog.jsonb_typeof(v_e.value -> 'depends_on') not in ('array', 'null') then
      perform queue.raise('22QJ3', queue.enqueue_element_message(v_e.n, 'depends_on must be an array of job ids'),
        'pass "depends_on": ["<job uuid>", ...] or leave it out');
    end if;
    perform queue.check_enqueue_element(v_e.value, v_e.n, false, v_client);
  end loop;
end
$function$;
comment on function queue.check_enqueue_batch(p_jobs jsonb) is 'Check an enqueue_jobs batch: shape, then (unless queue.enqueue_batch_is_plainly_valid says it is clean) every element''s permission, then every element''s validity. Errors name the element, except in a batch of one job.';

-- function queue.check_enqueue_element(p_job jsonb, p_n bigint, p_permission boolean, p_client boolean)
CREATE OR REPLACE FUNCTION queue.check_enqueue_element(p_job jsonb, p_n bigint, p_permission boolean, p_client boolean)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_state text;
  v_msg text;
  v_hint text;
begin
  if p_permission then
    perform queue.check_enqueue_allowed(p_job ->> 'type', (p_job ->> 'owner_id')::uuid);
  else
    perform queue.validate_job(p_job ->> 'type', coalesce(p_job -> 'payload', '{}'::jsonb),
      coalesce(p_job ->> 'priority', 'normal'), (p_job ->> 'max_attempts')::integer,
      (select pg_catalog.array_agg(d::uuid) from pg_catalog.jsonb_array_elements_text(
         case when pg_catalog.jsonb_typeof(p_job -> 'depends_on') = 'array' then p_job -> 'depends_on' else '[]'::jsonb end) d));
    perform (p_job ->> 'owner_id')::uuid;  -- a uuid, or 22P02
    if p_client then
      perform queue.check_client_job(p_job ->> 'type', coalesce(p_job ->> 'priority', 'normal'), (p_job ->> 'max_attempts')::integer);
    end if;
  end if;
exception when others then
  get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text, v_hint = pg_exception_hint;
  perform queue.raise(v_state, queue.enqueue_element_message(p_n, v_msg), v_hint);
end
$function$;
comment on function queue.check_enqueue_element(p_job jsonb, p_n bigint, p_permission boolean, p_client boolean) is 'Check one enqueue_jobs element''s permission (p_permission) or validity; errors name the element p_n (nothing when p_n is null: a batch of one).';

-- function queue.check_settle_options(p_jobs jsonb)
CREATE OR REPLACE FUNCTION queue.check_settle_options(p_jobs jsonb)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
declare
  v_bad record;
begin
  select x.n, x.e -> 'retry_after_seconds' as given into v_bad
    from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as x(e, n)
   where case pg_catalog.jsonb_typeof(x.e -> 'retry_after_seconds')
           when 'number' then (x.e ->> 'retry_after_seconds')::numeric not between 0 and 2147483647
                              or (x.e ->> 'retry_after_seconds')::numeric % 1 <> 0
           when 'null' then false
           else x.e ? 'retry_after_seconds' end
   order by x.n limit 1;
  if found then
    perform queue.raise('22QR1', pg_catalog.format(
      'p_jobs element %s: retry_after_seconds must be a whole number of seconds, 0 or more, got %s', v_bad.n, v_bad.given),
      'omit it (or pass null) to use the type''s backoff');
  end if;
  select x.n, x.e -> 'retryable' as given into v_bad
    from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as x(e, n)
   where pg_catalog.jsonb_typeof(x.e -> 'retryable') not in ('boolean', 'null')
   order by x.n limit 1;
  if found then
    perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s: retryable must be true or false, got %s',
                                                   v_bad.n, v_bad.given),
      'omit it for true (retry while attempts remain)');
  end if;
end
$function$;
comment on function queue.check_settle_options(p_jobs jsonb) is 'Check each settle element''s retry_after_seconds (whole seconds >= 0) and retryable (boolean); raises 22QR1 / 22QJ3.';

-- function queue.client_idempotency_key(p_key text)
CREATE OR REPLACE FUNCTION queue.client_idempotency_key(p_key text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$ select queue.client_scoped_key(p_key) $function$;
comment on function queue.client_idempotency_key(p_key text) is 'The idempotency key as stored: scoped to the user for clients (see queue.client_scoped_key).';

-- function queue.client_run_at(p_run_at timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.client_run_at(p_run_at timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select case when queue.caller_is_client()
              then greatest(coalesce(p_run_at, pg_catalog.now()), pg_catalog.now())
              else coalesce(p_run_at, pg_catalog.now()) end
$function$;
comment on function queue.client_run_at(p_run_at timestamp with time zone) is 'p_run_at (null: now), but never before now for a client.';

-- function queue.client_scoped_key(p_key text)
CREATE OR REPLACE FUNCTION queue.client_scoped_key(p_key text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select case when p_key is not null and queue.caller_is_client()
              then pg_catalog.format('user:%s:%s', auth.uid(), p_key) else p_key end
$function$;
comment on function queue.client_scoped_key(p_key text) is 'p_key as stored: "user:<auth.uid()>:<p_key>" for a client, p_key unchanged for the server.';

-- function queue.coarsen_minute_stats(p_before timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.coarsen_minute_stats(p_before timestamp with time zone)
 RETURNS void
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  -- Hours that still have minute rows become one row each (a coarsened hour has only
  -- its :00 row, so doing it again changes nothing).
  with hours as (
    select distinct date_trunc('hour', s.minute) as hour from public.job_minute_stats s
     where s.minute < date_trunc('hour', p_before) and s.minute <> date_trunc('hour', s.minute)
  ),
  gone as (
    delete from public.job_minute_stats s using hours h
     where s.minute >= h.hour and s.minute < h.hour + interval '1 hour'
    returning s.*
  )
  insert into public.job_minute_stats (minute, type, completed, failed, dead_lettered, ready, run_ms_buckets)
  select date_trunc('hour', g.minute), g.type, pg_catalog.sum(g.completed), pg_catalog.sum(g.failed),
         pg_catalog.sum(g.dead_lettered), pg_catalog.max(g.ready),
         queue.histograms_sum(pg_catalog.array_agg(g.run_ms_buckets))
    from gone g
   group by 1, 2;
  delete from public.job_minute_stats s where s.minute < p_before - interval '30 days';
$function$;
comment on function queue.coarsen_minute_stats(p_before timestamp with time zone) is 'Merge job_minute_stats minute rows of the hours before p_before into hour rows; delete rows 30 days older than p_before.';

-- function queue.console_check_actor(p_actor text)
CREATE OR REPLACE FUNCTION queue.console_check_actor(p_actor text)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
begin
  if p_actor is null or p_actor not in ('admin', 'cli', 'sql') then
    perform queue.raise('22QO2', pg_catalog.format('p_actor must be admin, cli or sql, got %s',
                                                   coalesce(pg_catalog.quote_literal(p_actor), 'null')),
      'admin: the HTTP action with the worker secret; cli: the queue-worker command; sql: a direct call');
  end if;
end
$function$;
comment on function queue.console_check_actor(p_actor text) is 'Raise 22QO2 unless p_actor is admin, cli or sql.';

-- function queue.console_job_absent(p_id uuid, p_verb text)
CREATE OR REPLACE FUNCTION queue.console_job_absent(p_id uuid, p_verb text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_letter public.job_dead_letter;
begin
  select * into v_letter from public.job_dead_letter d where d.job_id = p_id order by d.failed_at desc limit 1;
  if v_letter.id is null then
    perform queue.raise('PT404', pg_catalog.format('no job with id %s (neither in job_queue nor dead-lettered)', p_id),
      'it may have been purged (retention); list jobs with console_jobs()');
  end if;
  perform queue.raise('PT409', pg_catalog.format('job %s was dead-lettered at %s: it cannot be %s', p_id,
                                                  v_letter.failed_at, p_verb),
    pg_catalog.format('its dead letter is %s: replay it (console_retry_job) or delete it', v_letter.id));
end
$function$;
comment on function queue.console_job_absent(p_id uuid, p_verb text) is 'For a job id missing from job_queue: PT409 naming its dead letter, or PT404.';

-- function queue.console_job_from_letter(p_letter public.job_dead_letter)
CREATE OR REPLACE FUNCTION queue.console_job_from_letter(p_letter public.job_dead_letter)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select (select pg_catalog.jsonb_object_agg(c.column_name, null)
            from information_schema.columns c
           where c.table_schema = 'public' and c.table_name = 'job_queue')
         || pg_catalog.jsonb_build_object(
              'id', p_letter.job_id, 'type', p_letter.type, 'payload', p_letter.payload,
              'priority', p_letter.priority, 'status', 'dead_letter', 'attempts', p_letter.attempts,
              'max_attempts', p_letter.max_attempts, 'last_error', p_letter.last_error,
              'errors', p_letter.errors, 'idempotency_key', p_letter.idempotency_key,
              'rate_limit_key', p_letter.rate_limit_key, 'owner_id', p_letter.owner_id,
              'created_at', p_letter.job_created_at, 'finished_at', p_letter.failed_at,
              'updated_at', p_letter.failed_at)
$function$;
comment on function queue.console_job_from_letter(p_letter public.job_dead_letter) is 'A dead letter shaped like a job_queue row (status dead_letter), for console_job.';

-- function queue.console_job_ref(p_id uuid)
CREATE OR REPLACE FUNCTION queue.console_job_ref(p_id uuid)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(
    (select pg_catalog.jsonb_build_object('id', j.id, 'type', j.type, 'status', j.status)
       from public.job_queue j where j.id = p_id),
    (select pg_catalog.jsonb_build_object('id', d.job_id, 'type', d.type, 'status', 'dead_letter')
       from public.job_dead_letter d where d.job_id = p_id order by d.failed_at desc limit 1),
    pg_catalog.jsonb_build_object('id', p_id, 'type', null, 'status', 'missing'))
$function$;
comment on function queue.console_job_ref(p_id uuid) is '{id, type, status} of a job: from job_queue, else its dead letter (status dead_letter), else status missing.';

-- function queue.console_job_waits_for(p_job public.job_queue)
CREATE OR REPLACE FUNCTION queue.console_job_waits_for(p_job public.job_queue)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(
    (select pg_catalog.format('its type %s is paused', t.name) from public.job_types t
      where t.name = p_job.type and not t.enabled),
    (select pg_catalog.format('it waits for %s of its dependencies to complete', pg_catalog.count(*))
       from pg_catalog.unnest(p_job.depends_on) d(id)
      where not exists (select 1 from public.job_queue j where j.id = d.id and j.status = 'completed')
     having pg_catalog.count(*) > 0),
    'it waits for a worker to claim it')
$function$;
comment on function queue.console_job_waits_for(p_job public.job_queue) is 'Why a due pending job waits: its type paused, dependencies not completed, or just for a worker.';

-- function queue.console_jobs_allowed(p_key text)
CREATE OR REPLACE FUNCTION queue.console_jobs_allowed(p_key text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select case p_key
    when 'type' then 'type is a job type: ' || coalesce((select pg_catalog.string_agg(t.name, ', ' order by t.name)
                                                         from public.job_types t), 'none defined')
    when 'status' then 'status is one of pending, running, completed, cancelled, ready (pending and due), '
                       'scheduled (pending, run_at in the future); dead-lettered jobs are in the dead letter view'
    when 'priority' then 'priority is one of ' || pg_catalog.array_to_string(
                           pg_catalog.enum_range(null::public.job_priority)::text[], ', ')
    when 'owner' then 'owner is a uuid, e.g. 6f1c2a4e-0b7d-4c1e-9a55-3d2f8e9b1c00'
    when 'from' then 'from is an ISO 8601 timestamp (2026-01-06 or 2026-01-06T09:00:00Z): created at or after it'
    when 'to' then 'to is an ISO 8601 timestamp (2026-01-06 or 2026-01-06T09:00:00Z): created before it'
    when 'q' then 'q is 1-200 characters, searched case-insensitively in the payload and the last error'
  end
$function$;
comment on function queue.console_jobs_allowed(p_key text) is 'What a console_jobs filter key allows (a hint for 22QS2).';

-- function queue.console_jobs_timestamp(p_key text, p_value text)
CREATE OR REPLACE FUNCTION queue.console_jobs_timestamp(p_key text, p_value text)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
begin
  if p_value is null then
    return null;
  end if;
  if p_value !~ '^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?\s*(Z|z|[+-]\d{2}(:?\d{2})?)?$' then
    perform queue.raise('22QS2', pg_catalog.format('filter %s: %L is not an ISO 8601 timestamp', p_key, p_value),
                        queue.console_jobs_allowed(p_key));
  end if;
  return p_value::timestamptz;
exception
  when datetime_field_overflow or invalid_datetime_format then
    perform queue.raise('22QS2', pg_catalog.format('filter %s: %L is not a valid date and time', p_key, p_value),
                        queue.console_jobs_allowed(p_key));
    return null;
end
$function$;
comment on function queue.console_jobs_timestamp(p_key text, p_value text) is 'Parse a console_jobs from/to value (ISO 8601); 22QS2 naming the key when it is not one.';

-- function queue.console_jobs_where(p_filter jsonb)
CREATE OR REPLACE FUNCTION queue.console_jobs_where(p_filter jsonb)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_allowed constant text[] := array['type', 'status', 'priority', 'owner', 'from', 'to', 'q'];
  v_key text;
  v_value jsonb;
  v_text text;
  v_where text[] := array['true'];
  v_from timestamptz;
  v_to timestamptz;
begin
  if pg_catalog.jsonb_typeof(p_filter) is distinct from 'object' then
    perform queue.raise('22QS1', pg_catalog.format('p_filter must be a JSON object, got %s',
                                                    coalesce(pg_catalog.jsonb_typeof(p_filter), 'null')),
      'allowed keys: ' || pg_catalog.array_to_string(v_allowed, ', ') || '; {} lists every job');
  end if;
  for v_key, v_value in select e.key, e.value from pg_catalog.jsonb_each(p_filter) e order by e.key loop
    if v_key <> all (v_allowed) then
      perform queue.raise('22QS1', pg_catalog.format('unknown filter key %L', v_key),
        'allowed keys: ' || pg_catalog.array_to_string(v_allowed, ', '));
    end if;
    continue when pg_catalog.jsonb_typeof(v_value) = 'null';
    if pg_catalog.jsonb_typeof(v_value) <> 'string' then
      perform queue.raise('22QS2', pg_catalog.format('filter %s must be a string, got %s %s',
                                                      v_key, pg_catalog.jsonb_typeof(v_value), v_value),
        queue.console_jobs_allowed(v_key));
    end if;
    v_text := v_value #>> '{}';
    case v_key
    when 'type' then
      if not exists (select 1 from public.job_types t where t.name = v_text) then
        perform queue.raise('22QS2', pg_catalog.format('filter type: unknown job type %L', v_text),
                            queue.console_jobs_allowed(v_key));
      end if;
      v_where := v_where || 'j.type = ($1 ->> ''type'')'::text;
    when 'status' then
      v_where := v_where || case v_text
        when 'ready' then 'j.status = ''pending'' and j.run_at <= pg_catalog.now()'
        when 'scheduled' then 'j.status = ''pending'' and j.run_at > pg_catalog.now()'
        when 'pending' then 'j.status = ''pending'''
        when 'running' then 'j.status = ''running'''
        when 'completed' then 'j.status = ''completed'''
        when 'cancelled' then 'j.status = ''cancelled'''
      end;
      if v_where[pg_catalog.cardinality(v_where)] is null then
        perform queue.raise('22QS2', pg_catalog.format('filter status: %L is not a status', v_text),
                            queue.console_jobs_allowed(v_key));
      end if;
    when 'priority' then
      if v_text <> all (pg_catalog.enum_range(null::public.job_priority)::text[]) then
        perform queue.raise('22QS2', pg_catalog.format('filter priority: %L is not a priority', v_text),
                            queue.console_jobs_allowed(v_key));
      end if;
      v_where := v_where || 'j.priority = ($1 ->> ''priority'')::public.job_priority'::text;
    when 'owner' then
      if v_text !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$' then
        perform queue.raise('22QS2', pg_catalog.format('filter owner: %L is not a uuid', v_text),
                            queue.console_jobs_allowed(v_key));
      end if;
      v_where := v_where || 'j.owner_id = ($1 ->> ''owner'')::uuid'::text;
    when 'from', 'to' then
      perform queue.console_jobs_timestamp(v_key, v_text);
      v_where := v_where || pg_catalog.format('j.created_at %s ($1 ->> %L)::timestamptz',
                                              case v_key when 'from' then '>=' else '<' end, v_key);
    when 'q' then
      if pg_catalog.length(v_text) not between 1 and 200 then
        perform queue.raise('22QS2', pg_catalog.format('filter q must be 1-200 characters, got %s',
                                                        pg_catalog.length(v_text)),
                            queue.console_jobs_allowed(v_key));
      end if;
      v_where := v_where || ('(pg_catalog.strpos(pg_catalog.lower(j.payload::text), pg_catalog.lower($1 ->> ''q'')) > 0'
                             ' or pg_catalog.strpos(pg_catalog.lower(j.last_error), pg_catalog.lower($1 ->> ''q'')) > 0)')::text;
    end case;
  end loop;
  v_from := queue.console_jobs_timestamp('from', p_filter ->> 'from');
  v_to := queue.console_jobs_timestamp('to', p_filter ->> 'to');
  if v_from > v_to then
    perform queue.raise('22QS2', pg_catalog.format('filter from (%s) is after to (%s)', v_from, v_to),
                        'from is inclusive, to exclusive: from must not be after to');
  end if;
  return pg_catalog.array_to_string(v_where, ' and ');
end
$function$;
comment on function queue.console_jobs_where(p_filter jsonb) is 'Validate a console_jobs filter (22QS1 unknown key / not an object, 22QS2 bad value) and return its SQL predicate over j, with $1 the filter.';

-- function queue.console_record(p_actor text, p_action text, p_target jsonb, p_affected integer, p_detail jsonb)
CREATE OR REPLACE FUNCTION queue.console_record(p_actor text, p_action text, p_target jsonb, p_affected integer, p_detail jsonb DEFAULT '{}'::jsonb)
 RETURNS bigint
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
  insert into public.console_actions (actor, action, target, affected, detail)
  values (coalesce(p_actor, 'sql'), p_action, coalesce(p_target, '{}'::jsonb), coalesce(p_affected, 0),
          coalesce(p_detail, '{}'::jsonb))
  returning id;
$function$;
comment on function queue.console_record(p_actor text, p_action text, p_target jsonb, p_affected integer, p_detail jsonb) is 'Record one operator action in console_actions (same transaction as the change); returns its id.';

-- function queue.console_replay_job(p_id uuid, p_actor text)
CREATE OR REPLACE FUNCTION queue.console_replay_job(p_id uuid, p_actor text)
 RETURNS jsonb
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_letter public.job_dead_letter;
  v_new uuid;
begin
  select * into v_letter from public.job_dead_letter d where d.job_id = p_id
   order by d.failed_at desc limit 1 for update;
  if v_letter.id is null then
    perform queue.raise('PT404', pg_catalog.format('no job with id %s (neither in job_queue nor dead-lettered)', p_id),
      'it may have been purged (retention); list jobs with console_jobs()');
  end if;
  if v_letter.replayed_job_id is not null then
    perform queue.raise('PT409', pg_catalog.format('job %s was dead-lettered and already replayed as job %s at %s',
                                                    p_id, v_letter.replayed_job_id, v_letter.replayed_at),
      pg_catalog.format('look at job %s', v_letter.replayed_job_id));
  end if;
  v_new := public.retry_dead_letter_job(v_letter.id);
  return pg_catalog.jsonb_build_object('id', v_new, 'dead_letter_id', v_letter.id, 'replayed_job_id', v_new,
    'action_id', queue.console_record(p_actor, 'job.retry', pg_catalog.jsonb_build_object('id', p_id), 1,
                   pg_catalog.jsonb_build_object('kind', 'replay', 'type', v_letter.type,
                                                 'dead_letter_id', v_letter.id, 'replayed_job_id', v_new)));
end
$function$;
comment on function queue.console_replay_job(p_id uuid, p_actor text) is 'Replay the newest unreplayed dead letter of job p_id, audited; PT404 none, PT409 already replayed.';

-- function queue.console_series(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.console_series(p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with per_minute as (
    select s.minute, pg_catalog.sum(s.completed)::bigint as completed, pg_catalog.sum(s.failed)::bigint as failed,
           pg_catalog.sum(s.ready)::bigint as ready
      from public.job_minute_stats s
     where s.minute > p_now - interval '1 day' - interval '15 minutes' and s.minute <= p_now
     group by s.minute
  ),
  minutes as (
    select m.at, coalesce(p.completed, 0) as completed, coalesce(p.failed, 0) as failed, p.ready
      from pg_catalog.generate_series(date_trunc('minute', p_now) - interval '59 minutes',
                                      date_trunc('minute', p_now), interval '1 minute') as m(at)
      left join per_minute p on p.minute = m.at
  ),
  quarters as (
    select q.at, coalesce(p.completed, 0) as completed, coalesce(p.failed, 0) as failed, p.ready
      from pg_catalog.generate_series(
             date_trunc('hour', p_now) + pg_catalog.floor(extract(minute from p_now) / 15) * interval '15 minutes'
               - interval '15 minutes' * 95,
             date_trunc('hour', p_now) + pg_catalog.floor(extract(minute from p_now) / 15) * interval '15 minutes',
             interval '15 minutes') as q(at)
      left join (select date_trunc('hour', m.minute)
                          + pg_catalog.floor(extract(minute from m.minute) / 15) * interval '15 minutes' as at,
                        pg_catalog.sum(m.completed) as completed, pg_catalog.sum(m.failed) as failed,
                        pg_catalog.max(m.ready) as ready
                   from per_minute m group by 1) p on p.at = q.at
  )
  select pg_catalog.jsonb_build_object(
    'minute', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                 'at', m.at, 'completed', m.completed, 'failed', m.failed, 'ready', m.ready) order by m.at)
                 from minutes m),
    'quarter_hour', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'at', q.at, 'completed', q.completed, 'failed', q.failed, 'ready', q.ready) order by q.at)
                       from quarters q))
$function$;
comment on function queue.console_series(p_now timestamp with time zone) is 'The overview''s charts: 60 one-minute and 96 quarter-hour points up to p_now, from job_minute_stats.';

-- function queue.console_type_counts(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.console_type_counts(p_now timestamp with time zone)
 RETURNS TABLE(type text, pending bigint, ready bigint, scheduled bigint, running bigint, oldest_ready timestamp with time zone)
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  -- Two scans, one per partial index (job_queue_claim_idx, job_queue_running_idx).
  select x.type, pg_catalog.sum(x.pending)::bigint, pg_catalog.sum(x.ready)::bigint,
         pg_catalog.sum(x.scheduled)::bigint, pg_catalog.sum(x.running)::bigint, pg_catalog.min(x.oldest_ready)
    from (select j.type, pg_catalog.count(*) as pending,
                 pg_catalog.count(*) filter (where j.run_at <= p_now) as ready,
                 pg_catalog.count(*) filter (where j.run_at > p_now) as scheduled,
                 0 as running, pg_catalog.min(j.run_at) filter (where j.run_at <= p_now) as oldest_ready
            from public.job_queue j where j.status = 'pending' group by j.type
          union all
          select j.type, 0, 0, 0, pg_catalog.count(*), null
            from public.job_queue j where j.status = 'running' group by j.type) x
   group by x.type
$function$;
comment on function queue.console_type_counts(p_now timestamp with time zone) is 'Pending, ready, scheduled and running jobs per type (types with none are absent), and the oldest ready run_at.';

-- function queue.cron_field(p_field text, p_lo integer, p_hi integer, p_names text[])
CREATE OR REPLACE FUNCTION queue.cron_field(p_field text, p_lo integer, p_hi integer, p_names text[] DEFAULT NULL::text[])
 RETURNS integer[]
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
declare
  v_part text;
  v_range text;
  v_step integer;
  v_a integer;
  v_b integer;
  v_out integer[] := '{}';
  v_m text[];
  v_fixed text := pg_catalog.lower(p_field);
  i integer;
begin
  if p_names is not null then
    for i in 1 .. pg_catalog.array_length(p_names, 1) loop
      v_fixed := pg_catalog.regexp_replace(v_fixed, '\m' || p_names[i] || '\M', (p_lo + i - 1)::text, 'g');
    end loop;
  end if;
  foreach v_part in array pg_catalog.string_to_array(v_fixed, ',') loop
    v_m := pg_catalog.regexp_match(v_part, '^(\*|\d{1,4}(?:-\d{1,4})?)(?:/(\d{1,4}))?$');
    if v_m is null then
      perform queue.raise('22QC1', pg_catalog.format('cron field %L: %L is not a number, range, step or *', p_field, v_part),
        pg_catalog.format('use values %s-%s, e.g. *, 5, 1-5, */15, 1,15', p_lo, p_hi));
    end if;
    v_range := v_m[1];
    v_step := coalesce(v_m[2]::integer, 1);
    if v_range = '*' then
      v_a := p_lo; v_b := p_hi;
    elsif pg_catalog.strpos(v_range, '-') > 0 then
      v_a := pg_catalog.split_part(v_range, '-', 1)::integer;
      v_b := pg_catalog.split_part(v_range, '-', 2)::integer;
    else
      v_a := v_range::integer;
      v_b := case when v_m[2] is null then v_a else p_hi end;
    end if;
    if v_a < p_lo or v_b > p_hi or v_a > v_b or v_step < 1 then
      perform queue.raise('22QC1', pg_catalog.format('cron field %L: %L is outside %s-%s or empty', p_field, v_part, p_lo, p_hi),
        pg_catalog.format('use values %s-%s with a step of 1 or more', p_lo, p_hi));
    end if;
    v_out := v_out || array(select pg_catalog.generate_series(v_a, v_b, v_step));
  end loop;
  return array(select distinct x from pg_catalog.unnest(v_out) x order by x);
end
$function$;

-- function queue.cron_next(p_expr text, p_after timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.cron_next(p_expr text, p_after timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
declare
  v_c jsonb := queue.cron_parse(p_expr);
  v_minutes integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'minutes')::integer);
  v_hours integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'hours')::integer);
  v_doms integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'doms')::integer);
  v_months integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'months')::integer);
  v_dows integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'dows')::integer);
  v_dom_any boolean := (v_c ->> 'dom_any')::boolean;
  v_dow_any boolean := (v_c ->> 'dow_any')::boolean;
  v_start timestamp := pg_catalog.date_trunc('minute', p_after at time zone 'UTC') + interval '1 minute';
  v_day date;
  v_dom_ok boolean;
  v_dow_ok boolean;
  v_h integer;
  v_m integer;
  v_slot timestamp;
begin
  for d in 0 .. 366 * 5 loop
    v_day := v_start::date + d;
    continue when not (pg_catalog.date_part('month', v_day)::integer = any (v_months));
    v_dom_ok := pg_catalog.date_part('day', v_day)::integer = any (v_doms);
    v_dow_ok := pg_catalog.date_part('dow', v_day)::integer = any (v_dows);
    continue when not case
      when v_dom_any and v_dow_any then true
      when v_dom_any then v_dow_ok
      when v_dow_any then v_dom_ok
      else v_dom_ok or v_dow_ok end;
    foreach v_h in array v_hours loop
      foreach v_m in array v_minutes loop
        v_slot := v_day + pg_catalog.make_interval(hours => v_h, mins => v_m);
        if v_slot >= v_start then
          return v_slot at time zone 'UTC';
        end if;
      end loop;
    end loop;
  end loop;
  perform queue.raise('22QC1', pg_catalog.format('cron expression %L never fires', p_expr),
    'check the day-of-month and month fields (e.g. 30 2 never happens)');
  return null;
end
$function$;
comment on function queue.cron_next(p_expr text, p_after timestamp with time zone) is 'First minute after p_after (UTC) matching the 5-field cron expression; raises 22QC1 if it does not parse or never fires.';

-- function queue.cron_parse(p_expr text)
CREATE OR REPLACE FUNCTION queue.cron_parse(p_expr text)
 RETURNS jsonb
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
declare
  v_expr text := pg_catalog.btrim(coalesce(p_expr, ''));
  v_fields text[];
  v_dows integer[];
begin
  v_expr := case pg_catalog.lower(v_expr)
    when '@hourly' then '0 * * * *' when '@daily' then '0 0 * * *' when '@midnight' then '0 0 * * *'
    when '@weekly' then '0 0 * * 0' when '@monthly' then '0 0 1 * *'
    when '@yearly' then '0 0 1 1 *' when '@annually' then '0 0 1 1 *' else v_expr end;
  v_fields := pg_catalog.regexp_split_to_array(v_expr, '\s+');
  if pg_catalog.cardinality(v_fields) <> 5 or v_expr = '' then
    perform queue.raise('22QC1', pg_catalog.format('cron expression %L has %s fields; it needs 5', p_expr,
        case when v_expr = '' then 0 else pg_catalog.cardinality(v_fields) end),
      'minute hour day-of-month month day-of-week, e.g. ''0 9 * * 1'' (Mondays 09:00 UTC), or @daily');
  end if;
  v_dows := queue.cron_field(v_fields[5], 0, 7, array['sun','mon','tue','wed','thu','fri','sat']);
  return pg_catalog.jsonb_build_object(
    'minutes', queue.cron_field(v_fields[1], 0, 59),
    'hours',   queue.cron_field(v_fields[2], 0, 23),
    'doms',    queue.cron_field(v_fields[3], 1, 31),
    'months',  queue.cron_field(v_fields[4], 1, 12,
                 array['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']),
    'dows',    array(select distinct (d % 7) from pg_catalog.unnest(v_dows) d order by 1),
    'dom_any', v_fields[3] like '*%',
    'dow_any', v_fields[5] like '*%');
end
$function$;

-- function queue.dead_letter_filter(p_filter jsonb, p_allowed text[])
CREATE OR REPLACE FUNCTION queue.dead_letter_filter(p_filter jsonb, p_allowed text[])
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_sel jsonb := '{}'::jsonb;
  v_key text;
  v_value jsonb;
  v_hint text := pg_catalog.format('a filter is an object with any of %s', pg_catalog.array_to_string(p_allowed, ', '));
begin
  if p_filter is null or p_filter = 'null'::jsonb then
    return v_sel;
  end if;
  if pg_catalog.jsonb_typeof(p_filter) <> 'object' then
    perform queue.raise('22QV3', pg_catalog.format('a filter must be a JSON object, got %s', pg_catalog.jsonb_typeof(p_filter)), v_hint);
  end if;
  for v_key, v_value in select e.key, e.value from pg_catalog.jsonb_each(p_filter) e loop
    if not v_key = any (p_allowed) then
      perform queue.raise('22QV3', pg_catalog.format('unknown filter key %s', pg_catalog.to_jsonb(v_key)), v_hint);
    end if;
    continue when v_value = 'null'::jsonb;
    if v_key = 'replayed' then
      if pg_catalog.jsonb_typeof(v_value) <> 'boolean' then
        perform queue.raise('22QV3', 'filter replayed must be true or false', v_hint);
      end if;
      v_sel := v_sel || pg_catalog.jsonb_build_object('replayed', v_value);
      continue;
    end if;
    if pg_catalog.jsonb_typeof(v_value) <> 'string' then
      perform queue.raise('22QV3', pg_catalog.format('filter %s must be a string, got %s', v_key, v_value), v_hint);
    end if;
    case v_key
      when 'type', 'fingerprint' then v_sel := v_sel || pg_catalog.jsonb_build_object(v_key, v_value);
      when 'q' then
        if pg_catalog.length(v_value #>> '{}') > 200 then
          perform queue.raise('22QV3', 'filter q is longer than 200 characters', v_hint);
        end if;
        if v_value <> '""'::jsonb then
          v_sel := v_sel || pg_catalog.jsonb_build_object('q', pg_catalog.lower(v_value #>> '{}'));
        end if;
      else
        begin
          v_sel := v_sel || pg_catalog.jsonb_build_object(v_key, (v_value #>> '{}')::timestamptz);
        exception when invalid_datetime_format or datetime_field_overflow or invalid_parameter_value then
          perform queue.raise('22QV3', pg_catalog.format('filter %s is not a timestamp: %s', v_key, v_value),
                              'give an ISO 8601 time such as 2026-01-06T12:00:00Z');
        end;
    end case;
  end loop;
  return v_sel;
end
$function$;
comment on function queue.dead_letter_filter(p_filter jsonb, p_allowed text[]) is 'Parse a dead-letter filter object (keys among p_allowed: type, fingerprint, q, from, to, replayed); 22QV3 when malformed.';

-- function queue.dead_letter_fingerprint()
CREATE OR REPLACE FUNCTION queue.dead_letter_fingerprint()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  new.error_fingerprint := coalesce(queue.error_fingerprint(new.last_error), '');
  return new;
end
$function$;
comment on function queue.dead_letter_fingerprint() is 'Trigger: job_dead_letter.error_fingerprint := queue.error_fingerprint(last_error) on insert and on a change of last_error.';

-- function queue.dead_letter_ids_missing(p_sel jsonb)
CREATE OR REPLACE FUNCTION queue.dead_letter_ids_missing(p_sel jsonb)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select pg_catalog.jsonb_build_object(
    'not_found', pg_catalog.jsonb_array_length(p_sel -> 'ids') - pg_catalog.count(d.id),
    'already_replayed', pg_catalog.count(d.replayed_job_id))
    from public.job_dead_letter d
   where d.id in (select (x.value #>> '{}')::uuid from pg_catalog.jsonb_array_elements(p_sel -> 'ids') x)
$function$;
comment on function queue.dead_letter_ids_missing(p_sel jsonb) is 'For a parsed ids selection: {not_found: ids that are no dead letter, already_replayed: letters replayed before}.';

-- function queue.dead_letter_jobs(p_ids uuid[], p_worker_id text, p_note text)
CREATE OR REPLACE FUNCTION queue.dead_letter_jobs(p_ids uuid[], p_worker_id text, p_note text)
 RETURNS SETOF uuid
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_moved uuid[];
begin
  with moved as (
    delete from public.job_queue j where j.id = any (p_ids)
    returning j.*
  ),
  letters as (
    insert into public.job_dead_letter (job_id, type, payload, priority, attempts, max_attempts,
                                        last_error, errors, idempotency_key, rate_limit_key, owner_id, job_created_at)
    select m.id, m.type, m.payload, m.priority, m.attempts, m.max_attempts,
           m.last_error, m.errors, m.idempotency_key, m.rate_limit_key, m.owner_id, m.created_at
      from moved m
  ),
  history as (
    insert into public.job_status_events (job_id, from_status, to_status, worker_id, note, at)
    select m.id, 'pending', 'running', m.claimed_by, null, m.started_at from moved m where m.status = 'running'
    union all
    select m.id, m.status::text, 'dead_letter', p_worker_id, coalesce(p_note, m.last_error), pg_catalog.now() from moved m
  )
  select pg_catalog.array_agg(m.id) into v_moved from moved m;
  perform queue.cancel_dependents(v_moved, 'was moved to the dead letter');
  return query select pg_catalog.unnest(v_moved);
end
$function$;

-- function queue.dead_letter_key_job(p_type text, p_key text)
CREATE OR REPLACE FUNCTION queue.dead_letter_key_job(p_type text, p_key text)
 RETURNS uuid
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(d.replayed_job_id, d.job_id) from public.job_dead_letter d
   where p_key is not null and d.type = p_type and d.idempotency_key = p_key
   order by d.failed_at desc, d.id limit 1
$function$;
comment on function queue.dead_letter_key_job(p_type text, p_key text) is 'The job id a dead letter holds (p_type, p_key) for (its replay if replayed), or null.';

-- function queue.dead_letter_selection(p_selector jsonb)
CREATE OR REPLACE FUNCTION queue.dead_letter_selection(p_selector jsonb)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_sel jsonb := '{}'::jsonb;
  v_keys text[];
  v_allowed constant text :=
    'a selector is exactly one of {"ids": [uuid, ...]} (1-1000 ids), {"fingerprint": F, "type": T} (type optional) '
    'or {"filter": {"type", "q", "from", "to"}} (each optional; {} is every dead letter)';
begin
  if p_selector is null or pg_catalog.jsonb_typeof(p_selector) <> 'object' then
    perform queue.raise('22QV1', pg_catalog.format('the selector must be a JSON object, got %s',
                        coalesce(pg_catalog.jsonb_typeof(p_selector), 'nothing')), v_allowed);
  end if;
  select coalesce(pg_catalog.array_agg(k order by k), '{}') into v_keys from pg_catalog.jsonb_object_keys(p_selector) k;
  if v_keys = array['ids'] then
    if pg_catalog.jsonb_typeof(p_selector -> 'ids') <> 'array'
       or pg_catalog.jsonb_array_length(p_selector -> 'ids') not between 1 and 1000
       or exists (select 1 from pg_catalog.jsonb_array_elements(p_selector -> 'ids') e
                   where pg_catalog.jsonb_typeof(e) <> 'string'
                      or (e #>> '{}') !~* '^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$') then
      perform queue.raise('22QV2', 'ids must be an array of 1-1000 dead-letter ids (uuids)',
                          'list them with dead_letters_page; for more, select by fingerprint or filter');
    end if;
    select pg_catalog.jsonb_build_object('ids', pg_catalog.jsonb_agg(distinct (e #>> '{}')::uuid)) into v_sel
      from pg_catalog.jsonb_array_elements(p_selector -> 'ids') e;
  elsif v_keys in (array['fingerprint'], array['fingerprint', 'type']) then
    if pg_catalog.jsonb_typeof(p_selector -> 'fingerprint') <> 'string'
       or pg_catalog.jsonb_typeof(coalesce(p_selector -> 'type', '"x"')) not in ('string', 'null') then
      perform queue.raise('22QV1', 'fingerprint and type must be strings', v_allowed);
    end if;
    v_sel := pg_catalog.jsonb_strip_nulls(p_selector);
  elsif v_keys = array['filter'] then
    v_sel := queue.dead_letter_filter(p_selector -> 'filter', array['type', 'q', 'from', 'to']);
  else
    perform queue.raise('22QV1', pg_catalog.format('not a selector: keys %s', pg_catalog.to_jsonb(v_keys)), v_allowed);
  end if;
  return v_sel;
end
$function$;
comment on function queue.dead_letter_selection(p_selector jsonb) is 'Parse a selector: {"ids": [...]} (1-1000, 22QV2) | {"fingerprint", "type"?} | {"filter": {type?, q?, from?, to?}}; anything else 22QV1.';

-- function queue.dead_letter_where(p_sel jsonb, p_for_action boolean)
CREATE OR REPLACE FUNCTION queue.dead_letter_where(p_sel jsonb, p_for_action boolean)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select pg_catalog.array_to_string(pg_catalog.array_remove(array[
    'true',
    case when p_sel ? 'ids' then
      'd.id in (select (x.value #>> ''{}'')::uuid from pg_catalog.jsonb_array_elements($1 -> ''ids'') x)' end,
    case when p_sel ? 'fingerprint' then 'd.error_fingerprint = ($1 ->> ''fingerprint'')' end,
    case when p_sel ? 'type' then 'd.type = ($1 ->> ''type'')' end,
    case when p_sel ? 'q' then 'pg_catalog.strpos(pg_catalog.lower(d.last_error), $1 ->> ''q'') > 0' end,
    case when p_sel ? 'from' then 'd.failed_at >= ($1 ->> ''from'')::timestamptz' end,
    case when p_sel ? 'to' then 'd.failed_at < ($1 ->> ''to'')::timestamptz' end,
    case when p_for_action then 'd.replayed_job_id is null and d.failed_at <= $2'
         when (p_sel ->> 'replayed')::boolean then 'd.replayed_job_id is not null'
         when not (p_sel ->> 'replayed')::boolean then 'd.replayed_job_id is null' end
  ], null), ' and ')
$function$;
comment on function queue.dead_letter_where(p_sel jsonb, p_for_action boolean) is 'The SQL condition (alias d; $1 the parsed selection, $2 as_of) for a parsed selection; p_for_action: only letters not replayed and failed at or before $2.';

-- function queue.dead_letters_waiting_add(p_deltas jsonb)
CREATE OR REPLACE FUNCTION queue.dead_letters_waiting_add(p_deltas jsonb)
 RETURNS void
 LANGUAGE sql
 SET search_path TO ''
AS $function$
  insert into queue.dead_letters_waiting as w (type, waiting)
  select d.key, d.value::bigint from pg_catalog.jsonb_each_text(p_deltas) d where d.value::bigint <> 0
   order by d.key
  on conflict (type) do update set waiting = w.waiting + excluded.waiting
$function$;
comment on function queue.dead_letters_waiting_add(p_deltas jsonb) is 'Add {type: delta} to queue.dead_letters_waiting, in type order.';

-- function queue.dead_letters_waiting_on_delete()
CREATE OR REPLACE FUNCTION queue.dead_letters_waiting_on_delete()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform queue.dead_letters_waiting_add(
    (select pg_catalog.jsonb_object_agg(o.type, -o.c) from
       (select r.type, pg_catalog.count(*) as c from old_rows r where r.replayed_job_id is null group by 1) o));
  return null;
end
$function$;
comment on function queue.dead_letters_waiting_on_delete() is 'Uncount the deleted waiting dead letters.';

-- function queue.dead_letters_waiting_on_insert()
CREATE OR REPLACE FUNCTION queue.dead_letters_waiting_on_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform queue.dead_letters_waiting_add(
    (select pg_catalog.jsonb_object_agg(n.type, n.c) from
       (select r.type, pg_catalog.count(*) as c from new_rows r where r.replayed_job_id is null group by 1) n));
  return null;
end
$function$;
comment on function queue.dead_letters_waiting_on_insert() is 'Count the new waiting dead letters per type.';

-- function queue.dead_letters_waiting_on_truncate()
CREATE OR REPLACE FUNCTION queue.dead_letters_waiting_on_truncate()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  delete from queue.dead_letters_waiting;
  return null;
end
$function$;
comment on function queue.dead_letters_waiting_on_truncate() is 'No dead letters, nothing waiting.';

-- function queue.dead_letters_waiting_on_update()
CREATE OR REPLACE FUNCTION queue.dead_letters_waiting_on_update()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform queue.dead_letters_waiting_add(
    (select pg_catalog.jsonb_object_agg(x.type, x.c) from
       (select u.type, pg_catalog.sum(u.c) as c from
          (select r.type, 1 as c from new_rows r where r.replayed_job_id is null
           union all
           select r.type, -1 from old_rows r where r.replayed_job_id is null) u group by 1) x));
  return null;
end
$function$;
comment on function queue.dead_letters_waiting_on_update() is 'Move the waiting counts by what an update replayed (or un-replayed).';

-- function queue.enqueue_batch_is_plainly_valid(p_jobs jsonb)
CREATE OR REPLACE FUNCTION queue.enqueue_batch_is_plainly_valid(p_jobs jsonb)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(pg_catalog.bool_and(
           pg_catalog.jsonb_typeof(e) = 'object'
           and t.name is not null
           and coalesce(pg_catalog.jsonb_typeof(e -> 'depends_on'), 'null') = 'null'
           and coalesce(e ->> 'priority', 'normal') in ('critical', 'high', 'normal', 'low')
           and pg_catalog.jsonb_typeof(coalesce(e -> 'payload', '{}'::jsonb)) = 'object'
           and pg_catalog.octet_length(coalesce(e -> 'payload', '{}'::jsonb)::text) <= l.max_bytes
           and case when e -> 'max_attempts' is null or pg_catalog.jsonb_typeof(e -> 'max_attempts') = 'null' then true
                    when (e ->> 'max_attempts') ~ '^[0-9]{1,4}$' then (e ->> 'max_attempts')::integer between 1 and 1000
                    else false end
           and case when e -> 'owner_id' is null or pg_catalog.jsonb_typeof(e -> 'owner_id') = 'null' then true
                    else (e ->> 'owner_id') ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' end),
         true)
    from pg_catalog.jsonb_array_elements(p_jobs) e
    left join public.job_types t on t.name = e ->> 'type'
    cross join (select coalesce((queue.setting('payload_max_bytes'))::text::bigint, 1048576) as max_bytes) l
$function$;
comment on function queue.enqueue_batch_is_plainly_valid(p_jobs jsonb) is 'True when every element of an enqueue_jobs batch (an array) passes the per-element checks for the server: known type, valid priority, an object payload within payload_max_bytes, max_attempts 1-1000, a uuid owner_id, and no depends_on. False sends the batch through the per-element checks.';

-- function queue.enqueue_element_message(p_n bigint, p_message text)
CREATE OR REPLACE FUNCTION queue.enqueue_element_message(p_n bigint, p_message text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select case when p_n is null then p_message else pg_catalog.format('p_jobs element %s: %s', p_n, p_message) end
$function$;
comment on function queue.enqueue_element_message(p_n bigint, p_message text) is 'An enqueue_jobs error message naming element p_n of the batch, or p_message alone when p_n is null (a batch of one job).';

-- function queue.error_fingerprint(p_error text)
CREATE OR REPLACE FUNCTION queue.error_fingerprint(p_error text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
 SET search_path TO ''
AS $function$
  select pg_catalog.btrim(pg_catalog.left(pg_catalog.regexp_replace(
    pg_catalog.regexp_replace(                                                         -- numbers
    pg_catalog.regexp_replace(                                                         -- prefixed ids
    pg_catalog.regexp_replace(                                                         -- hex ids
    pg_catalog.regexp_replace(pg_catalog.regexp_replace(                               -- quoted strings
    pg_catalog.regexp_replace(                                                         -- ip[:port]
    pg_catalog.regexp_replace(                                                         -- urls
    pg_catalog.regexp_replace(                                                         -- emails
    pg_catalog.regexp_replace(                                                         -- uuids
      pg_catalog.left(p_error, 2000),
      '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}', '<uuid>', 'g'),
      '[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}', '<email>', 'g'),
      '\m[A-Za-z][A-Za-z0-9+.-]*://[^[:space:]''"<>]+', '<url>', 'g'),
      '\m[0-9]{1,3}(\.[0-9]{1,3}){3}(:[0-9]{1,5})?\M', '<ip>', 'g'),
      '''[^'']*''', '''?''', 'g'),
      '"[^"]*"', '"?"', 'g'),
      '\m(0x[0-9a-fA-F]+|(?=[0-9a-fA-F]*[0-9])(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,})\M', '<hex>', 'g'),
      '\m([A-Za-z]{2,10})_(?=[A-Za-z0-9]*[0-9])[A-Za-z0-9]{8,}\M', '\1_<id>', 'g'),
      '\m[0-9]+([.,][0-9]+)*', '<n>', 'g'),
    '[[:space:]]+', ' ', 'g'), 200))
$function$;
comment on function queue.error_fingerprint(p_error text) is 'The shape of an error message: uuids, emails, urls, IPs, quoted strings, hex ids, prefixed ids and numbers replaced by placeholders (<uuid> <email> <url> <ip> ''?'' <hex> x_<id> <n>), whitespace collapsed, at most 200 characters (from the first 2,000 read). Immutable; null for null.';

-- function queue.health_check(p_check text, p_subject jsonb, p_value numeric, p_threshold numeric, p_unit text, p_hint text, p_details jsonb)
CREATE OR REPLACE FUNCTION queue.health_check(p_check text, p_subject jsonb, p_value numeric, p_threshold numeric, p_unit text, p_hint text, p_details jsonb DEFAULT '{}'::jsonb)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with limits as (
    select case when p_threshold > 0 then p_threshold * f.factor else f.factor end as critical_above
      from (select queue.health_setting('health_critical_factor', 3) as factor) f
  )
  select pg_catalog.jsonb_build_object(
           'check', p_check,
           'severity', case when p_value is null or p_value <= p_threshold then 'ok'
                            when p_value > l.critical_above then 'critical' else 'warning' end,
           'value', p_value, 'threshold', p_threshold, 'critical_above', l.critical_above,
           'unit', p_unit, 'hint', p_hint)
         || coalesce(p_subject, '{}'::jsonb)
         || case when p_details is null or p_details = '{}'::jsonb then '{}'::jsonb
                 else pg_catalog.jsonb_build_object('details', p_details) end
    from limits l
$function$;
comment on function queue.health_check(p_check text, p_subject jsonb, p_value numeric, p_threshold numeric, p_unit text, p_hint text, p_details jsonb) is 'One health check: {check, severity ok|warning|critical, value, threshold, critical_above, unit, hint, details} and its subject.';

-- function queue.health_database_checks(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.health_database_checks(p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
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
$function$;
comment on function queue.health_database_checks(p_now timestamp with time zone) is 'table_bloat per queue table, xmin_horizon (oldest snapshot-holding or prepared transaction) and replication_slot_xmin, against the health_* settings.';

-- function queue.health_extension_checks(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.health_extension_checks(p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
AS $function$
declare
  v_checks jsonb := '[]'::jsonb;
  v_skipped jsonb := '[]'::jsonb;
  v_count bigint;
  v_latest jsonb;
  v_net_queue regclass := pg_catalog.to_regclass('net.http_request_queue');
  v_net_response regclass := pg_catalog.to_regclass('net._http_response');
  v_cron_runs regclass := pg_catalog.to_regclass('cron.job_run_details');
  v_cron_jobs regclass := pg_catalog.to_regclass('cron.job');
begin
  if v_net_queue is null then
    v_skipped := v_skipped || '[{"check": "pg_net_backlog", "reason": "pg_net is not installed"}]'::jsonb;
  else
    begin
      execute pg_catalog.format('select pg_catalog.count(*) from %s', v_net_queue) into v_count;
      v_checks := v_checks || queue.health_check('pg_net_backlog', '{}'::jsonb, v_count,
        queue.health_setting('health_pg_net_queue_max', 1000), 'requests',
        'pg_net''s requests are not being sent: is its background worker running (select net.worker_restart()), is pg_net.batch_size too small?');
    exception when insufficient_privilege then
      v_skipped := v_skipped || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'check', 'pg_net_backlog', 'reason', 'cannot read net.http_request_queue: ' || sqlerrm));
    end;
  end if;

  if v_net_response is null then
    v_skipped := v_skipped || '[{"check": "pg_net_failures", "reason": "pg_net is not installed"}]'::jsonb;
  else
    begin
      execute pg_catalog.format($q$
        with failed as (
          select r.id, r.status_code, pg_catalog.left(r.error_msg, 200) as error_msg, r.created
            from %s r
           where r.created > $1 - interval '1 hour' and r.created <= $1
             and (r.error_msg is not null or r.status_code >= 400))
        select (select pg_catalog.count(*) from failed),
               coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) order by f.created desc)
                           from (select * from failed order by created desc limit 5) f), '[]'::jsonb)
      $q$, v_net_response) into v_count, v_latest using p_now;
      v_checks := v_checks || queue.health_check('pg_net_failures', '{}'::jsonb, v_count,
        queue.health_setting('health_pg_net_failures_max_per_hour', 10), 'failed responses in the last hour',
        'pg_net requests failed: check worker_url, the worker secret and what the function answered (net._http_response)',
        pg_catalog.jsonb_build_object('latest', v_latest));
    exception when insufficient_privilege then
      v_skipped := v_skipped || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'check', 'pg_net_failures', 'reason', 'cannot read net._http_response: ' || sqlerrm));
    end;
  end if;

  if v_cron_runs is null or v_cron_jobs is null then
    v_skipped := v_skipped || '[{"check": "cron_failures", "reason": "pg_cron is not installed"},
                                {"check": "cron_run_details_rows", "reason": "pg_cron is not installed"}]'::jsonb;
  else
    begin
      execute pg_catalog.format($q$
        with failed as (
          select d.jobid, j.jobname, d.start_time, pg_catalog.left(d.return_message, 200) as return_message
            from %s d left join %s j on j.jobid = d.jobid
           where d.status = 'failed' and d.start_time > $1 - interval '1 hour' and d.start_time <= $1)
        select (select pg_catalog.count(*) from failed),
               coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) order by f.start_time desc)
                           from (select * from failed order by start_time desc limit 5) f), '[]'::jsonb)
      $q$, v_cron_runs, v_cron_jobs) into v_count, v_latest using p_now;
      v_checks := v_checks || queue.health_check('cron_failures', '{}'::jsonb, v_count,
        queue.health_setting('health_cron_failures_max_per_hour', 0), 'failed runs in the last hour',
        'pg_cron runs failed: their return_message says why (select * from cron.job_run_details where status = ''failed'' order by start_time desc)',
        pg_catalog.jsonb_build_object('latest', v_latest));
      v_checks := v_checks || queue.health_check('cron_run_details_rows', '{}'::jsonb,
        (select greatest(s.n_live_tup, 0) from pg_catalog.pg_stat_all_tables s
          where s.relid = v_cron_runs),
        queue.health_setting('health_cron_run_details_max_rows', 100000), 'rows (estimated)',
        'cron.job_run_details grows by a row per run: the queue-purge-cron-history job deletes ours after 7 days; delete older rows of other jobs or set cron.log_run = off');
    exception when insufficient_privilege then
      v_skipped := v_skipped || pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('check', 'cron_failures', 'reason', 'cannot read cron.job_run_details: ' || sqlerrm),
        pg_catalog.jsonb_build_object('check', 'cron_run_details_rows', 'reason', 'cannot read cron.job_run_details: ' || sqlerrm));
    end;
  end if;
  return pg_catalog.jsonb_build_object('checks', v_checks, 'not_checked', v_skipped);
end
$function$;
comment on function queue.health_extension_checks(p_now timestamp with time zone) is 'pg_net_backlog, pg_net_failures, cron_failures and cron_run_details_rows where pg_net / pg_cron exist; the others in not_checked with the reason.';

-- function queue.health_rank(p_severity text)
CREATE OR REPLACE FUNCTION queue.health_rank(p_severity text)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$ select case p_severity when 'critical' then 2 when 'warning' then 1 else 0 end $function$;
comment on function queue.health_rank(p_severity text) is 'ok 0, warning 1, critical 2: the worst of several checks is the max.';

-- function queue.health_setting(p_key text, p_default numeric)
CREATE OR REPLACE FUNCTION queue.health_setting(p_key text, p_default numeric)
 RETURNS numeric
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$ select coalesce((queue.setting(p_key))::numeric, p_default) $function$;
comment on function queue.health_setting(p_key text, p_default numeric) is 'A numeric queue.settings value, or p_default when unset.';

-- function queue.health_type_checks(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.health_type_checks(p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with counts as (select * from queue.console_type_counts(p_now)),
  stuck as (
    select j.type, pg_catalog.count(*) as n
      from public.job_queue j
     where j.status = 'running'
       and j.locked_until < p_now - pg_catalog.make_interval(secs => queue.health_setting('health_stuck_grace_seconds', 120))
     group by j.type
  ),
  dead as (
    select d.type, pg_catalog.count(*) as n
      from public.job_dead_letter d
     where d.failed_at > p_now - interval '1 hour' and d.failed_at <= p_now
     group by d.type
  ),
  checks as (
    select t.name, 1 as ord,
           queue.health_check('backlog_age', pg_catalog.jsonb_build_object('type', t.name),
             coalesce(greatest(extract(epoch from p_now - c.oldest_ready), 0), 0)::numeric(14, 3),
             t.max_backlog_age_seconds, 'seconds',
             case when t.enabled
                  then 'ready jobs wait longer than job_types.max_backlog_age_seconds: is the scheduler calling the worker, is the type''s concurrency_limit too low, is a breaker open?'
                  else 'the type is paused (job_types.enabled = false): its jobs wait on purpose' end,
             pg_catalog.jsonb_build_object('ready', coalesce(c.ready, 0), 'enabled', t.enabled))
           || case when t.enabled then '{}'::jsonb else '{"severity": "ok"}'::jsonb end as c
      from public.job_types t left join counts c on c.type = t.name
    union all
    select t.name, 2,
           queue.health_check('stuck_jobs', pg_catalog.jsonb_build_object('type', t.name), coalesce(s.n, 0),
             t.max_stuck_jobs, 'jobs',
             'running jobs hold leases that expired long ago: is pg_cron running cleanup_stuck_jobs (or the resident worker''s maintenance)?')
      from public.job_types t left join stuck s on s.type = t.name
    union all
    select t.name, 3,
           queue.health_check('dead_letter_spike', pg_catalog.jsonb_build_object('type', t.name), coalesce(d.n, 0),
             t.max_dead_letters_per_hour, 'dead letters in the last hour',
             'many jobs of this type failed for good: `queue-worker dlq groups` shows their errors; replay them once the cause is fixed')
      from public.job_types t left join dead d on d.type = t.name
  )
  select coalesce(pg_catalog.jsonb_agg(x.c order by x.ord, x.name), '[]'::jsonb) from checks x
$function$;
comment on function queue.health_type_checks(p_now timestamp with time zone) is 'backlog_age, stuck_jobs and dead_letter_spike for every job type, against job_types.max_backlog_age_seconds, max_stuck_jobs, max_dead_letters_per_hour.';

-- function queue.health_worker_checks(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.health_worker_checks(p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with last_run as (select r.* from public.worker_runs r order by r.started_at desc limit 1),
  kicks as (select queue.unanswered_kicks(p_now) as k)
  select pg_catalog.jsonb_build_array(
    queue.health_check('last_worker_run', '{}'::jsonb,
      (select greatest(extract(epoch from p_now - l.started_at), 0)::numeric(14, 3) from last_run l),
      queue.health_setting('health_last_run_max_age_seconds', 300), 'seconds',
      'no worker invocation started lately: is the scheduler calling the function (pg_cron queue-trigger-worker, Cloud Scheduler, EventBridge, queue-worker dev)?',
      coalesce((select pg_catalog.jsonb_build_object('worker_id', l.worker_id, 'started_at', l.started_at,
                  'finished_at', l.finished_at, 'claimed', l.claimed, 'completed', l.completed) from last_run l),
               '{}'::jsonb))
    || case when exists (select 1 from last_run) then '{}'::jsonb
            else '{"severity": "warning", "hint": "no worker has run yet: start the scheduler (pg_cron queue-trigger-worker, Cloud Scheduler, EventBridge) or run queue-worker dev"}'::jsonb end,
    queue.health_check('unanswered_kicks', '{}'::jsonb, ((select k from kicks) ->> 'count')::numeric,
      queue.health_setting('health_unanswered_kicks_max', 0), 'kicks in the last hour',
      'kicks (pg_net POSTs on enqueue) woke no worker in time: check worker_url, the worker secret and what the function answered (net._http_response by request_id)',
      pg_catalog.jsonb_build_object('answer_seconds', (select k from kicks) -> 'answer_seconds',
                                    'kicks', (select k from kicks) -> 'kicks')))
$function$;
comment on function queue.health_worker_checks(p_now timestamp with time zone) is 'last_worker_run and unanswered_kicks, against health_last_run_max_age_seconds and health_unanswered_kicks_max.';

-- function queue.histogram_add(p_total bigint[], p_add bigint[])
CREATE OR REPLACE FUNCTION queue.histogram_add(p_total bigint[], p_add bigint[])
 RETURNS bigint[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
  select pg_catalog.array_agg(coalesce(x.a, 0) + coalesce(x.b, 0) order by x.i)
    from rows from (pg_catalog.unnest(p_total), pg_catalog.unnest(p_add)) with ordinality as x(a, b, i)
$function$;
comment on function queue.histogram_add(p_total bigint[], p_add bigint[]) is 'Element-wise sum of two bigint histograms.';

-- function queue.histograms_sum(p_histograms integer[])
CREATE OR REPLACE FUNCTION queue.histograms_sum(p_histograms integer[])
 RETURNS integer[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
  -- array_agg of histograms is one 56-wide two-dimensional array; unnest flattens it.
  select pg_catalog.array_agg(x.n order by x.b)
    from (select (u.i - 1) % 56 as b, pg_catalog.sum(u.n)::integer as n
            from pg_catalog.unnest(p_histograms) with ordinality as u(n, i) group by 1) x
$function$;
comment on function queue.histograms_sum(p_histograms integer[]) is 'Element-wise sum of run_ms_buckets histograms given as array_agg(run_ms_buckets); null when none.';

-- function queue.int_arrays_add(p_a integer[], p_b integer[])
CREATE OR REPLACE FUNCTION queue.int_arrays_add(p_a integer[], p_b integer[])
 RETURNS integer[]
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
  select pg_catalog.array_agg(coalesce(x.a, 0) + coalesce(x.b, 0) order by x.i)
    from rows from (pg_catalog.unnest(p_a), pg_catalog.unnest(p_b)) with ordinality as x(a, b, i)
$function$;
comment on function queue.int_arrays_add(p_a integer[], p_b integer[]) is 'Element-wise sum of two histograms.';

-- function queue.job_schedules_before_write()
CREATE OR REPLACE FUNCTION queue.job_schedules_before_write()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform queue.validate_job(new.type, new.payload, new.priority::text, null, null);
  if tg_op = 'INSERT' or new.cron is distinct from old.cron or (new.enabled and not old.enabled)
     or new.next_run_at is null then
    new.next_run_at := queue.cron_next(new.cron, pg_catalog.now());
  end if;
  new.updated_at := pg_catalog.now();
  return new;
end
$function$;

-- function queue.kick_group(p_group text)
CREATE OR REPLACE FUNCTION queue.kick_group(p_group text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_via text := 'notify';
  v_request bigint;
begin
  if not pg_catalog.pg_try_advisory_xact_lock(pg_catalog.hashtext('queue-worker kick'), pg_catalog.hashtext(p_group))
     or queue.kick_in_flight(p_group) then  -- re-read: a kick committed since the first look
    return;
  end if;
  if queue.kick_over_http() then
    begin
      v_request := public.trigger_queue_worker('process',
        case when p_group <> 'default' then
          (select pg_catalog.string_agg(t.name, ',' order by t.name) from public.job_types t where t.kick_group = p_group)
        end, null);
      v_via := case when v_request is null then 'notify' else 'pg_net' end;
    exception when others then
      raise warning 'kick of group %: the POST through pg_net failed (%); the scheduler tick runs the jobs', p_group, sqlerrm;
    end;
  end if;
  -- Old kicks go when their group kicks again: no sweep job, at most one delete per window.
  delete from public.job_kicks k where k.kick_group = p_group and k.kicked_at < pg_catalog.now() - interval '1 day';
  insert into public.job_kicks (kick_group, via, request_id) values (p_group, v_via, v_request);
end
$function$;
comment on function queue.kick_group(p_group text) is 'Write (and send over pg_net where configured) one kick for the group unless one is in flight or being written.';

-- function queue.kick_in_flight(p_group text)
CREATE OR REPLACE FUNCTION queue.kick_in_flight(p_group text)
 RETURNS boolean
 LANGUAGE plpgsql
 STABLE
 SET search_path TO ''
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  v_window_ms numeric := (select s.value::numeric from queue.settings s where s.key = 'kick_window_ms');
begin
  return exists (
    select 1 from public.job_kicks k
      left join public.worker_runs r on r.worker_id = k.answered_by
     where k.kick_group = p_group
       and k.kicked_at > pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => coalesce(v_window_ms, 2000) / 1000)
       and (k.answered_at is null or (r.worker_id is not null and r.finished_at is null)));
end
$function$;
comment on function queue.kick_in_flight(p_group text) is 'Whether the group has a kick younger than kick_window_ms that is unanswered or answered by a running invocation.';

-- function queue.kick_on_insert()
CREATE OR REPLACE FUNCTION queue.kick_on_insert()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
 SET plan_cache_mode TO 'force_generic_plan'
AS $function$
declare
  v_types text[];
  v_group text;
begin
  select pg_catalog.array_agg(distinct n.type) into v_types
    from new_jobs n where n.status = 'pending' and n.run_at <= pg_catalog.clock_timestamp();
  if v_types is null then
    return null;
  end if;
  perform pg_catalog.pg_notify('queue_worker_jobs', queue.kick_payload(v_types));
  for v_group in
    select distinct t.kick_group from public.job_types t
     where t.name = any (v_types)
       and not exists (
         select 1 from public.job_kicks k
           left join public.worker_runs r on r.worker_id = k.answered_by
          where k.kick_group = t.kick_group
            and k.kicked_at > pg_catalog.clock_timestamp() - pg_catalog.make_interval(secs => coalesce(
                  (select s.value::numeric from queue.settings s where s.key = 'kick_window_ms'), 2000) / 1000)
            and (k.answered_at is null or (r.worker_id is not null and r.finished_at is null)))
  loop
    perform queue.kick_group(v_group);
  end loop;
  return null;
end
$function$;
comment on function queue.kick_on_insert() is 'Statement trigger on job_queue inserts: notify queue_worker_jobs {"types": the ready types inserted}, then kick each of their groups with no kick in flight.';

-- function queue.kick_on_ready_again()
CREATE OR REPLACE FUNCTION queue.kick_on_ready_again()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
begin
  perform pg_catalog.pg_notify('queue_worker_jobs', queue.kick_payload(array[new.type]));
  return null;
end
$function$;
comment on function queue.kick_on_ready_again() is 'Row trigger (WHEN running -> pending and due): notify queue_worker_jobs; identical notifies fold per transaction.';

-- function queue.kick_over_http()
CREATE OR REPLACE FUNCTION queue.kick_over_http()
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select pg_catalog.to_regnamespace('net') is not null
     and coalesce(queue.setting('worker_url') #>> '{}', '') <> ''
     and coalesce((queue.setting('kick_http'))::boolean, true)
$function$;
comment on function queue.kick_over_http() is 'pg_net installed, worker_url set and kick_http true.';

-- function queue.kick_payload(p_types text[])
CREATE OR REPLACE FUNCTION queue.kick_payload(p_types text[])
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select case when pg_catalog.cardinality(p_types) <= 50
                   and pg_catalog.octet_length(pg_catalog.jsonb_build_object('types', p_types)::text) <= 4000
              then pg_catalog.jsonb_build_object('types', p_types)::text
              else '{"types": null}' end
$function$;
comment on function queue.kick_payload(p_types text[]) is 'The queue_worker_jobs notify payload: {"types": [...]}, or {"types": null} when too many to list.';

-- function queue.lock_client_quota(p_types text[])
CREATE OR REPLACE FUNCTION queue.lock_client_quota(p_types text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  if queue.caller_is_client() then
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended(
              pg_catalog.format('queue.client_quota:%s:%s', x.type, auth.uid()), 0))
       from (select distinct t from pg_catalog.unnest(p_types) t) as x(type) order by x.type;
  end if;
end
$function$;
comment on function queue.lock_client_quota(p_types text[]) is 'For clients: lock (type, auth.uid()) for each of p_types until commit, so the pending cap holds under concurrency.';

-- function queue.oldest_pending_age_seconds(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.oldest_pending_age_seconds(p_now timestamp with time zone)
 RETURNS double precision
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select coalesce(extract(epoch from p_now - pg_catalog.min(j.run_at))::double precision, 0)
    from public.job_queue j where j.status = 'pending' and j.run_at <= p_now
$function$;

-- function queue.payout_json(p public.payouts)
CREATE OR REPLACE FUNCTION queue.payout_json(p public.payouts)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  select pg_catalog.jsonb_build_object(
    'payout_id', p.id, 'seller_id', p.seller_id, 'currency', p.currency, 'status', p.status,
    'gross_cents', p.gross_cents, 'fee_cents', p.fee_cents, 'amount_cents', p.amount_cents,
    'fee_bps', p.fee_bps, 'transfer_id', p.transfer_id, 'reason', p.reason, 'created_at', p.created_at,
    'sent_at', p.sent_at, 'hold_reason', p.hold_reason,
    'destination', coalesce(p.destination,
                            (select a.stripe_account_id from public.seller_accounts a where a.seller_id = p.seller_id)),
    'email', (select a.email from public.seller_accounts a where a.seller_id = p.seller_id))
$function$;
comment on function queue.payout_json(p public.payouts) is 'A payouts row plus its fixed destination account and the seller''s email, as jsonb.';

-- function queue.raise(p_sqlstate text, p_message text, p_hint text)
CREATE OR REPLACE FUNCTION queue.raise(p_sqlstate text, p_message text, p_hint text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
begin
  raise exception using errcode = p_sqlstate, message = p_message, hint = coalesce(p_hint, '');
end
$function$;
comment on function queue.raise(p_sqlstate text, p_message text, p_hint text) is 'Raise p_message with SQLSTATE p_sqlstate and HINT p_hint. Codes are listed in README "SQLSTATEs".';

-- function queue.record_minute_stats(p_now timestamp with time zone, p_settle_margin interval)
CREATE OR REPLACE FUNCTION queue.record_minute_stats(p_now timestamp with time zone DEFAULT NULL::timestamp with time zone, p_settle_margin interval DEFAULT '00:00:05'::interval)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO ''
AS $function$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_through timestamptz := v_now - coalesce(p_settle_margin, interval '0');
  v_from timestamptz;
  v_rows integer := 0;
begin
  select w.recorded_through into v_from from queue.minute_stats_watermark w for update skip locked;
  if not found then
    return null;  -- another call is recording right now
  end if;
  v_from := coalesce(v_from, v_through - interval '1 day');
  if v_through > v_from then
    v_rows := queue.add_minute_stats(v_from, v_through);
    update queue.minute_stats_watermark set recorded_through = v_through;
  end if;
  insert into public.job_minute_stats as s (minute, type, ready)
  select date_trunc('minute', v_now), t.name, coalesce(r.n, 0)
    from public.job_types t
    left join (select j.type, pg_catalog.count(*)::integer as n from public.job_queue j
                where j.status = 'pending' and j.run_at <= v_now group by 1) r on r.type = t.name
  on conflict (minute, type) do update set ready = excluded.ready;
  -- Once an hour is more than 25 h old (the console's day of quarter-hours needs minutes).
  if date_trunc('hour', v_through - interval '25 hours') > date_trunc('hour', v_from - interval '25 hours') then
    perform queue.coarsen_minute_stats(v_through - interval '25 hours');
  end if;
  return v_rows;
end
$function$;
comment on function queue.record_minute_stats(p_now timestamp with time zone, p_settle_margin interval) is 'Add to job_minute_stats what finished since the last call (up to p_now - p_settle_margin, default 5 s) and sample the ready backlog at p_now; coarsen and purge old rows. Counts each row once: a concurrent call returns null without counting. Returns the rows added to.';

-- function queue.require_worker_id(p_worker_id text)
CREATE OR REPLACE FUNCTION queue.require_worker_id(p_worker_id text)
 RETURNS void
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
begin
  if p_worker_id is null or pg_catalog.length(p_worker_id) = 0 or pg_catalog.length(p_worker_id) > 200 then
    perform queue.raise('22QW1',
      pg_catalog.format('p_worker_id must be the id of the worker holding the job (non-empty, at most 200 characters), got %s',
                        coalesce(pg_catalog.quote_literal(pg_catalog.left(p_worker_id, 40)), 'null')),
      'pass the p_worker_id you claimed the job with (get_next_job); to stop a job another worker holds use '
      'cancel_job, to run a dead letter again retry_dead_letter_job');
  end if;
end
$function$;
comment on function queue.require_worker_id(p_worker_id text) is 'Raise 22QW1 unless p_worker_id is a non-empty text of at most 200 characters.';

-- function queue.retry_delay(p_attempt integer, p_base_seconds integer, p_cap_seconds integer, p_jitter double precision)
CREATE OR REPLACE FUNCTION queue.retry_delay(p_attempt integer, p_base_seconds integer, p_cap_seconds integer, p_jitter double precision)
 RETURNS interval
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
  select pg_catalog.make_interval(secs =>
    least(p_cap_seconds::double precision,
                     p_base_seconds * pg_catalog.power(2::double precision, greatest(p_attempt, 1) - 1))
    * (0.5 + 0.5 * least(greatest(p_jitter, 0), 1)))
$function$;
comment on function queue.retry_delay(p_attempt integer, p_base_seconds integer, p_cap_seconds integer, p_jitter double precision) is 'Backoff before retrying after attempt p_attempt: d = least(cap, base * 2^(attempt-1)); returns d/2 + jitter*d/2.';

-- function queue.run_ms_bucket(p_ms double precision)
CREATE OR REPLACE FUNCTION queue.run_ms_bucket(p_ms double precision)
 RETURNS integer
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
  select case when p_ms is null or p_ms < 1 then 0
              else least(55, pg_catalog.floor(2 * pg_catalog.ln(p_ms) / pg_catalog.ln(2) + 1e-9)::integer + 1) end
$function$;
comment on function queue.run_ms_bucket(p_ms double precision) is 'Histogram bucket (0-55) of a run time in ms: 0 under 1 ms, b >= 1 for [2^((b-1)/2), 2^(b/2)) ms (ratio sqrt 2), 55 from 2^27 ms up.';

-- function queue.run_ms_percentile(p_buckets integer[], p_fraction double precision)
CREATE OR REPLACE FUNCTION queue.run_ms_percentile(p_buckets integer[], p_fraction double precision)
 RETURNS double precision
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
  -- The bucket holding the rank, interpolated linearly inside it; null when it is empty.
  with b as (
    select i - 1 as bucket, n,
           pg_catalog.sum(n) over (order by i) - n as before,
           pg_catalog.sum(n) over () as total
      from pg_catalog.unnest(p_buckets) with ordinality as u(n, i)
  )
  select case when b.bucket = 0 then 1.0 * (p_fraction * b.total - b.before) / b.n
              else pg_catalog.power(2, (b.bucket - 1) / 2.0)
                   + (pg_catalog.power(2, b.bucket / 2.0) - pg_catalog.power(2, (b.bucket - 1) / 2.0))
                     * (p_fraction * b.total - b.before) / b.n end
    from b
   where b.n > 0 and b.before + b.n >= p_fraction * b.total
   order by b.bucket
   limit 1
$function$;
comment on function queue.run_ms_percentile(p_buckets integer[], p_fraction double precision) is 'Estimated run time in ms at p_fraction (0-1) of a run_ms_buckets histogram (within ~20%); null when empty.';

-- function queue.run_seconds_histogram(p_buckets bigint[], p_sum double precision)
CREATE OR REPLACE FUNCTION queue.run_seconds_histogram(p_buckets bigint[], p_sum double precision)
 RETURNS jsonb
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO ''
AS $function$
  with cumulative as (
    select u.i - 1 as bucket, pg_catalog.sum(u.n) over (order by u.i) as n
      from pg_catalog.unnest(coalesce(p_buckets, pg_catalog.array_fill(0::bigint, array[56])))
           with ordinality as u(n, i)
  )
  select pg_catalog.jsonb_build_object(
    -- Bucket 2k holds [2^((2k-1)/2), 2^k) ms, so through it is everything under 2^k ms.
    'buckets', (select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_array(
                         ((1::bigint << (c.bucket / 2)::integer) / 1000.0)::double precision, c.n) order by c.bucket)
                  from cumulative c where c.bucket % 2 = 0 and c.bucket <= 40),
    'sum', coalesce(p_sum, 0),
    'count', (select coalesce(pg_catalog.max(c.n), 0) from cumulative c))
$function$;
comment on function queue.run_seconds_histogram(p_buckets bigint[], p_sum double precision) is 'A run_ms_buckets histogram as Prometheus buckets: {buckets: [[le seconds, cumulative count]] at le = 2^k ms (k 0..20), sum, count}.';

-- function queue.setting(p_key text)
CREATE OR REPLACE FUNCTION queue.setting(p_key text)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$ select s.value from queue.settings s where s.key = p_key $function$;
comment on function queue.setting(p_key text) is 'The value of a queue.settings key, or null.';

-- function queue.settle_input(p_jobs jsonb, p_shape text, OUT ids uuid[], OUT by_id jsonb)
CREATE OR REPLACE FUNCTION queue.settle_input(p_jobs jsonb, p_shape text, OUT ids uuid[], OUT by_id jsonb)
 RETURNS record
 LANGUAGE plpgsql
 IMMUTABLE
 SET search_path TO ''
AS $function$
declare
  v_bad record;
  v_clean boolean;
begin
  if p_jobs is null or pg_catalog.jsonb_typeof(p_jobs) <> 'array' then
    perform queue.raise('22QJ3', pg_catalog.format('p_jobs must be a JSON array of %s, got %s', p_shape,
                                                   coalesce(pg_catalog.jsonb_typeof(p_jobs), 'null')),
      'pass [{"id": "<job uuid>", ...}], one element per job');
  end if;
  -- The common case pays for one pass; only a bad element sends us looking for it.
  begin
    select pg_catalog.array_agg(x.id), coalesce(pg_catalog.jsonb_object_agg(x.id::text, x.e)
                                                  filter (where x.id is not null), '{}'::jsonb),
           coalesce(pg_catalog.bool_and(x.id is not null), true)
      into ids, by_id, v_clean
      from (select (e ->> 'id')::uuid as id, e from pg_catalog.jsonb_array_elements(p_jobs) e) x;
  exception when invalid_text_representation then
    v_clean := false;
  end;
  if not v_clean then
    for v_bad in select x.n, x.e from pg_catalog.jsonb_array_elements(p_jobs) with ordinality as x(e, n) loop
      exit when pg_catalog.jsonb_typeof(v_bad.e) <> 'object' or v_bad.e ->> 'id' is null;
      begin
        perform (v_bad.e ->> 'id')::uuid;
      exception when invalid_text_representation then
        exit;
      end;
    end loop;
    perform queue.raise('22QJ3', pg_catalog.format('p_jobs element %s must be an object with a job uuid in "id", got %s',
                                                   v_bad.n, pg_catalog.left(v_bad.e::text, 100)),
      pg_catalog.format('each element looks like %s', p_shape));
  end if;
end
$function$;
comment on function queue.settle_input(p_jobs jsonb, p_shape text, OUT ids uuid[], OUT by_id jsonb) is 'Check a settle call''s [{id, ...}] and split it into the id array (for an index lookup) and the elements keyed by id.';

-- function queue.unanswered_kicks(p_now timestamp with time zone)
CREATE OR REPLACE FUNCTION queue.unanswered_kicks(p_now timestamp with time zone)
 RETURNS jsonb
 LANGUAGE sql
 STABLE
 SET search_path TO ''
AS $function$
  with limit_ as (
    select pg_catalog.make_interval(secs => coalesce((queue.setting('kick_answer_seconds'))::numeric, 30)) as wait
  ),
  late as (
    select k.* from public.job_kicks k, limit_ l
     where k.via = 'pg_net' and k.kicked_at > p_now - interval '1 hour'
       and coalesce(k.answered_at, p_now) > k.kicked_at + l.wait
  )
  select pg_catalog.jsonb_build_object(
    'count', (select pg_catalog.count(*) from late),
    'answer_seconds', (select extract(epoch from l.wait)::double precision from limit_ l),
    'kicks', coalesce((select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'kick_group', x.kick_group, 'kicked_at', x.kicked_at, 'request_id', x.request_id,
                        'answered_at', x.answered_at) order by x.kicked_at desc)
                         from (select * from late order by kicked_at desc limit 10) x), '[]'::jsonb))
$function$;
comment on function queue.unanswered_kicks(p_now timestamp with time zone) is 'pg_net kicks of the last hour no invocation answered within kick_answer_seconds: {count, answer_seconds, kicks[10 latest]}.';

-- function queue.undo_dead_lettered_keys(p_ids uuid[])
CREATE OR REPLACE FUNCTION queue.undo_dead_lettered_keys(p_ids uuid[])
 RETURNS uuid[]
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_undone uuid[];
begin
  with undone as (
    delete from public.job_queue j
     where j.id = any (p_ids) and j.idempotency_key is not null
       and queue.dead_letter_key_job(j.type, j.idempotency_key) is not null
    returning j.id
  ),
  history as (
    delete from public.job_status_events h where h.job_id in (select u.id from undone u)
  )
  select coalesce(pg_catalog.array_agg(u.id), '{}') into v_undone from undone u;
  return v_undone;
end
$function$;
comment on function queue.undo_dead_lettered_keys(p_ids uuid[]) is 'Delete the just-enqueued jobs among p_ids whose idempotency key a dead letter holds; returns their ids.';

-- function queue.url_encode(p_value text)
CREATE OR REPLACE FUNCTION queue.url_encode(p_value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE STRICT
 SET search_path TO ''
AS $function$
  select coalesce(pg_catalog.string_agg(
           case when b between 48 and 57 or b between 65 and 90 or b between 97 and 122 or b in (45, 46, 95, 126)
                then pg_catalog.chr(b)
                else '%' || pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(b), 2, '0')) end,
           '' order by i), '')
    from pg_catalog.generate_series(0, pg_catalog.octet_length(p_value) - 1) as i,
         lateral (select pg_catalog.get_byte(pg_catalog.convert_to(p_value, 'UTF8'), i) as b) as byte
$function$;
comment on function queue.url_encode(p_value text) is 'Percent-encode every UTF-8 byte outside A-Z a-z 0-9 - . _ ~ (RFC 3986 unreserved).';

-- function queue.validate_job(p_type text, p_payload jsonb, p_priority text, p_max_attempts integer, p_depends_on uuid[])
CREATE OR REPLACE FUNCTION queue.validate_job(p_type text, p_payload jsonb, p_priority text, p_max_attempts integer, p_depends_on uuid[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO ''
AS $function$
declare
  v_limit bigint := coalesce((queue.setting('payload_max_bytes'))::text::bigint, 1048576);
  v_size bigint;
  v_client boolean;
  v_uid uuid := auth.uid();
  v_missing uuid;
  v_dead uuid;
begin
  if p_type is null or not exists (select 1 from public.job_types t where t.name = p_type) then
    perform queue.raise('22QT1',
      pg_catalog.format('unknown job type %L; known types: %s', p_type,
        coalesce((select pg_catalog.string_agg(t.name, ', ' order by t.name) from public.job_types t), '(none)')),
      'use one of the known types, or add one with insert into job_types (name) values (...)');
  end if;
  if p_priority is null or p_priority not in ('critical', 'high', 'normal', 'low') then
    perform queue.raise('22QP1',
      pg_catalog.format('invalid priority %L', p_priority),
      'priority must be one of: critical, high, normal, low');
  end if;
  if p_payload is null or pg_catalog.jsonb_typeof(p_payload) <> 'object' then
    perform queue.raise('22QJ1',
      pg_catalog.format('payload must be a JSON object, got %s', coalesce(pg_catalog.jsonb_typeof(p_payload), 'null')),
      'pass an object such as {"to": "a@example.com"}; wrap arrays and scalars in an object');
  end if;
  v_size := pg_catalog.octet_length(p_payload::text);
  if v_size > v_limit then
    perform queue.raise('22QJ2',
      pg_catalog.format('payload is %s bytes, larger than the limit of %s bytes', v_size, v_limit),
      'store large data elsewhere (e.g. Storage) and pass a reference; the limit is queue.settings payload_max_bytes');
  end if;
  if p_max_attempts is not null and (p_max_attempts < 1 or p_max_attempts > 1000) then
    perform queue.raise('22QA1',
      pg_catalog.format('max_attempts must be between 1 and 1000, got %s', p_max_attempts),
      'pass null to use the job type''s default');
  end if;
  if p_depends_on is not null and pg_catalog.cardinality(p_depends_on) > 0 then
    v_client := queue.caller_is_client();
    -- In id order, so concurrent enqueues lock alike. A dependency deleted (dead
    -- lettered) while we waited is then missing from the next statement's snapshot.
    perform 1 from public.job_queue j
     where j.id = any (p_depends_on) and (not v_client or j.owner_id = v_uid)
     order by j.id for share of j;
    select d into v_missing from pg_catalog.unnest(p_depends_on) d
     where not exists (select 1 from public.job_queue j
                        where j.id = d and (not v_client or j.owner_id = v_uid)) limit 1;
    if v_missing is not null then
      perform queue.raise('22QD1',
        pg_catalog.format('depends_on names job %s, which does not exist%s', v_missing,
                          case when v_client then ' or is not one of your jobs' else '' end),
        case when v_client then 'depend only on your own jobs that are still in the queue'
             else 'depend only on jobs that are in job_queue (pending, running or completed and not yet purged)' end);
    end if;
    select j.id into v_dead from public.job_queue j
     where j.id = any (p_depends_on) and j.status = 'cancelled' limit 1;
    if v_dead is not null then
      perform queue.raise('22QD2',
        pg_catalog.format('depends_on names job %s, which was cancelled and will never complete', v_dead),
        'depend only on jobs that can still complete');
    end if;
  end if;
end
$function$;
comment on function queue.validate_job(p_type text, p_payload jsonb, p_priority text, p_max_attempts integer, p_depends_on uuid[]) is 'Raise 22QT1/22QP1/22QJ1/22QJ2/22QA1/22QD1/22QD2 for a bad job description (clients: depends_on only their own jobs).';

-- function queue.worker_trigger_url(p_base text, p_action text, p_type text, p_batch integer)
CREATE OR REPLACE FUNCTION queue.worker_trigger_url(p_base text, p_action text, p_type text, p_batch integer)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE
 SET search_path TO ''
AS $function$
  select p_base || case when pg_catalog.strpos(p_base, '?') > 0 then '&' else '?' end
      || pg_catalog.concat_ws('&',
           'action=' || queue.url_encode(p_action),
           'type=' || queue.url_encode(p_type),
           'batch=' || p_batch)
$function$;
comment on function queue.worker_trigger_url(p_base text, p_action text, p_type text, p_batch integer) is 'p_base with ?action=&type=&batch= appended (each value percent-encoded; null ones left out).';
