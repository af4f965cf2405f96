-- trigger_queue_worker percent-encodes p_type in the worker URL.
--
-- Contract: queue.url_encode(s) percent-encodes every UTF-8 byte of s outside the URL
-- unreserved set (A-Z a-z 0-9 - . _ ~), so a job type such as 'a&action=stats' or
-- 'ünï code' reaches the worker as one query value instead of rewriting the query.
-- queue.worker_trigger_url(base, action, type, batch) is the URL trigger_queue_worker
-- posts to; trigger_queue_worker is otherwise unchanged (same arguments, checks, result).

create or replace function queue.url_encode(p_value text) returns text
language sql immutable strict parallel safe
set search_path = ''
as $$
  select coalesce(pg_catalog.string_agg(
           case when b between 48 and 57 or b between 65 and 90 or b between 97 and 122 or b in (45, 46, 95, 126)
                then pg_catalog.chr(b)
                else '%' || pg_catalog.upper(pg_catalog.lpad(pg_catalog.to_hex(b), 2, '0')) end,
           '' order by i), '')
    from pg_catalog.generate_series(0, pg_catalog.octet_length(p_value) - 1) as i,
         lateral (select pg_catalog.get_byte(pg_catalog.convert_to(p_value, 'UTF8'), i) as b) as byte
$$;
comment on function queue.url_encode(text) is
  'Percent-encode every UTF-8 byte outside A-Z a-z 0-9 - . _ ~ (RFC 3986 unreserved).';

create or replace function queue.worker_trigger_url(
  p_base text, p_action text, p_type text, p_batch integer
) returns text
language sql immutable
set search_path = ''
as $$
  select p_base || case when pg_catalog.strpos(p_base, '?') > 0 then '&' else '?' end
      || pg_catalog.concat_ws('&',
           'action=' || queue.url_encode(p_action),
           'type=' || queue.url_encode(p_type),
           'batch=' || p_batch)
$$;
comment on function queue.worker_trigger_url(text, text, text, integer) is
  'p_base with ?action=&type=&batch= appended (each value percent-encoded; null ones left out).';

revoke execute on function queue.url_encode(text) from public;
revoke execute on function queue.worker_trigger_url(text, text, text, integer) from public;

-- Same as 20260101001000_pg_cron.sql but for the URL, built by queue.worker_trigger_url.
create or replace function public.trigger_queue_worker(
  p_action text default 'process', p_type text default null, p_batch integer default null
) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_url text := queue.setting('worker_url') #>> '{}';
  v_secret text := queue.setting('worker_secret') #>> '{}';
  v_id bigint;
begin
  if p_action is null or p_action not in ('process', 'health', 'stats') then
    perform queue.raise('22QX1', pg_catalog.format('unknown action %L', p_action), 'use process, health or stats');
  end if;
  if p_batch is not null and (p_batch < 1 or p_batch > 1000) then
    perform queue.raise('22QB1', pg_catalog.format('p_batch must be between 1 and 1000, got %s', p_batch), 'pass null for the default (10)');
  end if;
  if v_url is null or v_url = '' then
    raise notice 'trigger_queue_worker: no worker_url in queue.settings; nothing sent';
    return null;
  end if;
  if pg_catalog.to_regnamespace('net') is null then
    raise notice 'trigger_queue_worker: pg_net is not installed; nothing sent';
    return null;
  end if;
  if pg_catalog.to_regclass('vault.decrypted_secrets') is not null then
    -- plpgsql_check (supabase db lint) resolves this constant query and reports
    -- vault.decrypted_secrets missing wherever Supabase Vault is not installed; the
    -- to_regclass guard above is what keeps it from running there, so skip the check.
    perform 'PRAGMA:disable:check';
    execute 'select decrypted_secret from vault.decrypted_secrets where name = $1'
      into v_secret using 'queue_worker_secret';
    v_secret := coalesce(v_secret, queue.setting('worker_secret') #>> '{}');
  end if;
  -- The same for net.http_post: pg_net is optional and checked for above.
  perform 'PRAGMA:disable:check';
  execute 'select net.http_post(url := $1, body := $2, headers := $3, timeout_milliseconds := $4)'
    into v_id
    using queue.worker_trigger_url(v_url, p_action, p_type, p_batch),
          '{}'::jsonb,
          pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
            'Content-Type', 'application/json',
            'Authorization', case when v_secret is not null then 'Bearer ' || v_secret end)),
          55000;
  return v_id;
end
$$;
comment on function public.trigger_queue_worker(text, text, integer) is
  'POST ?action=p_action[&type][&batch] (percent-encoded) to the configured worker URL through pg_net; null when not configured.';

insert into queue.schema_migrations (version) values ('20260104000210') on conflict do nothing;
