-- Supabase roles and auth.uid() for plain PostgreSQL.
--
-- Contract: after this file the roles anon, authenticated and service_role exist,
-- and auth.uid() returns the caller's user id (the JWT "sub" claim) or null.
-- On Supabase every one of these already exists and nothing here changes it,
-- so the same migrations run unchanged on Supabase and on any PostgreSQL 15-18.

do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    -- Supabase's service_role bypasses RLS; mirror that so operators see everything.
    create role service_role nologin noinherit bypassrls;
  end if;
end
$$;

create schema if not exists auth;

do $$
begin
  if not exists (
    select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'auth' and p.proname = 'uid'
  ) then
    -- Same lookup order as Supabase's own auth.uid(): the legacy single claim,
    -- then the claims document PostgREST sets per request.
    execute $fn$
      create function auth.uid() returns uuid
      language sql stable
      as $body$
        select nullif(
          coalesce(
            nullif(current_setting('request.jwt.claim.sub', true), ''),
            nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'
          ), ''
        )::uuid
      $body$
    $fn$;
    grant usage on schema auth to anon, authenticated, service_role;
    grant execute on function auth.uid() to anon, authenticated, service_role;
  end if;
end
$$;

-- Private schema for the queue's helpers and internal tables: PostgREST does not
-- expose it, and no client role may use it.
create schema if not exists queue;
revoke all on schema queue from public;

-- Which migration files this database has run. Every file ends by inserting its own
-- version, so psql, `supabase db push` and `queue-worker migrate` all keep it.
create table if not exists queue.schema_migrations (
  version    text primary key,
  applied_at timestamptz not null default now()
);

-- The role the current request runs as: the SET ROLE value (PostgREST switches to
-- the JWT's role), else the session user. Security definer functions call this to
-- know who called them, since current_user is then the function's owner.
create or replace function queue.caller_role() returns text
language sql stable
set search_path = ''
as $$
  select coalesce(nullif(pg_catalog.current_setting('role', true), 'none'), session_user::text)
$$;
comment on function queue.caller_role() is
  'The role the caller runs as (SET ROLE value, else session user); used by security definer functions.';

-- Fail with a custom SQLSTATE, a message and a hint. Every validation in the queue
-- goes through here so the codes stay in one documented table (see README).
create or replace function queue.raise(p_sqlstate text, p_message text, p_hint text default null)
returns void
language plpgsql
set search_path = ''
as $$
begin
  raise exception using errcode = p_sqlstate, message = p_message, hint = coalesce(p_hint, '');
end
$$;
comment on function queue.raise(text, text, text) is
  'Raise p_message with SQLSTATE p_sqlstate and HINT p_hint. Codes are listed in README "SQLSTATEs".';

insert into queue.schema_migrations (version) values ('20260101000000') on conflict do nothing;
