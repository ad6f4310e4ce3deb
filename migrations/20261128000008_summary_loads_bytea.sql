-- The daily load series as raw big-endian float8 values (8 bytes a day) rather
-- than a float8[]: the dashboard reads the whole series on every request, and
-- PostgreSQL's array send (a function call per element) and the client's
-- array decode cost more than the rest of the page's queries together.
-- Stored uncompressed (pglz gains little on floats and costs a decompress per read).
ALTER TABLE athlete_summaries ADD COLUMN loads_be bytea NOT NULL DEFAULT ''::bytea;
UPDATE athlete_summaries
SET loads_be = (SELECT coalesce(string_agg(float8send(v), ''::bytea ORDER BY i), ''::bytea)
                FROM unnest(loads) WITH ORDINALITY AS u(v, i));
ALTER TABLE athlete_summaries DROP COLUMN loads;
ALTER TABLE athlete_summaries RENAME COLUMN loads_be TO loads;
ALTER TABLE athlete_summaries ALTER COLUMN loads SET STORAGE EXTERNAL;
