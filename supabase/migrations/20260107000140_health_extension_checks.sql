-- Health checks of the Supabase machinery the queue leans on, where it is installed:
-- pg_net (the worker's HTTP trigger and kicks) and pg_cron (its ticks and maintenance).
--
-- Contract: queue.health_extension_checks(p_now) returns {checks: [...], not_checked: [...]}:
-- - pg_net_backlog: requests waiting in net.http_request_queue, vs health_pg_net_queue_max
--   (pg_net's background worker is stopped or cannot keep up);
-- - pg_net_failures: responses of the hour before p_now in net._http_response with an
--   error_msg or a status >= 400, vs health_pg_net_failures_max_per_hour; details: the 5 latest;
-- - cron_failures: cron.job_run_details runs started in the hour before p_now with status
--   'failed', vs health_cron_failures_max_per_hour; details: the 5 latest with their job name;
-- - cron_run_details_rows: rows in cron.job_run_details (the statistics' live-tuple estimate,
--   so it costs no scan), vs health_cron_run_details_max_rows.
-- A table that is absent (the extension is not installed) or unreadable puts
-- {check, reason} in not_checked instead: nothing is reported as fine that was not looked at.
-- The tables are reached with EXECUTE on the regclass found, so this compiles and lints
-- (plpgsql_check) where they do not exist.

create or replace function queue.health_extension_checks(p_now timestamptz) returns jsonb
language plpgsql stable
set search_path = ''
as $$
declare
  v_checks jsonb := '[]'::jsonb;
  v_skipped jsonb := '[]'::jsonb;
  v_count bigint;
  v_latest jsonb;
  v_net_queue regclass := pg_catalog.to_regclass('net.http_request_queue');
  v_net_response regclass := pg_catalog.to_regclass('net._http_response');
  v_cron_runs regclass := pg_catalog.to_regclass('cron.job_run_details');
  v_cron_jobs regclass := pg_catalog.to_regclass('cron.job');
begin
  if v_net_queue is null then
    v_skipped := v_skipped || '[{"check": "pg_net_backlog", "reason": "pg_net is not installed"}]'::jsonb;
  else
    begin
      execute pg_catalog.format('select pg_catalog.count(*) from %s', v_net_queue) into v_count;
      v_checks := v_checks || queue.health_check('pg_net_backlog', '{}'::jsonb, v_count,
        queue.health_setting('health_pg_net_queue_max', 1000), 'requests',
        'pg_net''s requests are not being sent: is its background worker running (select net.worker_restart()), is pg_net.batch_size too small?');
    exception when insufficient_privilege then
      v_skipped := v_skipped || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'check', 'pg_net_backlog', 'reason', 'cannot read net.http_request_queue: ' || sqlerrm));
    end;
  end if;

  if v_net_response is null then
    v_skipped := v_skipped || '[{"check": "pg_net_failures", "reason": "pg_net is not installed"}]'::jsonb;
  else
    begin
      execute pg_catalog.format($q$
        with failed as (
          select r.id, r.status_code, pg_catalog.left(r.error_msg, 200) as error_msg, r.created
            from %s r
           where r.created > $1 - interval '1 hour' and r.created <= $1
             and (r.error_msg is not null or r.status_code >= 400))
        select (select pg_catalog.count(*) from failed),
               coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) order by f.created desc)
                           from (select * from failed order by created desc limit 5) f), '[]'::jsonb)
      $q$, v_net_response) into v_count, v_latest using p_now;
      v_checks := v_checks || queue.health_check('pg_net_failures', '{}'::jsonb, v_count,
        queue.health_setting('health_pg_net_failures_max_per_hour', 10), 'failed responses in the last hour',
        'pg_net requests failed: check worker_url, the worker secret and what the function answered (net._http_response)',
        pg_catalog.jsonb_build_object('latest', v_latest));
    exception when insufficient_privilege then
      v_skipped := v_skipped || pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object(
        'check', 'pg_net_failures', 'reason', 'cannot read net._http_response: ' || sqlerrm));
    end;
  end if;

  if v_cron_runs is null or v_cron_jobs is null then
    v_skipped := v_skipped || '[{"check": "cron_failures", "reason": "pg_cron is not installed"},
                                {"check": "cron_run_details_rows", "reason": "pg_cron is not installed"}]'::jsonb;
  else
    begin
      execute pg_catalog.format($q$
        with failed as (
          select d.jobid, j.jobname, d.start_time, pg_catalog.left(d.return_message, 200) as return_message
            from %s d left join %s j on j.jobid = d.jobid
           where d.status = 'failed' and d.start_time > $1 - interval '1 hour' and d.start_time <= $1)
        select (select pg_catalog.count(*) from failed),
               coalesce((select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(f) order by f.start_time desc)
                           from (select * from failed order by start_time desc limit 5) f), '[]'::jsonb)
      $q$, v_cron_runs, v_cron_jobs) into v_count, v_latest using p_now;
      v_checks := v_checks || queue.health_check('cron_failures', '{}'::jsonb, v_count,
        queue.health_setting('health_cron_failures_max_per_hour', 0), 'failed runs in the last hour',
        'pg_cron runs failed: their return_message says why (select * from cron.job_run_details where status = ''failed'' order by start_time desc)',
        pg_catalog.jsonb_build_object('latest', v_latest));
      v_checks := v_checks || queue.health_check('cron_run_details_rows', '{}'::jsonb,
        (select greatest(s.n_live_tup, 0) from pg_catalog.pg_stat_all_tables s
          where s.relid = v_cron_runs),
        queue.health_setting('health_cron_run_details_max_rows', 100000), 'rows (estimated)',
        'cron.job_run_details grows by a row per run: the queue-purge-cron-history job deletes ours after 7 days; delete older rows of other jobs or set cron.log_run = off');
    exception when insufficient_privilege then
      v_skipped := v_skipped || pg_catalog.jsonb_build_array(
        pg_catalog.jsonb_build_object('check', 'cron_failures', 'reason', 'cannot read cron.job_run_details: ' || sqlerrm),
        pg_catalog.jsonb_build_object('check', 'cron_run_details_rows', 'reason', 'cannot read cron.job_run_details: ' || sqlerrm));
    end;
  end if;
  return pg_catalog.jsonb_build_object('checks', v_checks, 'not_checked', v_skipped);
end
$$;
comment on function queue.health_extension_checks(timestamptz) is
  'pg_net_backlog, pg_net_failures, cron_failures and cron_run_details_rows where pg_net / pg_cron exist; the others in not_checked with the reason.';
revoke execute on function queue.health_extension_checks(timestamptz) from public;

insert into queue.schema_migrations (version) values ('20260107000140') on conflict do nothing;
