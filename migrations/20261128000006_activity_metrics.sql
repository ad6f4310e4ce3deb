-- Per-activity training metrics, computed at import with the thresholds in
-- force on the activity's date (src/analytics). Dashboards read these; they
-- never decode streams.
ALTER TABLE activities
    ADD COLUMN np_w               double precision,
    ADD COLUMN intensity_factor   double precision,
    ADD COLUMN variability_index  double precision,
    ADD COLUMN trimp              double precision,
    ADD COLUMN efficiency_factor  double precision,
    ADD COLUMN decoupling         double precision,
    -- The day's load contribution and which metric gave it (ANALYTICS.md priority rule).
    ADD COLUMN load               double precision NOT NULL DEFAULT 0,
    ADD COLUMN load_source        text NOT NULL DEFAULT 'none'
        CHECK (load_source IN ('power', 'pace', 'heart_rate', 'none'));
