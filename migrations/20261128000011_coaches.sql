-- Coaches (issue 8): the access athletes grant, invitations, the coach's
-- own tags, comments on activities, which sources coaches may see, and the
-- coach-visible athlete summary.

-- One row per active coach–athlete link. Revoking (by either side) deletes
-- the row; the audit log keeps the history.
CREATE TABLE coach_links (
    coach_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    athlete_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    access      text NOT NULL CHECK (access IN ('summary', 'full')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (coach_id, athlete_id),
    CHECK (coach_id <> athlete_id)
);
CREATE INDEX coach_links_athlete_idx ON coach_links (athlete_id);

-- Invitations, single use, expiring. Two kinds:
--  'athlete': an athlete invites a coach by email with an access level; it
--             waits for that address (also before it has an account) and is
--             accepted or declined by the coach while signed in.
--  'coach':   a coach hands out a link (the token); an athlete accepts it
--             while signed in and picks the access level then.
-- Only the SHA-256 of a link token is stored.
CREATE TABLE coach_invitations (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    kind             text NOT NULL CHECK (kind IN ('athlete', 'coach')),
    created_by       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    email_normalized text CHECK (kind <> 'athlete' OR email_normalized IS NOT NULL),
    token_sha256     bytea UNIQUE CHECK (kind <> 'coach' OR token_sha256 IS NOT NULL),
    access           text NOT NULL CHECK (access IN ('summary', 'full')),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz,
    used_by          uuid REFERENCES users (id) ON DELETE SET NULL,
    -- 'accepted', 'declined', 'cancelled' once used.
    outcome          text CHECK (outcome IN ('accepted', 'declined', 'cancelled')),
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX coach_invitations_email_idx ON coach_invitations (email_normalized) WHERE used_at IS NULL;
CREATE INDEX coach_invitations_creator_idx ON coach_invitations (created_by, created_at DESC);

-- A coach's own group tags for athletes ("juniors"); private to the coach.
CREATE TABLE coach_tags (
    coach_id   uuid NOT NULL,
    athlete_id uuid NOT NULL,
    tag        text NOT NULL CHECK (length(tag) BETWEEN 1 AND 40),
    PRIMARY KEY (coach_id, athlete_id, tag),
    FOREIGN KEY (coach_id, athlete_id) REFERENCES coach_links (coach_id, athlete_id) ON DELETE CASCADE
);

-- Comments on an activity by its athlete or a linked coach.
CREATE TABLE activity_comments (
    id          uuid PRIMARY KEY,
    activity_id uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    author_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_comments_activity_idx ON activity_comments (activity_id, created_at);

-- When a user last read an activity's comments (for "new" badges).
CREATE TABLE comment_reads (
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    activity_id uuid NOT NULL REFERENCES activities (id) ON DELETE CASCADE,
    read_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, activity_id)
);

-- Per source, whether coaches may see its activities (admin setting).
-- Strava's API agreement allows a user's data to be shown only to that user.
CREATE TABLE source_visibility (
    source        text PRIMARY KEY CHECK (source IN ('upload', 'strava', 'garmin')),
    coach_visible boolean NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO source_visibility (source, coach_visible) VALUES
    ('upload', true), ('strava', false), ('garmin', true);

-- Two summaries per athlete: 'all' (what the athlete sees) and 'coach' (only
-- activities of coach-visible sources), maintained together.
ALTER TABLE athlete_summaries ADD COLUMN scope text NOT NULL DEFAULT 'all'
    CHECK (scope IN ('all', 'coach'));
ALTER TABLE athlete_summaries DROP CONSTRAINT athlete_summaries_pkey;
ALTER TABLE athlete_summaries ADD PRIMARY KEY (user_id, scope);
