-- How many dead letters a selector covers right now: what the console shows before an
-- operator confirms a bulk replay or delete, and the as_of that action is then bound to.
--
-- Contract:
-- dead_letters_count(p_selector) -> {count, as_of[, not_found, already_replayed]}: the
-- letters the selector matches (queue.dead_letter_selection; 22QV1/22QV2/22QV3) that are
-- not yet replayed and failed at or before as_of (now()). Pass as_of to dead_letters_act:
-- letters that fail later are never swept into an action confirmed for this count.
-- For an ids selector, not_found is how many of the ids are no dead letter at all and
-- already_replayed how many were replayed before (neither is counted nor touched).

create or replace function queue.dead_letter_ids_missing(p_sel jsonb)
returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'not_found', pg_catalog.jsonb_array_length(p_sel -> 'ids') - pg_catalog.count(d.id),
    'already_replayed', pg_catalog.count(d.replayed_job_id))
    from public.job_dead_letter d
   where d.id in (select (x.value #>> '{}')::uuid from pg_catalog.jsonb_array_elements(p_sel -> 'ids') x)
$$;
comment on function queue.dead_letter_ids_missing(jsonb) is
  'For a parsed ids selection: {not_found: ids that are no dead letter, already_replayed: letters replayed before}.';
revoke execute on function queue.dead_letter_ids_missing(jsonb) from public;

create or replace function public.dead_letters_count(p_selector jsonb)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
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
$$;

comment on function public.dead_letters_count(jsonb) is
  'Dead letters a selector covers that are not replayed and failed at or before now: {count, as_of} (+ not_found, '
  'already_replayed for ids). Pass as_of to dead_letters_act. Selector errors 22QV1-22QV3.';
revoke execute on function public.dead_letters_count(jsonb) from public, anon, authenticated;
grant execute on function public.dead_letters_count(jsonb) to service_role;

insert into queue.schema_migrations (version) values ('20260106000340') on conflict do nothing;
