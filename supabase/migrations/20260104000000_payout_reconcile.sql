-- Payouts whose Stripe answer was lost are never paid twice.
--
-- A payout's transfer parameters (destination, amount, currency) are fixed when it is
-- prepared: `destination` is copied from seller_accounts then, so a seller who changes
-- their connected account between two attempts still gets the same request again, and
-- Stripe replays its first answer instead of refusing the key.
--
-- `sent_at` is set, and committed, before the first request leaves for Stripe. From then
-- on the transfer may exist, whatever the worker later sees (a timeout, a dropped
-- connection, a crash, a missing key): `payout_fail` refuses to release the entries of a
-- sent payout unless the caller has asked Stripe by transfer group and found nothing
-- (p_absent_at_stripe). A payout that cannot be reconciled now is held: it stays
-- pending with its entries reserved and a `hold_reason` that health shows, until a later
-- attempt settles it or an operator decides.
--
-- Payouts already pending when this migration runs are treated as possibly sent.

alter table public.payouts add column if not exists destination text;
alter table public.payouts add column if not exists sent_at timestamptz;
alter table public.payouts add column if not exists hold_reason text;

update public.payouts p set destination = a.stripe_account_id
  from public.seller_accounts a
 where a.seller_id = p.seller_id and p.status = 'pending' and p.destination is null;
update public.payouts p set sent_at = p.created_at where p.status = 'pending' and p.sent_at is null;

alter table public.payouts drop constraint if exists payouts_pending_has_destination;
alter table public.payouts add constraint payouts_pending_has_destination
  check (status <> 'pending' or destination is not null);
comment on column public.payouts.destination is
  'The connected account this payout pays, fixed when it is prepared; every attempt sends exactly this.';
comment on column public.payouts.sent_at is
  'When an attempt first may have sent the transfer to Stripe; from then on the entries are released '
  'only after Stripe shows no transfer for the payout''s transfer group.';
comment on column public.payouts.hold_reason is
  'Why a pending payout waits (its Stripe outcome is unknown now); cleared when it is settled.';

-- The payout as the processor sees it. Rows from before `destination` existed fall back
-- to the seller's current account.
create or replace function queue.payout_json(p public.payouts) returns jsonb
language sql stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'payout_id', p.id, 'seller_id', p.seller_id, 'currency', p.currency, 'status', p.status,
    'gross_cents', p.gross_cents, 'fee_cents', p.fee_cents, 'amount_cents', p.amount_cents,
    'fee_bps', p.fee_bps, 'transfer_id', p.transfer_id, 'reason', p.reason, 'created_at', p.created_at,
    'sent_at', p.sent_at, 'hold_reason', p.hold_reason,
    'destination', coalesce(p.destination,
                            (select a.stripe_account_id from public.seller_accounts a where a.seller_id = p.seller_id)),
    'email', (select a.email from public.seller_accounts a where a.seller_id = p.seller_id))
$$;
comment on function queue.payout_json(public.payouts) is
  'A payouts row plus its fixed destination account and the seller''s email, as jsonb.';

-- Contract: as in 20260102000000 (start or resume one seller's payout; PT404 unknown
-- seller, 22QY1 bad arguments), and a new pending payout records its destination.
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
  insert into public.payouts (seller_id, currency, status, gross_cents, fee_cents, amount_cents, fee_bps, job_id,
                              destination)
  values (p_seller_id, p_currency, 'pending', v_gross, v_fee, v_gross - v_fee, p_fee_bps, p_job_id,
          v_account.stripe_account_id)
  returning * into v_payout;
  update public.ledger_entries e set payout_id = v_payout.id
   where e.seller_id = p_seller_id and e.currency = p_currency and e.payout_id is null;
  return queue.payout_json(v_payout);
end
$$;
comment on function public.payout_prepare(uuid, text, integer, bigint, uuid) is
  'Start or resume the payout of a seller''s unpaid balance: returns the open payout, a new pending one '
  '(entries reserved, destination fixed), or a skipped one with the reason.';

-- Contract: record that an attempt is about to send this pending payout's transfer.
-- Call it (its own committed transaction) before the request leaves; the first call's
-- time is kept. Returns the payout. Raises PT404 (no such payout) and 22QY2 (not pending).
create or replace function public.payout_mark_sent(p_payout_id uuid) returns jsonb
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_payout public.payouts;
begin
  update public.payouts p set sent_at = coalesce(p.sent_at, pg_catalog.clock_timestamp())
   where p.id = p_payout_id and p.status = 'pending'
  returning * into v_payout;
  if not found then
    select * into v_payout from public.payouts p where p.id = p_payout_id;
    if not found then
      perform queue.raise('PT404', pg_catalog.format('no payout %s', p_payout_id), null);
    end if;
    perform queue.raise('22QY2', pg_catalog.format('payout %s is %s; only a pending payout is sent',
      p_payout_id, v_payout.status), 'prepare a new payout with payout_prepare');
  end if;
  return queue.payout_json(v_payout);
