-- Server-side sessions (actix-session store). The cookie carries a 256-bit
-- random key; only its SHA-256 is stored, so a database leak yields no
-- usable session.
CREATE TABLE sessions (
    id_hash             bytea PRIMARY KEY,
    user_id             uuid REFERENCES users (id) ON DELETE CASCADE,
    state               jsonb NOT NULL,
    user_agent          text NOT NULL DEFAULT '',
    ip                  text NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    idle_expires_at     timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL
);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);
CREATE INDEX sessions_absolute_expires_at_idx ON sessions (absolute_expires_at);

-- Audit log: append-only from the application's point of view.
CREATE TABLE audit_events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     timestamptz NOT NULL DEFAULT now(),
    actor_user_id   uuid,
    subject_user_id uuid,
    -- Kept so the log stays readable after a user is deleted.
    subject_email   text,
    event_type      text NOT NULL,
    ip              text NOT NULL DEFAULT '',
    user_agent      text NOT NULL DEFAULT '',
    outcome         text NOT NULL CHECK (outcome IN ('success', 'failure')),
    details         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX audit_events_occurred_at_idx ON audit_events (occurred_at DESC);
CREATE INDEX audit_events_subject_idx ON audit_events (subject_user_id, occurred_at DESC);
CREATE INDEX audit_events_type_idx ON audit_events (event_type, occurred_at DESC);

-- Failed sign-in / sign-up attempts, counted per account and per client IP
-- across every instance.
CREATE TABLE auth_attempts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    scope       text NOT NULL CHECK (scope IN ('login_account', 'login_ip', 'signup_ip')),
    key         text NOT NULL,
    occurred_at timestamptz NOT NULL
);
CREATE INDEX auth_attempts_lookup_idx ON auth_attempts (scope, key, occurred_at);
