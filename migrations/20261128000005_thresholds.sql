-- Athlete thresholds, effective from a date (ANALYTICS.md "Inputs"): an
-- activity uses the values in force on its date. One row per (user, sport,
-- date); a NULL value means "not set from this date" and the previous
-- value carries on. `sport` is 'all' for values that do not depend on it
-- (max/resting heart rate, weight, sex).
CREATE TABLE athlete_thresholds (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    sport               text NOT NULL CHECK (sport IN ('all', 'cycling', 'running', 'swimming')),
    effective_from      date NOT NULL,
    ftp_w               double precision CHECK (ftp_w BETWEEN 30 AND 700),
    lthr_bpm            double precision CHECK (lthr_bpm BETWEEN 80 AND 230),
    max_hr_bpm          double precision CHECK (max_hr_bpm BETWEEN 100 AND 240),
    rest_hr_bpm         double precision CHECK (rest_hr_bpm BETWEEN 25 AND 120),
    threshold_speed_mps double precision CHECK (threshold_speed_mps BETWEEN 1 AND 8),
    swim_speed_mps      double precision CHECK (swim_speed_mps BETWEEN 0.3 AND 3),
    weight_kg           double precision CHECK (weight_kg BETWEEN 25 AND 250),
    sex                 text CHECK (sex IN ('female', 'male')),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT athlete_thresholds_user_sport_date_key UNIQUE (user_id, sport, effective_from)
);
CREATE INDEX athlete_thresholds_user_idx ON athlete_thresholds (user_id, effective_from DESC);
