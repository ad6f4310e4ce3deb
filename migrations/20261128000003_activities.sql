-- Activities and what belongs to them. Streams are stored compactly, one row
-- per activity (per-channel arrays, compressed), never a row per sample.
CREATE TABLE activities (
    id             uuid PRIMARY KEY,
    user_id        uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    source         text NOT NULL CHECK (source IN ('upload', 'strava', 'garmin')),
    -- The provider's id (Strava/Garmin); NULL for uploads.
    external_id    text,
    sport          text NOT NULL,
    sub_sport      text NOT NULL DEFAULT 'generic',
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    notes          text NOT NULL DEFAULT '' CHECK (length(notes) <= 10000),
    start_time     timestamptz NOT NULL,
    -- Local time minus UTC at the start, seconds, when the file said.
    utc_offset_s   integer,
    elapsed_s      double precision,
    timer_s        double precision,
    moving_s       double precision,
    distance_m     double precision,
    ascent_m       double precision,
    descent_m      double precision,
    avg_hr         double precision,
    max_hr         double precision,
    avg_speed_mps  double precision,
    max_speed_mps  double precision,
    avg_power_w    double precision,
    max_power_w    double precision,
    device_np_w    double precision,
    avg_cadence    double precision,
    calories_kcal  double precision,
    device         text,
    has_route      boolean NOT NULL DEFAULT false,
    file_format    text,
    file_sha256    bytea,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT activities_source_external_id_key UNIQUE (source, external_id)
);
CREATE INDEX activities_user_start_idx ON activities (user_id, start_time DESC);
-- The same file twice for one user is "already imported".
CREATE UNIQUE INDEX activities_user_sha256_key ON activities (user_id, file_sha256) WHERE file_sha256 IS NOT NULL;

CREATE TABLE activity_laps (
    activity_id   uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    lap_index     integer NOT NULL,
    start_offset_s double precision NOT NULL,
    elapsed_s     double precision,
    timer_s       double precision,
    distance_m    double precision,
    avg_hr        double precision,
    max_hr        double precision,
    avg_speed_mps double precision,
    avg_power_w   double precision,
    avg_cadence   double precision,
    PRIMARY KEY (activity_id, lap_index)
);

-- The samples: Streams::encode (per-channel little-endian arrays, deflated).
CREATE TABLE activity_streams (
    activity_id  uuid PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    sample_count integer NOT NULL,
    data         bytea NOT NULL
);

-- The uploaded file, gzip-compressed, for "download original".
CREATE TABLE activity_files (
    activity_id  uuid PRIMARY KEY REFERENCES activities (id) ON DELETE CASCADE,
    file_name    text NOT NULL,
    size_bytes   bigint NOT NULL,
    gzip         bytea NOT NULL
);
