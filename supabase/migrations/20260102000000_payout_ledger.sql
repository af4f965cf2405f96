-- The marketplace payout ledger: seller accounts, ledger entries and payouts.
--
-- Amounts are integer cents with a lowercase ISO currency. Entry signs are fixed by
-- kind (CHECK): sale > 0; refund, fee and payout < 0. A seller's unpaid balance is the
-- sum of their entries in a currency that no payout has reserved (payout_id is null).
-- A payout reserves the entries it pays (payout_id), and when Stripe's transfer is
-- settled it adds its own platform-fee and payout entries, so the entries of a
-- paid payout sum to exactly zero: the ledger reconciles to the cent.
--
-- At most one payout per seller and currency is open (status 'pending') at a time;
-- a retried job resumes it, so it is paid with the same Stripe idempotency key.

create table if not exists public.seller_accounts (
  seller_id         uuid primary key,
  stripe_account_id text not null check (stripe_account_id ~ '^acct_[A-Za-z0-9]+$'),
  email             text,
  payouts_enabled   boolean not null default true,
  created_at        timestamptz not null default now()
);
comment on table public.seller_accounts is
  'Sellers paid through Stripe Connect: their connected account id and where to send payout confirmations.';

create table if not exists public.payouts (
  id             uuid primary key default gen_random_uuid(),
  seller_id      uuid not null references public.seller_accounts (seller_id),
  currency       text not null check (currency ~ '^[a-z]{3}$'),
  status         text not null check (status in ('pending', 'paid', 'failed', 'skipped')),
  gross_cents    bigint not null check (gross_cents >= 0 or status = 'skipped'),
  fee_cents      bigint not null check (fee_cents >= 0),
  amount_cents   bigint not null,
  fee_bps        integer not null check (fee_bps between 0 and 10000),
  transfer_id    text,
  reason         text,
  job_id         uuid,
  created_at     timestamptz not null default now(),
  paid_at        timestamptz,
  constraint payouts_amount_is_gross_minus_fee check (amount_cents = gross_cents - fee_cents),
  constraint payouts_paid_has_transfer check ((status = 'paid') = (transfer_id is not null and paid_at is not null)),
  constraint payouts_pending_is_positive check (status <> 'pending' or amount_cents > 0)
);
comment on table public.payouts is
  'One row per payout attempt of a seller balance: pending -> paid | failed; skipped when below the minimum.';
create unique index if not exists payouts_one_open_per_seller
  on public.payouts (seller_id, currency) where status = 'pending';
create unique index if not exists payouts_transfer_id_idx on public.payouts (transfer_id) where transfer_id is not null;
create index if not exists payouts_seller_idx on public.payouts (seller_id, created_at);

create table if not exists public.ledger_entries (
  id           bigint generated always as identity primary key,
  seller_id    uuid not null references public.seller_accounts (seller_id),
  kind         text not null check (kind in ('sale', 'refund', 'fee', 'payout')),
  amount_cents bigint not null,
  currency     text not null check (currency ~ '^[a-z]{3}$'),
  reference    text,
  payout_id    uuid references public.payouts (id),
  paid_at      timestamptz,
  created_at   timestamptz not null default now(),
  constraint ledger_entries_sign_by_kind check (
    (kind = 'sale' and amount_cents > 0) or (kind <> 'sale' and amount_cents < 0)),
  constraint ledger_entries_payout_entry_has_payout check (kind <> 'payout' or payout_id is not null)
);
comment on table public.ledger_entries is
  'Seller ledger in integer cents: sale (+), refund/fee/payout (-). payout_id marks the payout that pays it.';
create index if not exists ledger_entries_unpaid_idx
  on public.ledger_entries (seller_id, currency) where payout_id is null;
create index if not exists ledger_entries_payout_idx on public.ledger_entries (payout_id) where payout_id is not null;

alter table public.seller_accounts enable row level security;
alter table public.payouts enable row level security;
alter table public.ledger_entries enable row level security;
revoke all on public.seller_accounts, public.payouts, public.ledger_entries from anon, authenticated;
grant select, insert, update, delete on public.seller_accounts, public.payouts, public.ledger_entries to service_role;

