-- console_jobs: the operator console's job listing, newest first, filtered, keyset-paged.
--
-- Contract:
-- console_jobs(p_filter jsonb default '{}', p_after bigint default null, p_limit integer default 50)
--   returns {"jobs": [{id, seq, type, status, priority, attempts, max_attempts, run_at,
--            created_at, started_at, finished_at, owner_id, last_error, progress}],
--            "next_after": seq | null}
-- Jobs of job_queue ordered by seq descending (seq: the enqueue order). p_after pages on:
-- pass the previous page's next_after to get the jobs enqueued before its last one; it is
-- null when nothing is left. Jobs enqueued while paging have a higher seq, so paging never
-- repeats or skips a job that existed when the first page was read. last_error is cut to
-- 500 characters here (console_job has it whole). Dead-lettered jobs are not in job_queue:
-- the dead letter view lists them.
-- p_filter is a JSON object; every key is optional, a JSON null counts as not given:
--   type      a job type name (job_types)
--   status    pending | running | completed | cancelled, or the pseudo statuses
--             ready (pending, run_at <= now()) and scheduled (pending, run_at > now())
--   priority  low | normal | high | critical
--   owner     owner_id, a uuid
--   from, to  created_at >= from and created_at < to, ISO 8601 timestamps
--             (2026-01-06, 2026-01-06T09:00:00Z, 2026-01-06 09:00:00+02)
--   q         1-200 characters, found case-insensitively in payload::text or last_error
-- Refusals, each naming the key and what is allowed, changing nothing:
--   22QS1  p_filter not a JSON object, or a key that is not one of the above
--   22QS2  a filter value of the wrong JSON type or not an allowed value (unknown type,
--          status or priority; a malformed uuid or timestamp; from after to; q empty or long)
--   22QS3  p_limit outside 1-200, or p_after below 1
-- Plans: with the filter's predicates only (built as dynamic SQL, planned with the values),
-- a page walks job_queue_seq_idx backwards until it has p_limit + 1 matches; owner and
-- pending/running filters may use their partial indexes instead. A filter that matches few
-- of many rows (a rare q) reads as many index entries as it must to fill the page.

-- Validates p_filter and returns the SQL predicate for it ($1 = the filter object).
create or replace function queue.console_jobs_where(p_filter jsonb)
returns text
language plpgsql stable
set search_path = ''
as $$
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
$$;
comment on function queue.console_jobs_where(jsonb) is
  'Validate a console_jobs filter (22QS1 unknown key / not an object, 22QS2 bad value) and return its SQL predicate over j, with $1 the filter.';

-- What a filter key allows, for the HINT of a refusal.
create or replace function queue.console_jobs_allowed(p_key text)
returns text
language sql stable
set search_path = ''
as $$
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
$$;
comment on function queue.console_jobs_allowed(text) is 'What a console_jobs filter key allows (a hint for 22QS2).';

-- An ISO 8601 timestamp, or 22QS2 naming the key. null stays null.
create or replace function queue.console_jobs_timestamp(p_key text, p_value text)
returns timestamptz
language plpgsql stable
set search_path = ''
as $$
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
$$;
comment on function queue.console_jobs_timestamp(text, text) is
  'Parse a console_jobs from/to value (ISO 8601); 22QS2 naming the key when it is not one.';

create or replace function public.console_jobs(p_filter jsonb default '{}'::jsonb, p_after bigint default null,
                                               p_limit integer default 50)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
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
$$;
comment on function public.console_jobs(jsonb, bigint, integer) is
  'Console job listing: {jobs: [{id, seq, type, status, priority, attempts, max_attempts, run_at, created_at, started_at, finished_at, owner_id, last_error (500 chars), progress}], next_after}, newest (highest seq) first; p_after = the previous next_after. p_filter keys: type, status (pending|running|completed|cancelled|ready|scheduled), priority, owner (uuid), from/to (created_at, ISO 8601, from inclusive), q (1-200 chars in payload or last_error). 22QS1 unknown key or not an object, 22QS2 bad value, 22QS3 limit not 1-200 or after < 1.';

revoke execute on function queue.console_jobs_where(jsonb) from public;
revoke execute on function queue.console_jobs_allowed(text) from public;
revoke execute on function queue.console_jobs_timestamp(text, text) from public;
revoke execute on function public.console_jobs(jsonb, bigint, integer) from public, anon, authenticated;
grant execute on function public.console_jobs(jsonb, bigint, integer) to service_role;

insert into queue.schema_migrations (version) values ('20260106000210') on conflict do nothing;
