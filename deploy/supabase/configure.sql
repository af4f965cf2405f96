-- Point trigger_queue_worker() at the deployed function. Run once per project.
update queue.settings set value = to_jsonb('https://REGION-PROJECT.cloudfunctions.net/queue-worker'::text)
 where key = 'worker_url';

-- The bearer token: Vault when available (preferred), else queue.settings.
select vault.create_secret('REPLACE-WITH-A-LONG-RANDOM-SECRET', 'queue_worker_secret');
-- update queue.settings set value = to_jsonb('REPLACE-WITH-A-LONG-RANDOM-SECRET'::text) where key = 'worker_secret';

-- Optional: one trigger per job type with its own batch size.
-- select cron.schedule('queue-trigger-email', '* * * * *', $$select public.trigger_queue_worker('process', 'email', 50)$$);
