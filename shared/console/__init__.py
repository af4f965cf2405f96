"""The operator console's service layer: what the dashboard, the HTTP actions and the CLI
ask of the queue, each a thin call of one SQL function (`supabase/migrations/2026010600*`)
through `QueueBackend.rpc`, so both backends serve it and SQL decides everything.

Modules by view: `overview`, `jobs`, `dead_letters`, `admin` (types, breakers, schedules,
audit), `enqueue_forms` (payload schemas); `static/` is the page itself.
"""
