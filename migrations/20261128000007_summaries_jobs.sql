-- What dashboards read, so that they never decode streams (ANALYTICS.md "Over time").

-- The activity's calendar day for the daily load: local to the activity when
-- the file gave its UTC offset, else in the athlete's time zone.
ALTER TABLE activities
    ADD COLUMN local_day    date,
    -- Mean-max power, watts, at analytics::curves::DURATION_LADDER (NULL past the activity's length).
    ADD COLUMN power_curve  real[],
    -- Running best efforts, seconds, at analytics::pace::BEST_EFFORT_DISTANCES (NULL when not covered).
    ADD COLUMN best_efforts real[];

UPDATE activities a
SET local_day = CASE
        WHEN a.utc_offset_s IS NOT NULL THEN ((a.start_time AT TIME ZONE 'UTC') + make_interval(secs => a.utc_offset_s))::date
        ELSE (a.start_time AT TIME ZONE u.time_zone)::date
    END
FROM users u
WHERE u.id = a.user_id;

ALTER TABLE activities ALTER COLUMN local_day SET NOT NULL;
CREATE INDEX activities_user_day_idx ON activities (user_id, local_day);

-- One row per athlete (CALIBRATION.md: one user's series together, not a row
-- per day on scattered heap pages): the daily load series from `first_day`,
-- and the all-time records with the activity and day that set them. Kept up
-- to date incrementally at import and rebuilt from `activities` after deletes
-- and threshold changes (src/db/summaries.rs).
CREATE TABLE athlete_summaries (
    user_id              uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    first_day            date NOT NULL,
    -- loads[i] = the load of first_day + (i - 1) days.
    loads                double precision[] NOT NULL DEFAULT '{}',
    power_best           real[] NOT NULL DEFAULT '{}',
    power_best_activity  uuid[] NOT NULL DEFAULT '{}',
    power_best_day       date[] NOT NULL DEFAULT '{}',
    effort_best          real[] NOT NULL DEFAULT '{}',
    effort_best_activity uuid[] NOT NULL DEFAULT '{}',
    effort_best_day      date[] NOT NULL DEFAULT '{}',
    updated_at           timestamptz NOT NULL DEFAULT now()
);

-- A PostgreSQL job queue (FOR UPDATE SKIP LOCKED), run by workers inside
-- `pierre serve`. Finished jobs are kept a while for progress display.
CREATE TABLE jobs (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL,
    user_id        uuid REFERENCES users (id) ON DELETE CASCADE,
    payload        jsonb NOT NULL DEFAULT '{}',
    state          text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'dead')),
    attempts       integer NOT NULL DEFAULT 0,
    run_at         timestamptz NOT NULL DEFAULT now(),
    locked_until   timestamptz,
    progress_done  integer NOT NULL DEFAULT 0,
    progress_total integer NOT NULL DEFAULT 0,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX jobs_ready_idx ON jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_user_idx ON jobs (user_id, kind, created_at DESC);