-- The payout as the processor sees it.
create or replace function queue.payout_json(p public.payouts) returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'payout_id', p.id, 'seller_id', p.seller_id, 'currency', p.currency, 'status', p.status,
    'gross_cents', p.gross_cents, 'fee_cents', p.fee_cents, 'amount_cents', p.amount_cents,
    'fee_bps', p.fee_bps, 'transfer_id', p.transfer_id, 'reason', p.reason, 'created_at', p.created_at,
    'destination', (select a.stripe_account_id from public.seller_accounts a where a.seller_id = p.seller_id),
    'email', (select a.email from public.seller_accounts a where a.seller_id = p.seller_id))
$$;
comment on function queue.payout_json(public.payouts) is 'A payouts row plus the destination account and email, as jsonb.';

-- Contract: start (or resume) the payout of one seller's unpaid balance in p_currency.
-- A payout this job already made (p_job_id) is returned as it is, paid or failed; an
-- open payout is returned unchanged (a retry resumes it); both with "resumed": true,
-- so the caller can look for a transfer a crashed attempt already made. Otherwise
-- the unreserved entries are summed (gross), the fee is floor(gross * p_fee_bps / 10000)
-- and amount = gross - fee. If amount < p_min_cents a 'skipped' payout is recorded with
-- the reason and nothing is reserved; else a 'pending' payout reserves the entries.
-- Raises PT404 for an unknown seller and 22QY1 for bad arguments.
create or replace function public.payout_prepare(
  p_seller_id uuid, p_currency text, p_fee_bps integer, p_min_cents bigint, p_job_id uuid default null
) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_account public.seller_accounts;
  v_payout public.payouts;
  v_gross bigint;
  v_fee bigint;
begin
  if p_currency is null or p_currency !~ '^[a-z]{3}$' or p_fee_bps is null or p_fee_bps not between 0 and 10000
     or p_min_cents is null or p_min_cents < 1 then
    perform queue.raise('22QY1', 'payout_prepare: invalid currency, fee_bps or min_cents',
      'currency is 3 lowercase letters, fee_bps 0-10000, min_cents >= 1');
  end if;
  -- The row lock serialises payouts of one seller: no two jobs reserve the same entries.
  select * into v_account from public.seller_accounts a where a.seller_id = p_seller_id for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no seller account %s', p_seller_id),
      'insert the seller into seller_accounts with their Stripe account id');
  end if;
  -- A job that already made its payout (it crashed before completing) gets it back.
  select * into v_payout from public.payouts p
   where p_job_id is not null and p.job_id = p_job_id and p.seller_id = p_seller_id and p.status <> 'skipped'
   order by p.created_at desc limit 1;
  if found then
    return queue.payout_json(v_payout) || '{"resumed": true}'::jsonb;
  end if;
  select * into v_payout from public.payouts p
   where p.seller_id = p_seller_id and p.currency = p_currency and p.status = 'pending';
  if found then
    return queue.payout_json(v_payout) || '{"resumed": true}'::jsonb;
  end if;
  select coalesce(sum(e.amount_cents), 0) into v_gross from public.ledger_entries e
   where e.seller_id = p_seller_id and e.currency = p_currency and e.payout_id is null;
  v_fee := greatest(pg_catalog.div(v_gross * p_fee_bps, 10000), 0);
  if not v_account.payouts_enabled or v_gross - v_fee < p_min_cents then
    insert into public.payouts (seller_id, currency, status, gross_cents, fee_cents, amount_cents, fee_bps, reason, job_id)
    values (p_seller_id, p_currency, 'skipped', v_gross, v_fee, v_gross - v_fee, p_fee_bps,
            case when not v_account.payouts_enabled then 'payouts are disabled for this seller'
                 else pg_catalog.format('balance %s %s after a fee of %s is below the minimum of %s',
                                        v_gross - v_fee, p_currency, v_fee, p_min_cents) end, p_job_id)
    returning * into v_payout;
    return queue.payout_json(v_payout);
  end if;
  insert into public.payouts (seller_id, currency, status, gross_cents, fee_cents, amount_cents, fee_bps, job_id)
  values (p_seller_id, p_currency, 'pending', v_gross, v_fee, v_gross - v_fee, p_fee_bps, p_job_id)
  returning * into v_payout;
  update public.ledger_entries e set payout_id = v_payout.id
   where e.seller_id = p_seller_id and e.currency = p_currency and e.payout_id is null;
  return queue.payout_json(v_payout);
end
$$;
comment on function public.payout_prepare(uuid, text, integer, bigint, uuid) is
  'Start or resume the payout of a seller''s unpaid balance: returns the open payout, a new pending one '
  '(entries reserved), or a skipped one with the reason.';

