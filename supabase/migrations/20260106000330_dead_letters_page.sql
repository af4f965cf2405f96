-- The console's list of dead letters: newest first, filtered, keyset-paged, so the
-- 10,000th page costs what the first does.
--
-- Contract:
-- dead_letters_page(p_filter {type?, fingerprint?, q?, from?, to?, replayed?} (see
-- queue.dead_letter_filter; 22QV3), p_after text null, p_limit 50 (1-200, else 22QB1))
-- -> {dead_letters: [{id, job_id, type, priority, last_error (first 2,000 characters),
-- fingerprint, attempts, max_attempts, job_created_at, failed_at, replayed_job_id,
-- replayed_at}], next_after}. Order: failed_at desc, id desc. Replayed letters are listed
-- too (replayed_job_id set) unless the filter says "replayed": false.
-- next_after is null on the last page, else an opaque cursor ("<failed_at UTC>,<id>") to
-- pass back as p_after; a cursor that does not parse is 22QV6.

create index if not exists job_dead_letter_page_idx on public.job_dead_letter (failed_at desc, id desc);
create index if not exists job_dead_letter_type_page_idx on public.job_dead_letter (type, failed_at desc, id desc);

create or replace function public.dead_letters_page(p_filter jsonb default '{}'::jsonb, p_after text default null,
                                                    p_limit integer default 50)
returns jsonb
language plpgsql stable security definer
set search_path = ''
as $$
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
$$;
comment on function public.dead_letters_page(jsonb, text, integer) is
  'Dead letters newest first (failed_at desc, id desc): {dead_letters: [...], next_after}. p_filter {type, fingerprint, '
  'q, from, to, replayed} (22QV3), p_after the previous next_after (22QV6), p_limit 1-200 (22QB1).';
revoke execute on function public.dead_letters_page(jsonb, text, integer) from public, anon, authenticated;
grant execute on function public.dead_letters_page(jsonb, text, integer) to service_role;

insert into queue.schema_migrations (version) values ('20260106000330') on conflict do nothing;
