-- What the importer skipped or guessed (e.g. "the track without times was ignored"),
-- as sentences shown on the activity page.
ALTER TABLE activities ADD COLUMN import_warnings text[] NOT NULL DEFAULT '{}';
