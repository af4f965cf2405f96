-- Processor job types fit the worker's invocation budget.
--
-- The worker never claims a job whose type's timeout exceeds what is left of its
-- invocation budget (QUEUE_WORKER_TIME_BUDGET_SECONDS, default 50 s). The seeded
-- timeouts of payout (60 s), analytics (120 s), weekly_payouts (120 s) and audio
-- (300 s) were longer than that, so with the defaults those jobs were never claimed.
-- Audio checkpoints and continues in the next invocation when its time runs short,
-- and the others finish well within 45 s. Only rows still at their seeded value are
-- changed, so an operator's own tuning is kept.

update public.job_types t
   set timeout_seconds = 45, updated_at = now()
  from (values ('payout', 60), ('analytics', 120), ('weekly_payouts', 120), ('audio', 300))
       as seeded(name, timeout_seconds)
 where t.name = seeded.name and t.timeout_seconds = seeded.timeout_seconds;

insert into queue.schema_migrations (version) values ('20260102000300') on conflict do nothing;
