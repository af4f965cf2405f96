-- Recurring jobs: job_schedules rows with a 5-field cron expression (UTC), and
-- enqueue_due_schedules(), which enqueues each due slot exactly once however many
-- ticks race for it (row lock + an idempotency key per slot).
--
-- Cron syntax: minute hour day-of-month month day-of-week; each field *, a number,
-- a range a-b, a step */n or a-b/n, or a comma list of those; month and weekday
-- names (jan..dec, sun..sat); 7 also means Sunday; @hourly @daily @weekly @monthly
-- @yearly. As in Vixie cron, when both day fields are restricted a day matching
-- either fires. Slots missed while nothing ticked are coalesced into one run.

-- The values one cron field allows, sorted. Raises 22QC1 naming the bad part.
create or replace function queue.cron_field(p_field text, p_lo integer, p_hi integer, p_names text[] default null)
returns integer[]
language plpgsql immutable
set search_path = ''
as $$
declare
  v_part text;
  v_range text;
  v_step integer;
  v_a integer;
  v_b integer;
  v_out integer[] := '{}';
  v_m text[];
  v_fixed text := pg_catalog.lower(p_field);
  i integer;
begin
  if p_names is not null then
    for i in 1 .. pg_catalog.array_length(p_names, 1) loop
      v_fixed := pg_catalog.regexp_replace(v_fixed, '\m' || p_names[i] || '\M', (p_lo + i - 1)::text, 'g');
    end loop;
  end if;
  foreach v_part in array pg_catalog.string_to_array(v_fixed, ',') loop
    v_m := pg_catalog.regexp_match(v_part, '^(\*|\d{1,4}(?:-\d{1,4})?)(?:/(\d{1,4}))?$');
    if v_m is null then
      perform queue.raise('22QC1', pg_catalog.format('cron field %L: %L is not a number, range, step or *', p_field, v_part),
        pg_catalog.format('use values %s-%s, e.g. *, 5, 1-5, */15, 1,15', p_lo, p_hi));
    end if;
    v_range := v_m[1];
    v_step := coalesce(v_m[2]::integer, 1);
    if v_range = '*' then
      v_a := p_lo; v_b := p_hi;
    elsif pg_catalog.strpos(v_range, '-') > 0 then
      v_a := pg_catalog.split_part(v_range, '-', 1)::integer;
      v_b := pg_catalog.split_part(v_range, '-', 2)::integer;
    else
      v_a := v_range::integer;
      v_b := case when v_m[2] is null then v_a else p_hi end;
    end if;
    if v_a < p_lo or v_b > p_hi or v_a > v_b or v_step < 1 then
      perform queue.raise('22QC1', pg_catalog.format('cron field %L: %L is outside %s-%s or empty', p_field, v_part, p_lo, p_hi),
        pg_catalog.format('use values %s-%s with a step of 1 or more', p_lo, p_hi));
    end if;
    v_out := v_out || array(select pg_catalog.generate_series(v_a, v_b, v_step));
  end loop;
  return array(select distinct x from pg_catalog.unnest(v_out) x order by x);
end
$$;

-- Parsed cron expression: {minutes, hours, doms, months, dows, dom_any, dow_any}.
create or replace function queue.cron_parse(p_expr text) returns jsonb
language plpgsql immutable
set search_path = ''
as $$
declare
  v_expr text := pg_catalog.btrim(coalesce(p_expr, ''));
  v_fields text[];
  v_dows integer[];
