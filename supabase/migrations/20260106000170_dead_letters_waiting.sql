-- Dead letters waiting (not yet replayed) per type, kept as counters so the console's
-- overview does not count job_dead_letter at request time (100k rows: ~45 ms; the counters: 0).
--
-- Contract: queue.dead_letters_waiting(type, waiting) holds, per type, how many
-- job_dead_letter rows have replayed_job_id null. Statement-level triggers on job_dead_letter
-- (insert, update, delete: one upsert per statement and type, from the transition tables;
-- truncate: reset) keep it exact in the same transaction as the change, whichever function
-- made it. Types are upserted in name order, so concurrent statements cannot deadlock on the
-- counters. console_overview reads its `dead_letters` from here.

create table if not exists queue.dead_letters_waiting (
  type    text primary key,
  waiting bigint not null default 0
);

create or replace function queue.dead_letters_waiting_add(p_deltas jsonb)
returns void
language sql volatile
set search_path = ''
as $$
  insert into queue.dead_letters_waiting as w (type, waiting)
  select d.key, d.value::bigint from pg_catalog.jsonb_each_text(p_deltas) d where d.value::bigint <> 0
   order by d.key
  on conflict (type) do update set waiting = w.waiting + excluded.waiting
$$;
comment on function queue.dead_letters_waiting_add(jsonb) is
  'Add {type: delta} to queue.dead_letters_waiting, in type order.';
revoke execute on function queue.dead_letters_waiting_add(jsonb) from public;

create or replace function queue.dead_letters_waiting_on_insert()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform queue.dead_letters_waiting_add(
    (select pg_catalog.jsonb_object_agg(n.type, n.c) from
       (select r.type, pg_catalog.count(*) as c from new_rows r where r.replayed_job_id is null group by 1) n));
  return null;
end
$$;

create or replace function queue.dead_letters_waiting_on_update()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform queue.dead_letters_waiting_add(
    (select pg_catalog.jsonb_object_agg(x.type, x.c) from
       (select u.type, pg_catalog.sum(u.c) as c from
          (select r.type, 1 as c from new_rows r where r.replayed_job_id is null
           union all
           select r.type, -1 from old_rows r where r.replayed_job_id is null) u group by 1) x));
  return null;
end
$$;

create or replace function queue.dead_letters_waiting_on_delete()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform queue.dead_letters_waiting_add(
    (select pg_catalog.jsonb_object_agg(o.type, -o.c) from
       (select r.type, pg_catalog.count(*) as c from old_rows r where r.replayed_job_id is null group by 1) o));
  return null;
end
$$;

create or replace function queue.dead_letters_waiting_on_truncate()
returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  delete from queue.dead_letters_waiting;
  return null;
end
$$;

comment on function queue.dead_letters_waiting_on_insert() is 'Count the new waiting dead letters per type.';
comment on function queue.dead_letters_waiting_on_update() is 'Move the waiting counts by what an update replayed (or un-replayed).';
comment on function queue.dead_letters_waiting_on_delete() is 'Uncount the deleted waiting dead letters.';
comment on function queue.dead_letters_waiting_on_truncate() is 'No dead letters, nothing waiting.';
revoke execute on function queue.dead_letters_waiting_on_insert() from public;
revoke execute on function queue.dead_letters_waiting_on_update() from public;
revoke execute on function queue.dead_letters_waiting_on_delete() from public;
revoke execute on function queue.dead_letters_waiting_on_truncate() from public;

drop trigger if exists job_dead_letter_waiting_insert on public.job_dead_letter;
drop trigger if exists job_dead_letter_waiting_update on public.job_dead_letter;
drop trigger if exists job_dead_letter_waiting_delete on public.job_dead_letter;
drop trigger if exists job_dead_letter_waiting_truncate on public.job_dead_letter;
create trigger job_dead_letter_waiting_insert after insert on public.job_dead_letter
  referencing new table as new_rows for each statement execute function queue.dead_letters_waiting_on_insert();
create trigger job_dead_letter_waiting_update after update on public.job_dead_letter
  referencing old table as old_rows new table as new_rows
  for each statement execute function queue.dead_letters_waiting_on_update();
create trigger job_dead_letter_waiting_delete after delete on public.job_dead_letter
  referencing old table as old_rows for each statement execute function queue.dead_letters_waiting_on_delete();
create trigger job_dead_letter_waiting_truncate after truncate on public.job_dead_letter
  for each statement execute function queue.dead_letters_waiting_on_truncate();

-- What is there now (the triggers count from here on; the table lock keeps the two in step).
-- One DO block, so the lock and the recount share a transaction also where each statement
-- runs on its own (the Supabase CLI applies statements outside a transaction block).
do $$
begin
  lock table public.job_dead_letter in share row exclusive mode;
  delete from queue.dead_letters_waiting;
  insert into queue.dead_letters_waiting (type, waiting)
  select d.type, pg_catalog.count(*) from public.job_dead_letter d where d.replayed_job_id is null group by 1;
end
$$;

insert into queue.schema_migrations (version) values ('20260106000170') on conflict do nothing;
