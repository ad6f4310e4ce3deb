-- Provider sync (issue 7): what a connection shows, the app-wide rate budget
-- shared by every instance, recent provider errors for admins, and job
-- de-duplication for webhook deliveries.

ALTER TABLE provider_connections
    -- The athlete's name at the provider ("connected as …").
    ADD COLUMN athlete_name   text NOT NULL DEFAULT '',
    -- How far back the athlete chose to import at connect time (NULL: everything).
    ADD COLUMN backfill_after timestamptz,
    ADD COLUMN last_sync_at   timestamptz,
    ADD COLUMN next_sync_at   timestamptz,
    ADD COLUMN last_error_at  timestamptz;

-- One row per provider: requests counted in the current 15-minute window and
-- UTC day, all and reads, as Strava counts them. Every outgoing call takes
-- one unit in a single UPDATE (src/providers/budget.rs); the providers'
-- X-RateLimit-Usage headers raise the counts when another client of the same
-- app used some; a 429 blocks the provider until `blocked_until`.
CREATE TABLE provider_budget (
    provider          text PRIMARY KEY CHECK (provider IN ('strava', 'garmin')),
    window_start      timestamptz NOT NULL,
    short_used        integer NOT NULL DEFAULT 0,
    short_read_used   integer NOT NULL DEFAULT 0,
    day_start         date NOT NULL,
    daily_used        integer NOT NULL DEFAULT 0,
    daily_read_used   integer NOT NULL DEFAULT 0,
    blocked_until     timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now()
);

-- What went wrong talking to a provider, for the admin page (kept 30 days).
CREATE TABLE provider_errors (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider  text NOT NULL CHECK (provider IN ('strava', 'garmin')),
    user_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    at        timestamptz NOT NULL DEFAULT now(),
    -- 'oauth', 'api', 'webhook', 'sync'
    kind      text NOT NULL,
    status    integer,
    message   text NOT NULL
);
CREATE INDEX provider_errors_recent_idx ON provider_errors (provider, at DESC);

-- The same webhook event delivered several times (or the same backfill
-- requested twice) queues one job: a key is unique among waiting and running jobs.
ALTER TABLE jobs ADD COLUMN dedupe_key text;
CREATE UNIQUE INDEX jobs_dedupe_idx ON jobs (dedupe_key) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_state_idx ON jobs (state, kind);
