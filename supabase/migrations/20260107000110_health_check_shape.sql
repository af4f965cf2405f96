-- One health check's shape and severity, shared by every check of health_warnings().
--
-- Contract:
-- queue.health_setting(key, default) is the numeric queue.settings value, or default when unset.
-- queue.health_check(check, subject, value, threshold, unit, hint, details) returns
--   {check, severity, value, threshold, critical_above, unit, hint} || subject || {details}
-- where severity is 'ok' when value is null or <= threshold, 'critical' when value exceeds
-- critical_above (threshold x health_critical_factor; the factor itself for a threshold of 0),
-- else 'warning'. subject names what was checked ({"type": ...}, {"table": ...}).
-- queue.health_rank(severity) orders severities: ok 0, warning 1, critical 2.

create or replace function queue.health_setting(p_key text, p_default numeric) returns numeric
language sql stable
set search_path = ''
as $$ select coalesce((queue.setting(p_key))::numeric, p_default) $$;
comment on function queue.health_setting(text, numeric) is 'A numeric queue.settings value, or p_default when unset.';
revoke execute on function queue.health_setting(text, numeric) from public;

create or replace function queue.health_check(p_check text, p_subject jsonb, p_value numeric, p_threshold numeric,
                                              p_unit text, p_hint text, p_details jsonb default '{}'::jsonb)
returns jsonb
language sql stable
set search_path = ''
as $$
  with limits as (
    select case when p_threshold > 0 then p_threshold * f.factor else f.factor end as critical_above
      from (select queue.health_setting('health_critical_factor', 3) as factor) f
  )
  select pg_catalog.jsonb_build_object(
           'check', p_check,
           'severity', case when p_value is null or p_value <= p_threshold then 'ok'
                            when p_value > l.critical_above then 'critical' else 'warning' end,
           'value', p_value, 'threshold', p_threshold, 'critical_above', l.critical_above,
           'unit', p_unit, 'hint', p_hint)
         || coalesce(p_subject, '{}'::jsonb)
         || case when p_details is null or p_details = '{}'::jsonb then '{}'::jsonb
                 else pg_catalog.jsonb_build_object('details', p_details) end
    from limits l
$$;
comment on function queue.health_check(text, jsonb, numeric, numeric, text, text, jsonb) is
  'One health check: {check, severity ok|warning|critical, value, threshold, critical_above, unit, hint, details} and its subject.';
revoke execute on function queue.health_check(text, jsonb, numeric, numeric, text, text, jsonb) from public;

create or replace function queue.health_rank(p_severity text) returns integer
language sql immutable
set search_path = ''
as $$ select case p_severity when 'critical' then 2 when 'warning' then 1 else 0 end $$;
comment on function queue.health_rank(text) is 'ok 0, warning 1, critical 2: the worst of several checks is the max.';
revoke execute on function queue.health_rank(text) from public;

insert into queue.schema_migrations (version) values ('20260107000110') on conflict do nothing;
