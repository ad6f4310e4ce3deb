-- OAuth apps (one per provider, configured by an admin) and athletes'
-- provider connections (filled by the sync work of issue 7).
--
-- Every secret column holds a sealed value (src/crypto.rs, `Sealed`): one
-- bytea laid out as
--   0x01 | key id length n (1 byte) | key id (n bytes, ASCII) | nonce (12 bytes) | AES-256-GCM ciphertext + 16-byte tag
-- with associated data binding the row (provider, and the user for
-- connections) and the column name. `pierre keys rotate` re-encrypts every
-- such column with the current key.

CREATE TABLE oauth_apps (
    provider                 text PRIMARY KEY CHECK (provider IN ('strava', 'garmin')),
    display_name             text NOT NULL,
    client_id                text NOT NULL DEFAULT '',
    client_secret            bytea,
    client_secret_set_at     timestamptz,
    authorize_url            text NOT NULL,
    token_url                text NOT NULL,
    api_base_url             text NOT NULL,
    -- Comma-separated, as the provider expects them in the authorize URL.
    scopes                   text NOT NULL DEFAULT '',
    webhook_verify_token     bytea,
    webhook_verify_token_set_at timestamptz,
    subscription_id          text,
    enabled                  boolean NOT NULL DEFAULT false,
    -- Requests per 15-minute window and per UTC day: all calls, and read calls.
    limit_short              integer NOT NULL CHECK (limit_short > 0),
    limit_daily              integer NOT NULL CHECK (limit_daily > 0),
    read_limit_short         integer NOT NULL CHECK (read_limit_short > 0),
    read_limit_daily         integer NOT NULL CHECK (read_limit_daily > 0),
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE provider_connections (
    id                  uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id             uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider            text NOT NULL CHECK (provider IN ('strava', 'garmin')),
    external_athlete_id text NOT NULL,
    access_token        bytea,
    refresh_token       bytea,
    expires_at          timestamptz,
    granted_scopes      text NOT NULL DEFAULT '',
    status              text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'needs_reauth', 'revoked', 'error')),
    last_error          text,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT provider_connections_external_key UNIQUE (provider, external_athlete_id),
    CONSTRAINT provider_connections_user_key UNIQUE (user_id, provider)
);
