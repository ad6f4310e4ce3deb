-- Accounts. Ids are UUIDv7 (time-ordered, so inserts stay index-friendly and
-- ids in URLs reveal nothing about how many users exist).
CREATE TABLE users (
    id               uuid PRIMARY KEY,
    email            text NOT NULL CHECK (length(email) BETWEEN 3 AND 254),
    -- Lower-cased, trimmed form used for uniqueness and look-ups.
    email_normalized text NOT NULL CHECK (length(email_normalized) BETWEEN 3 AND 254),
    display_name     text NOT NULL CHECK (length(display_name) BETWEEN 1 AND 100),
    password_hash    text NOT NULL,
    time_zone        text NOT NULL DEFAULT 'UTC',
    units            text NOT NULL DEFAULT 'metric' CHECK (units IN ('metric', 'imperial')),
    disabled_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_email_normalized_key UNIQUE (email_normalized)
);

-- A user may hold several roles.
CREATE TABLE user_roles (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       text NOT NULL CHECK (role IN ('athlete', 'coach', 'admin')),
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, role)
);
