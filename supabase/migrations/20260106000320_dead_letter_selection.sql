-- Which dead letters a console request means: the one parser of selectors and filters that
-- dead_letters_page, dead_letters_count and dead_letters_act share, so a count and the
-- action that follows it can never disagree about what they cover.
--
-- Contract:
-- A parsed selection is a jsonb object with any of: ids (distinct uuid strings), fingerprint,
-- type, q (lowercased), from, to (timestamps), replayed (boolean).
-- queue.dead_letter_filter(p_filter jsonb, p_allowed text[]) -> selection:
--   an object whose keys are among p_allowed (of type, fingerprint, q, from, to, replayed);
--   type/fingerprint/q strings (q at most 200 characters, matched case-insensitively as a
--   substring of last_error), from/to timestamps (failed_at >= from, failed_at < to),
--   replayed a boolean. Null or {} is everything. Otherwise 22QV3 naming the key.
-- queue.dead_letter_selection(p_selector jsonb) -> selection: exactly one of
--   {"ids": [uuid, ...]} (1-1000 distinct dead-letter ids; 22QV2 otherwise),
--   {"fingerprint": F, "type": T} (type optional) or {"filter": {type?, q?, from?, to?}};
--   anything else 22QV1 with the allowed forms in the message.
-- queue.dead_letter_where(selection, p_for_action) -> text: the SQL condition on alias d,
--   reading the selection from $1 and as_of from $2 (callers pass both with EXECUTE ... USING,
--   so each call is planned for its own values). p_for_action adds "not replayed and
--   failed_at <= $2" (what count and act cover); otherwise selection.replayed (absent = both).

create or replace function queue.dead_letter_filter(p_filter jsonb, p_allowed text[])
returns jsonb
language plpgsql stable
set search_path = ''
as $$
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
$$;
comment on function queue.dead_letter_filter(jsonb, text[]) is
  'Parse a dead-letter filter object (keys among p_allowed: type, fingerprint, q, from, to, replayed); 22QV3 when malformed.';
revoke execute on function queue.dead_letter_filter(jsonb, text[]) from public;

create or replace function queue.dead_letter_selection(p_selector jsonb)
returns jsonb
language plpgsql stable
set search_path = ''
as $$
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
$$;
comment on function queue.dead_letter_selection(jsonb) is
  'Parse a selector: {"ids": [...]} (1-1000, 22QV2) | {"fingerprint", "type"?} | {"filter": {type?, q?, from?, to?}}; '
  'anything else 22QV1.';
revoke execute on function queue.dead_letter_selection(jsonb) from public;

create or replace function queue.dead_letter_where(p_sel jsonb, p_for_action boolean)
returns text
language sql immutable
set search_path = ''
as $$
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
$$;
comment on function queue.dead_letter_where(jsonb, boolean) is
  'The SQL condition (alias d; $1 the parsed selection, $2 as_of) for a parsed selection; p_for_action: only letters '
  'not replayed and failed at or before $2.';
revoke execute on function queue.dead_letter_where(jsonb, boolean) from public;

insert into queue.schema_migrations (version) values ('20260106000320') on conflict do nothing;