begin
  v_expr := case pg_catalog.lower(v_expr)
    when '@hourly' then '0 * * * *' when '@daily' then '0 0 * * *' when '@midnight' then '0 0 * * *'
    when '@weekly' then '0 0 * * 0' when '@monthly' then '0 0 1 * *'
    when '@yearly' then '0 0 1 1 *' when '@annually' then '0 0 1 1 *' else v_expr end;
  v_fields := pg_catalog.regexp_split_to_array(v_expr, '\s+');
  if pg_catalog.cardinality(v_fields) <> 5 or v_expr = '' then
    perform queue.raise('22QC1', pg_catalog.format('cron expression %L has %s fields; it needs 5', p_expr,
        case when v_expr = '' then 0 else pg_catalog.cardinality(v_fields) end),
      'minute hour day-of-month month day-of-week, e.g. ''0 9 * * 1'' (Mondays 09:00 UTC), or @daily');
  end if;
  v_dows := queue.cron_field(v_fields[5], 0, 7, array['sun','mon','tue','wed','thu','fri','sat']);
  return pg_catalog.jsonb_build_object(
    'minutes', queue.cron_field(v_fields[1], 0, 59),
    'hours',   queue.cron_field(v_fields[2], 0, 23),
    'doms',    queue.cron_field(v_fields[3], 1, 31),
    'months',  queue.cron_field(v_fields[4], 1, 12,
                 array['jan','feb','mar','apr','may','jun','jul','aug','sep','oct','nov','dec']),
    'dows',    array(select distinct (d % 7) from pg_catalog.unnest(v_dows) d order by 1),
    'dom_any', v_fields[3] like '*%',
    'dow_any', v_fields[5] like '*%');
end
$$;

-- The first minute strictly after p_after (UTC) that p_expr matches. Raises 22QC1
-- for an expression that does not parse or never fires (e.g. 30 February).
create or replace function queue.cron_next(p_expr text, p_after timestamptz) returns timestamptz
language plpgsql immutable
set search_path = ''
as $$
declare
  v_c jsonb := queue.cron_parse(p_expr);
  v_minutes integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'minutes')::integer);
  v_hours integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'hours')::integer);
  v_doms integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'doms')::integer);
  v_months integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'months')::integer);
  v_dows integer[] := array(select pg_catalog.jsonb_array_elements_text(v_c -> 'dows')::integer);
  v_dom_any boolean := (v_c ->> 'dom_any')::boolean;
  v_dow_any boolean := (v_c ->> 'dow_any')::boolean;
  v_start timestamp := pg_catalog.date_trunc('minute', p_after at time zone 'UTC') + interval '1 minute';
  v_day date;
  v_dom_ok boolean;
  v_dow_ok boolean;
  v_h integer;
  v_m integer;
  v_slot timestamp;
begin
  for d in 0 .. 366 * 5 loop
    v_day := v_start::date + d;
    continue when not (pg_catalog.date_part('month', v_day)::integer = any (v_months));
    v_dom_ok := pg_catalog.date_part('day', v_day)::integer = any (v_doms);
    v_dow_ok := pg_catalog.date_part('dow', v_day)::integer = any (v_dows);
    continue when not case
      when v_dom_any and v_dow_any then true
      when v_dom_any then v_dow_ok
      when v_dow_any then v_dom_ok
      else v_dom_ok or v_dow_ok end;
    foreach v_h in array v_hours loop
      foreach v_m in array v_minutes loop
        v_slot := v_day + pg_catalog.make_interval(hours => v_h, mins => v_m);
        if v_slot >= v_start then
          return v_slot at time zone 'UTC';
        end if;
      end loop;
    end loop;
  end loop;
  perform queue.raise('22QC1', pg_catalog.format('cron expression %L never fires', p_expr),
    'check the day-of-month and month fields (e.g. 30 2 never happens)');
  return null;
end
$$;
comment on function queue.cron_next(text, timestamptz) is
  'First minute after p_after (UTC) matching the 5-field cron expression; raises 22QC1 if it does not parse or never fires.';

