-- The ledger's id sequence belongs to no client.
--
-- On Supabase, default privileges hand every new sequence in public to anon and
-- authenticated; 20260102000000_payout_ledger.sql revoked the tables but not the
-- sequence behind ledger_entries.id, so a client could burn ledger ids with nextval.
-- service_role keeps what it needs: the column is an identity, whose sequence
-- INSERT advances without a privilege on it.

revoke all on sequence public.ledger_entries_id_seq from public, anon, authenticated;

insert into queue.schema_migrations (version) values ('20260103000100') on conflict do nothing;
