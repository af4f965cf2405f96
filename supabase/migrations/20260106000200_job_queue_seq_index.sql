-- An index on job_queue.seq, for the operator console's job listing (console_jobs).
--
-- Why: console_jobs pages through every job, newest first, by keyset on seq
-- (`where seq < p_after order by seq desc limit n`). seq is the identity column that
-- orders enqueues, and nothing indexed it: without this index every page is a sort of the
-- whole table (a million finished rows: a full scan per page). With it a page reads its
-- n rows from the right end of the index, however many rows the table holds, and a
-- filtered page reads index entries newest first until it has n matches.
--
-- Why seq and not (created_at, id): no index on created_at exists either, created_at
-- (the enqueueing transaction's start) can tie and run out of order with the commit order,
-- and seq is already unique and monotonic: one bigint column is the smallest key to add.
--
-- The write cost: one more btree insert per new row version. seq never changes, but the
-- claim and the completion already change indexed columns (status, in the partial
-- indexes' predicates; locked_until; finished_at), so those updates are not HOT and insert
-- into every index anyway: this adds one entry per enqueue, per claim and per completion,
-- always at the right end of the index (seq only grows), so it costs little and never
-- splits a page in the middle. Measured with `queue-worker bench` (see the console
-- helper's report of issue 11): within the run-to-run noise of the drain rate.
-- Vacuum removes the dead entries with the dead row versions, as for the other indexes.

create index if not exists job_queue_seq_idx on public.job_queue (seq);
comment on index public.job_queue_seq_idx is
  'Keyset paging of console_jobs (newest first). One right-end btree insert per row version.';

insert into queue.schema_migrations (version) values ('20260106000200') on conflict do nothing;
