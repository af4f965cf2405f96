-- The enqueuer's trace context travels with the job: job_queue.traceparent holds the W3C
-- traceparent of the span that enqueued it, so the worker's span for the job links to it.
--
-- Contract:
-- job_queue.traceparent (text, null) defaults to the transaction's trace context:
--   1. the setting queue.traceparent (`set local queue.traceparent = '00-...'` before an
--      enqueue in plain SQL; the Python backend sets it in the enqueue statement itself);
--   2. else the `traceparent` header of the PostgREST request (its JSON request.headers
--      setting), so supabase-js / supabase-py callers that send the header get it too;
--   3. else null.
-- Only a well-formed version-00 traceparent is taken
-- (00-<32 lowercase hex, not all 0>-<16 lowercase hex, not all 0>-<2 hex>); anything else
-- counts as absent, so a malformed one is stored as null, never an error. The default
-- cannot make an enqueue fail: it reads the settings with missing_ok and parses nothing as
-- JSON (a regular expression finds the header in the JSON text; header names cannot hold
-- a quote, so only the traceparent key itself matches), and `set request.headers = 'x'`
-- yields null. enqueue_job, enqueue_jobs and get_next_job are unchanged: every insert takes
-- the default; a worker reads the column only when its tracing is on.
--
-- Added, then defaulted, in two statements: a column added without a default is only a
-- catalog change (no table rewrite, existing rows read null), and so is setting a default;
-- each holds job_queue's lock only for that catalog update.

alter table public.job_queue add column if not exists traceparent text;

alter table public.job_queue alter column traceparent set default coalesce(
  pg_catalog.substring(pg_catalog.current_setting('queue.traceparent', true),
                       '^(00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2})$'),
  pg_catalog.substring(pg_catalog.current_setting('request.headers', true),
                       '"traceparent"\s*:\s*"(00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2})"'));

comment on column public.job_queue.traceparent is
  'W3C traceparent of the span that enqueued the job (setting queue.traceparent, else the PostgREST '
  'request''s traceparent header; malformed or absent: null). The worker''s job span links to it.';

insert into queue.schema_migrations (version) values ('20260107000300') on conflict do nothing;
