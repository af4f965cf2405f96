-- A signed-in user's own jobs, live: the owner-readable rows and Supabase Realtime.
--
-- Contract:
-- * job_queue: `authenticated` may select id, type, status, progress, progress_message,
--   result, the times, and (new here) owner_id; RLS (job_queue_owner_reads_own) keeps each
--   user to the rows whose owner_id is their auth.uid(), so owner_id is only ever their own
--   id. Realtime needs it selectable to accept a subscription filtered by it
--   (`owner_id=eq.<uid>`: realtime.subscription_check_filters refuses a filter on a column
--   the subscriber's role may not select).
-- * job_dead_letter (new here): the same for a job that failed for good and left
--   job_queue: `authenticated` may select id, job_id, type, owner_id, job_created_at,
--   failed_at, replayed_job_id and replayed_at of their own dead letters (policy
--   job_dead_letter_owner_reads_own). Never the payload, the error text or the error
--   history, in either table: those stay with the server.
-- * Where a publication named supabase_realtime exists (Supabase creates it; plain
--   PostgreSQL has none), job_queue and job_dead_letter are added to it, once; anywhere
--   else this part does nothing but say so in a NOTICE. Run this file again (psql -f)
--   after creating the publication to publish them.
--
-- What Realtime guarantees with this: for postgres_changes, Realtime checks every change
-- against RLS as each subscriber (their JWT's role and claims, re-reading the row by
-- primary key), and sends only the columns that subscriber's role may select. So each
-- user receives INSERT and UPDATE events of their own jobs only, without payload or
-- errors. DELETE events cannot be checked against RLS (the row is gone): Realtime sends
-- them with the primary key only and they cannot be filtered, so an app should listen
-- to INSERT and UPDATE, not '*' (a job leaves job_queue by DELETE when it is dead-lettered
-- or purged; the dead letter's INSERT tells its owner it failed).
--
-- REPLICA IDENTITY stays DEFAULT (the primary key), deliberately. An UPDATE event's
-- record comes from the new row, which logical decoding always carries in full, and the
-- RLS check re-reads the row by id, so neither needs the old row. FULL would add only the
-- old values (`old_record`, which with RLS on carries the primary key alone anyway), at
-- the price of writing every updated job's whole old row into the WAL on every claim,
-- heartbeat, progress report and settle, its TOASTed payload flattened in too: a cost on
-- the queue's hottest path for nothing an app needs. (The same goes for a publication row
-- filter such as `where (owner_id is not null)`: for UPDATE it requires the filtered
-- column in the replica identity, hence FULL, since owner_id is nullable and cannot carry
-- an identity index.)

alter table public.job_dead_letter enable row level security;

grant select (owner_id) on public.job_queue to authenticated;
grant select (id, job_id, type, owner_id, job_created_at, failed_at, replayed_job_id, replayed_at)
  on public.job_dead_letter to authenticated;

drop policy if exists job_dead_letter_owner_reads_own on public.job_dead_letter;
create policy job_dead_letter_owner_reads_own on public.job_dead_letter
  for select to authenticated
  using (owner_id is not null and owner_id = (select auth.uid()));

-- A user's dead letters, newest first (the policy above and my_jobs).
create index if not exists job_dead_letter_owner_idx
  on public.job_dead_letter (owner_id, job_created_at desc) where owner_id is not null;

do $$
declare
  v_table text;
begin
  if not exists (select 1 from pg_catalog.pg_publication p where p.pubname = 'supabase_realtime') then
    raise notice 'no supabase_realtime publication here: job_queue and job_dead_letter are not published '
                 'for Realtime (run this file again after creating it)';
    return;
  end if;
  foreach v_table in array array['job_queue', 'job_dead_letter'] loop
    -- pg_publication_tables also lists tables published FOR ALL TABLES or by schema.
    if not exists (select 1 from pg_catalog.pg_publication_tables t
                    where t.pubname = 'supabase_realtime' and t.schemaname = 'public' and t.tablename = v_table) then
      execute pg_catalog.format('alter publication supabase_realtime add table public.%I', v_table);
    end if;
  end loop;
exception when insufficient_privilege then
  raise notice 'may not alter publication supabase_realtime (%): publish the jobs as its owner with '
               'alter publication supabase_realtime add table public.job_queue, public.job_dead_letter', sqlerrm;
end
$$;

insert into queue.schema_migrations (version) values ('20260106000500') on conflict do nothing;