create table if not exists public.job_schedules (
  name        text primary key check (name ~ '^[a-z][a-z0-9_]{0,62}$'),
  cron        text not null,
  type        text not null references public.job_types (name) on update cascade,
  payload     jsonb not null default '{}'::jsonb check (jsonb_typeof(payload) = 'object'),
  priority    public.job_priority not null default 'normal',
  enabled     boolean not null default false,
  next_run_at timestamptz,
  last_run_at timestamptz,
  last_job_id uuid,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
comment on table public.job_schedules is
  'Recurring jobs (cron in UTC). enqueue_due_schedules() enqueues each due slot once. Enable with update ... set enabled = true.';
alter table public.job_schedules enable row level security;
revoke all on public.job_schedules from anon, authenticated;
grant select, insert, update, delete on public.job_schedules to service_role;

-- Validate the cron and job description and keep next_run_at in step with them.
create or replace function queue.job_schedules_before_write() returns trigger
language plpgsql security definer
set search_path = ''
as $$
begin
  perform queue.validate_job(new.type, new.payload, new.priority::text, null, null);
  if tg_op = 'INSERT' or new.cron is distinct from old.cron or (new.enabled and not old.enabled)
     or new.next_run_at is null then
    new.next_run_at := queue.cron_next(new.cron, pg_catalog.now());
  end if;
  new.updated_at := pg_catalog.now();
  return new;
end
$$;
drop trigger if exists job_schedules_before_write on public.job_schedules;
create trigger job_schedules_before_write before insert or update on public.job_schedules
  for each row execute function queue.job_schedules_before_write();

-- Enqueue one job for every enabled schedule whose next slot is due, then move the
-- schedule to its next slot after p_now. Concurrent ticks skip a schedule another
-- tick holds, and the slot's idempotency key makes a second enqueue a no-op.
-- Returns how many due schedules it handled (a slot whose job already existed counts,
-- but enqueues nothing new).
create or replace function public.enqueue_due_schedules(p_now timestamptz default null) returns integer
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_now timestamptz := coalesce(p_now, pg_catalog.clock_timestamp());
  v_s public.job_schedules;
  v_id uuid;
  v_count integer := 0;
begin
  for v_s in
    select * from public.job_schedules s
     where s.enabled and s.next_run_at <= v_now
     order by s.name
       for update skip locked
  loop
    -- One broken schedule (say its payload outgrew a lowered payload_max_bytes) must
    -- not stop the others: warn, leave it due, and go on.
    begin
      v_id := public.enqueue_job(
        p_type => v_s.type, p_payload => v_s.payload, p_priority => v_s.priority::text,
        p_run_at => v_now,
        p_idempotency_key => pg_catalog.format('schedule:%s:%s', v_s.name,
                               pg_catalog.to_char(v_s.next_run_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI"Z"')));
      update public.job_schedules s
         set last_run_at = v_s.next_run_at, last_job_id = v_id,
             next_run_at = queue.cron_next(v_s.cron, v_now)
       where s.name = v_s.name;
      v_count := v_count + 1;
    exception when others then
      raise warning 'enqueue_due_schedules: schedule % failed: % (SQLSTATE %)', v_s.name, sqlerrm, sqlstate;
    end;
  end loop;
  return v_count;
end
$$;
comment on function public.enqueue_due_schedules(timestamptz) is
  'Enqueue each enabled schedule''s due slot exactly once (concurrent ticks included); returns how many due schedules it handled.';

-- Create or change a schedule. Raises 22QC1 for a bad cron, 22QT1 for an unknown type.
create or replace function public.set_job_schedule(
  p_name text, p_cron text, p_type text, p_payload jsonb default '{}'::jsonb,
  p_priority text default 'normal', p_enabled boolean default true
) returns public.job_schedules
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_row public.job_schedules;
begin
  perform queue.validate_job(p_type, p_payload, p_priority, null, null);
  perform queue.cron_parse(p_cron);
  insert into public.job_schedules as s (name, cron, type, payload, priority, enabled)
  values (p_name, p_cron, p_type, coalesce(p_payload, '{}'::jsonb), p_priority::public.job_priority, p_enabled)
  on conflict (name) do update
     set cron = excluded.cron, type = excluded.type, payload = excluded.payload,
         priority = excluded.priority, enabled = excluded.enabled
  returning * into v_row;
  return v_row;
end
$$;
comment on function public.set_job_schedule(text, text, text, jsonb, text, boolean) is
  'Create or replace a recurring job schedule (cron in UTC). Raises 22QC1 bad cron, 22QT1/22QP1/22QJ1 bad job.';

-- The seed's two schedules, off until an operator enables them (README).
insert into public.job_schedules (name, cron, type, payload, priority, enabled) values
  ('weekly_payouts',  '0 9 * * 1', 'weekly_payouts', '{}', 'high',   false),
  ('daily_analytics', '0 2 * * *', 'analytics',      '{}', 'normal', false)
on conflict (name) do nothing;

insert into queue.schema_migrations (version) values ('20260101000900') on conflict do nothing;
