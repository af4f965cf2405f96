-- Who is a client is decided by role membership, not by role name.
--
-- Why: the first check treated only the roles named exactly anon and authenticated as
-- clients. A custom JWT role that inherits authenticated (a common Supabase pattern)
-- was then taken for the server: it enqueued server-only types, chose owner_id and
-- used raw idempotency keys.
--
-- Contract: queue.caller_is_client() is false only for the server: service_role, a
-- superuser, the owner of the queue schema (the role that ran the migrations), and
-- any role that is a member of service_role or of that owner (it could SET ROLE to it
-- anyway). Every other role is a client, whatever it is called. check_enqueue_allowed
-- and client_idempotency_key decide by it.

-- The role is read into a variable first: used inside the query, queue.caller_role()
-- (a function with its own search_path) made every call cost a quarter of a
-- millisecond, seconds for a 10,000-job batch.
create or replace function queue.caller_is_client() returns boolean
language plpgsql stable
set search_path = ''
as $$
declare
  v_role text := queue.caller_role();
begin
  return not coalesce((
    select r.rolsuper
        or pg_catalog.pg_has_role(r.oid, 'service_role', 'MEMBER')
        or pg_catalog.pg_has_role(r.oid, n.nspowner, 'MEMBER')
      from pg_catalog.pg_roles r, pg_catalog.pg_namespace n
     where r.rolname = v_role and n.nspname = 'queue'), false);
end
$$;
comment on function queue.caller_is_client() is
  'True unless the caller is service_role, a superuser, the queue schema''s owner, or a member of either of those roles.';
revoke execute on function queue.caller_is_client() from public;

-- A signed-in client: a client role with a user id. Members of anon that are not also
-- members of authenticated are anonymous whatever their JWT carries.
create or replace function queue.caller_is_signed_in() returns boolean
language plpgsql stable
set search_path = ''
as $$
declare
  v_role text := queue.caller_role();
begin
  return auth.uid() is not null
     and (pg_catalog.pg_has_role(v_role, 'authenticated', 'MEMBER') or not pg_catalog.pg_has_role(v_role, 'anon', 'MEMBER'));
end
$$;
comment on function queue.caller_is_signed_in() is
  'True when the caller carries a user id (auth.uid()) and is not merely anonymous (a member of anon only).';
revoke execute on function queue.caller_is_signed_in() from public;

-- Who may enqueue what: the server anything, for any owner; signed-in clients only
-- client_enqueueable types, always as themselves. Returns the owner to store.
create or replace function queue.check_enqueue_allowed(p_type text, p_owner_id uuid) returns uuid
language plpgsql stable
set search_path = ''
as $$
declare
  v_uid uuid := auth.uid();
begin
  if not queue.caller_is_client() then
    return coalesce(p_owner_id, v_uid);
  end if;
  if not queue.caller_is_signed_in() then
    perform queue.raise('42501', 'only signed-in users may enqueue jobs', 'sign in, or enqueue from the server with the service role');
  end if;
  if not exists (select 1 from public.job_types t where t.name = p_type and t.client_enqueueable) then
    perform queue.raise('42501',
      pg_catalog.format('job type %L cannot be enqueued by clients', p_type),
      'enqueue it from the server with the service role, or set job_types.client_enqueueable for it');
  end if;
  if p_owner_id is not null and p_owner_id <> v_uid then
    perform queue.raise('42501', 'clients can only enqueue jobs they own', 'leave p_owner_id null; it defaults to auth.uid()');
  end if;
  return v_uid;
end
$$;
comment on function queue.check_enqueue_allowed(text, uuid) is
  'Raise 42501 unless the caller may enqueue p_type for p_owner_id; returns the owner to store (clients: auth.uid()).';

-- A client's key, scoped to its user ("user:<uid>:<key>"): two users' identical keys
-- are two keys, and no client can reach a key the server uses. The server's keys are
-- stored as given.
create or replace function queue.client_scoped_key(p_key text) returns text
language sql stable
set search_path = ''
as $$
  select case when p_key is not null and queue.caller_is_client()
              then pg_catalog.format('user:%s:%s', auth.uid(), p_key) else p_key end
$$;
comment on function queue.client_scoped_key(text) is
  'p_key as stored: "user:<auth.uid()>:<p_key>" for a client, p_key unchanged for the server.';
revoke execute on function queue.client_scoped_key(text) from public;

-- The idempotency key as stored (the name enqueue has always used).
create or replace function queue.client_idempotency_key(p_key text) returns text
language sql stable
set search_path = ''
as $$ select queue.client_scoped_key(p_key) $$;
comment on function queue.client_idempotency_key(text) is
  'The idempotency key as stored: scoped to the user for clients (see queue.client_scoped_key).';

insert into queue.schema_migrations (version) values ('20260104000100') on conflict do nothing;
