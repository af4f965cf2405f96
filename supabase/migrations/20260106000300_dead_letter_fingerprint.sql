-- Error fingerprints: dead letters that failed the same way share one fingerprint, so the
-- console groups them ("412 emails: invalid address <email>") without reading error text
-- at request time.
--
-- Contract:
-- queue.error_fingerprint(text) -> text, immutable: the message's shape with what varies
-- from one job to the next replaced by a placeholder, in this order: uuids -> <uuid>,
-- emails -> <email>, urls -> <url>, IPv4 addresses (with a port) -> <ip>, quoted strings
-- -> '?' / "?", hex ids (0x..., or 8+ hex digits mixing letters and digits) -> <hex>,
-- prefixed ids (cus_..., ch_..., 8+ characters after the underscore with a digit) ->
-- prefix_<id>, numbers (a digit at a word start) -> <n>; whitespace runs -> one space,
-- trimmed. Only the first 2,000 characters are read and the result is cut at 200, so a
-- traceback costs no more than a line. Null in, null out.
-- job_dead_letter.error_fingerprint (not null; '' for a letter without an error) is
-- written by a BEFORE INSERT OR UPDATE OF last_error trigger: always derived, never
-- taken from the writer. Existing letters are backfilled here.
-- job_dead_letter_group_idx (error_fingerprint, type, failed_at) where not replayed:
-- groups, fingerprint selectors and as_of bounds read it index-only.

create or replace function queue.error_fingerprint(p_error text) returns text
language sql immutable strict parallel safe
set search_path = ''
as $$
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
$$;
comment on function queue.error_fingerprint(text) is
  'The shape of an error message: uuids, emails, urls, IPs, quoted strings, hex ids, prefixed ids and numbers '
  'replaced by placeholders (<uuid> <email> <url> <ip> ''?'' <hex> x_<id> <n>), whitespace collapsed, at most '
  '200 characters (from the first 2,000 read). Immutable; null for null.';
revoke execute on function queue.error_fingerprint(text) from public;

alter table public.job_dead_letter add column if not exists error_fingerprint text;
comment on column public.job_dead_letter.error_fingerprint is
  'queue.error_fingerprint(last_error), '''' without an error; written by trigger job_dead_letter_fingerprint.';

-- Backfill the letters the previous head wrote, a batch at a time (the same transaction,
-- but each statement's sort and memory stay small however many letters there are).
do $$
declare
  v_done integer;
begin
  loop
    update public.job_dead_letter d
       set error_fingerprint = coalesce(queue.error_fingerprint(d.last_error), '')
     where d.id in (select x.id from public.job_dead_letter x where x.error_fingerprint is null limit 10000);
    get diagnostics v_done = row_count;
    exit when v_done = 0;
  end loop;
end
$$;
alter table public.job_dead_letter alter column error_fingerprint set default '';
alter table public.job_dead_letter alter column error_fingerprint set not null;

create or replace function queue.dead_letter_fingerprint() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  new.error_fingerprint := coalesce(queue.error_fingerprint(new.last_error), '');
  return new;
end
$$;
comment on function queue.dead_letter_fingerprint() is
  'Trigger: job_dead_letter.error_fingerprint := queue.error_fingerprint(last_error) on insert and on a change of last_error.';
revoke execute on function queue.dead_letter_fingerprint() from public;

drop trigger if exists job_dead_letter_fingerprint on public.job_dead_letter;
create trigger job_dead_letter_fingerprint
  before insert or update of last_error, error_fingerprint on public.job_dead_letter
  for each row execute function queue.dead_letter_fingerprint();

create index if not exists job_dead_letter_group_idx
  on public.job_dead_letter (error_fingerprint, type, failed_at) where replayed_job_id is null;

insert into queue.schema_migrations (version) values ('20260106000300') on conflict do nothing;