end
$$;
comment on function public.payout_mark_sent(uuid) is
  'Record (before the request leaves) that a pending payout''s transfer may reach Stripe from now on.';

-- Contract: a pending payout whose outcome at Stripe cannot be known now (no key here,
-- Stripe unreachable, an idempotency error) stays pending with its entries reserved;
-- p_reason says why, for health and operators. Returns whether it was pending.
create or replace function public.payout_hold(p_payout_id uuid, p_reason text) returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
begin
  if p_reason is null or pg_catalog.btrim(p_reason) = '' then
    perform queue.raise('22QY6', 'payout_hold: a reason is required', 'say why the payout waits');
  end if;
  update public.payouts p set hold_reason = pg_catalog.left(p_reason, 1000)
   where p.id = p_payout_id and p.status = 'pending';
  return found;
end
$$;
comment on function public.payout_hold(uuid, text) is
  'Keep a pending payout reserved with the reason its Stripe outcome is unknown; false if it was not pending.';

-- Contract: as in 20260102000000 (paid with its transfer, entries paid, idempotent;
-- PT404, 22QY2), and the hold reason is cleared.
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
  update public.payouts p set status = 'paid', transfer_id = p_transfer_id, paid_at = v_now, hold_reason = null
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

-- Contract: fail a pending payout with p_reason and release its entries for a later
-- payout - only when it provably never made a transfer: no attempt was ever sent, or
-- the caller asked Stripe by transfer group after a definitive refusal and found none
-- (p_absent_at_stripe). Otherwise raises 22QY7 and changes nothing. Returns whether it
-- changed anything (false if it was not pending).
drop function if exists public.payout_fail(uuid, text);
create or replace function public.payout_fail(p_payout_id uuid, p_reason text, p_absent_at_stripe boolean default false)
returns boolean
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  v_payout public.payouts;
begin
  select * into v_payout from public.payouts p where p.id = p_payout_id and p.status = 'pending' for update;
  if not found then
    return false;
  end if;
  if v_payout.sent_at is not null and not coalesce(p_absent_at_stripe, false) then
    perform queue.raise('22QY7', pg_catalog.format(
      'payout %s may have reached Stripe (first sent %s); its entries stay reserved', p_payout_id, v_payout.sent_at),
      pg_catalog.format('ask Stripe for transfers of transfer_group payout_%s; fail it only if there are none, '
                        'settle it with payout_settle if there is one', p_payout_id));
  end if;
  update public.payouts p set status = 'failed', reason = p_reason, hold_reason = null where p.id = p_payout_id;
  update public.ledger_entries e set payout_id = null where e.payout_id = p_payout_id and e.paid_at is null;
  return true;
end
$$;
comment on function public.payout_fail(uuid, text, boolean) is
  'Fail a pending payout and release its entries, only if it was never sent or Stripe shows no transfer for it.';

-- Contract: the pending payouts that wait on an unknown Stripe outcome (a hold reason),
-- oldest first, at most 100, for health: [{payout_id, seller_id, amount_cents, currency,
-- sent_at, reason}].
create or replace function public.payouts_on_hold() returns jsonb
language sql stable security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'payout_id', h.id, 'seller_id', h.seller_id, 'amount_cents', h.amount_cents, 'currency', h.currency,
           'sent_at', h.sent_at, 'reason', h.hold_reason) order by h.created_at), '[]'::jsonb)
    from (select * from public.payouts p where p.status = 'pending' and p.hold_reason is not null
           order by p.created_at limit 100) h
$$;
comment on function public.payouts_on_hold() is
  'Pending payouts held because their Stripe outcome is unknown, with the reason (for health).';

do $$
declare
  v_fn regprocedure;
begin
  for v_fn in
    select p.oid::regprocedure from pg_proc p
     where p.pronamespace = 'public'::regnamespace
       and p.proname in ('payout_prepare', 'payout_settle', 'payout_fail', 'payout_mark_sent', 'payout_hold',
                         'payouts_on_hold')
  loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    execute format('grant execute on function %s to service_role', v_fn);
  end loop;
end
$$;
revoke execute on function queue.payout_json(public.payouts) from public;

insert into queue.schema_migrations (version) values ('20260104000000') on conflict do nothing;