-- Contract: record Stripe's transfer for a pending payout, in one transaction: status
-- paid, transfer id, the fee and payout ledger entries, and every reserved entry
-- marked paid. Idempotent: settling an already paid payout with the same transfer id
-- changes nothing and returns settled=false. Raises PT404 (no such payout) and 22QY2
-- (payout failed/skipped, or paid with a different transfer).
create or replace function public.payout_settle(p_payout_id uuid, p_transfer_id text) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_payout public.payouts;
  v_now timestamptz := pg_catalog.clock_timestamp();
begin
  select * into v_payout from public.payouts p where p.id = p_payout_id for update;
  if not found then
    perform queue.raise('PT404', pg_catalog.format('no payout %s', p_payout_id), null);
  end if;
  if v_payout.status = 'paid' and v_payout.transfer_id = p_transfer_id then
    return queue.payout_json(v_payout) || '{"settled": false}'::jsonb;
  end if;
  if v_payout.status <> 'pending' or p_transfer_id is null then
    perform queue.raise('22QY2', pg_catalog.format('payout %s is %s (transfer %s); cannot settle with %s',
      p_payout_id, v_payout.status, v_payout.transfer_id, p_transfer_id), 'only pending payouts settle');
  end if;
  update public.payouts p set status = 'paid', transfer_id = p_transfer_id, paid_at = v_now
   where p.id = p_payout_id returning * into v_payout;
  insert into public.ledger_entries (seller_id, kind, amount_cents, currency, reference, payout_id, paid_at)
  select v_payout.seller_id, x.kind, x.amount, v_payout.currency, x.reference, v_payout.id, v_now
    from (values ('fee', -v_payout.fee_cents, 'platform fee'), ('payout', -v_payout.amount_cents, p_transfer_id))
         as x(kind, amount, reference)
   where x.amount <> 0;
  update public.ledger_entries e set paid_at = v_now where e.payout_id = p_payout_id and e.paid_at is null;
  return queue.payout_json(v_payout) || '{"settled": true}'::jsonb;
end
$$;
comment on function public.payout_settle(uuid, text) is
  'Mark a pending payout paid with its Stripe transfer id and its entries paid, in one transaction; idempotent.';

-- Contract: a pending payout that Stripe refused for good becomes 'failed' with the
-- reason and its entries are released (unreserved) for a later payout. Returns whether
-- it changed anything (false if it was not pending).
create or replace function public.payout_fail(p_payout_id uuid, p_reason text) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  update public.payouts p set status = 'failed', reason = p_reason
   where p.id = p_payout_id and p.status = 'pending';
  if not found then
    return false;
  end if;
  update public.ledger_entries e set payout_id = null where e.payout_id = p_payout_id and e.paid_at is null;
  return true;
end
$$;
comment on function public.payout_fail(uuid, text) is
  'Fail a pending payout with a reason and release its reserved entries; false if it was not pending.';

-- Contract: the sellers a weekly run should pay: payouts enabled and an unreserved
-- balance in p_currency whose amount after p_fee_bps reaches p_min_cents, or an open
-- payout to resume. Returns a jsonb array of seller id strings.
create or replace function public.payout_eligible_sellers(p_currency text, p_fee_bps integer, p_min_cents bigint)
returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(s.seller_id order by s.seller_id), '[]'::jsonb) from (
    select a.seller_id from public.seller_accounts a
      join public.ledger_entries e on e.seller_id = a.seller_id and e.currency = p_currency and e.payout_id is null
     where a.payouts_enabled
     group by a.seller_id
    having sum(e.amount_cents) - greatest(pg_catalog.div(sum(e.amount_cents) * p_fee_bps, 10000), 0) >= p_min_cents
    union
    select p.seller_id from public.payouts p where p.currency = p_currency and p.status = 'pending'
  ) s
$$;
comment on function public.payout_eligible_sellers(text, integer, bigint) is
  'Seller ids (jsonb array) with a payable unreserved balance in the currency, or an open payout to resume.';

do $$
declare
  v_fn regprocedure;
begin
  for v_fn in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname in ('payout_prepare', 'payout_settle', 'payout_fail', 'payout_eligible_sellers')
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    execute format('grant execute on function %s to service_role', v_fn);
  end loop;
end
$$;
revoke execute on function queue.payout_json(public.payouts) from public;

insert into queue.schema_migrations (version) values ('20260102000000') on conflict do nothing;
