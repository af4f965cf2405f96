-- Replay or delete the dead letters a selector covers, one bounded batch per call, so a
-- console action over 10,000 letters is many short transactions (never a statement
-- timeout, also through PostgREST) recorded as one audit row.
--
-- Contract:
-- dead_letters_act(p_action 'replay'|'delete', p_selector, p_as_of, p_batch 500 (1-1000),
--                  p_actor 'sql', p_action_id null) -> {action_id, affected, remaining[, not_found,
--                  already_replayed]}
-- takes up to p_batch letters the selector matches (queue.dead_letter_selection) that are not
-- replayed and failed at or before p_as_of (from dead_letters_count; required), oldest first,
-- FOR UPDATE SKIP LOCKED, and replays each exactly as retry_dead_letter_job does (a new
-- pending job, attempts 0, the letter's idempotency key; replayed_job_id/replayed_at set) or
-- deletes them. A letter is never replayed twice: a concurrent caller skips the letters this
-- one holds and finds them replayed once it commits. affected = letters changed by this call;
-- remaining = letters still matching afterwards (letters another caller holds count until it
-- commits, so a caller that sees affected 0 with remaining > 0 should stop: someone else is
-- on them).
-- Audit: the first call (p_action_id null) records one console_actions row (action
-- dead_letters.replay|dead_letters.delete, target {selector, as_of}, detail {batches,
-- not_found, already_replayed}) and returns its id; later batches pass it back and add their
-- affected count to it. An action_id of another action, selector or as_of is 22QV7.
-- For an ids selector, not_found/already_replayed (ids that are no dead letter / were replayed
-- before) are counted on the first batch, kept in the audit row and returned on every batch.
-- Errors: 22QV4 action not replay/delete or actor not admin/cli/sql, 22QV5 p_as_of missing,
-- 22QB1 batch out of range, 22QV1-22QV3 selector.

create or replace function public.dead_letters_act(p_action text, p_selector jsonb, p_as_of timestamptz,
                                                   p_batch integer default 500, p_actor text default 'sql',
                                                   p_action_id bigint default null)
returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
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
$$;
comment on function public.dead_letters_act(text, jsonb, timestamptz, integer, text, bigint) is
  'One bounded batch (p_batch 1-1000, SKIP LOCKED) of replay (as retry_dead_letter_job) or delete over the letters the '
  'selector covers that are not replayed and failed at or before p_as_of: {action_id, affected, remaining}. First call '
  'records a console_actions row; pass its action_id back for the next batches. 22QV1-22QV5, 22QV7, 22QB1.';
revoke execute on function public.dead_letters_act(text, jsonb, timestamptz, integer, text, bigint)
  from public, anon, authenticated;
grant execute on function public.dead_letters_act(text, jsonb, timestamptz, integer, text, bigint) to service_role;

insert into queue.schema_migrations (version) values ('20260106000350') on conflict do nothing;
