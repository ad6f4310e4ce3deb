//! The PostgreSQL `SessionStore` behind actix-session.
//!
//! * Session keys are 256 random bits (base64url) from the OS CSPRNG; only
//!   their SHA-256 is stored.
//! * Idle expiry slides on use and absolute expiry is fixed at creation. Both
//!   are checked in the one statement that loads a session, which also
//!   refreshes `last_seen_at` (at most once a minute, to keep writes rare).
//! * Loading a session also loads its user (name, roles, disabled flag) in the
//!   same statement, exposed to handlers as the `__user` entry, so a signed-in
//!   request costs one query for all of it. Entries whose key starts with `__`
//!   are computed, never saved.
//! * If PostgreSQL is unreachable, `load` answers with a marker entry instead
//!   of an error (actix-session would turn an error into a bare 500);
//!   `CurrentUser` turns the marker into a 503 page.

use std::collections::HashMap;

use actix_session::storage::{LoadError, SaveError, SessionKey, SessionStore, UpdateError};
use actix_web::cookie::time::Duration as CookieDuration;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeDelta, Utc};
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

use crate::clock::Clock;
use crate::db::is_connection_error;

/// Session entry: the signed-in user's id.
pub const USER_ID_KEY: &str = "uid";
/// Session entry: user agent at sign-in.
pub const USER_AGENT_KEY: &str = "ua";
/// Session entry: client IP at sign-in.
pub const IP_KEY: &str = "ip";
/// Computed entry: the user loaded with the session.
pub const USER_KEY: &str = "__user";
/// Computed entry: base64url of this session's stored id hash (to mark "this
/// device" in the sessions list and to keep it when ending the others).
pub const SESSION_ID_KEY: &str = "__sid";
/// Computed entry: the session could not be loaded because the database is down.
pub const UNAVAILABLE_KEY: &str = "__unavailable";

/// Minimum time between two `last_seen_at` writes for one session.
const TOUCH_INTERVAL_SECS: f64 = 60.0;

/// What a loaded session knows about its user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub time_zone: String,
    pub units: String,
}

/// Idle and absolute session lifetimes.
#[derive(Debug, Clone, Copy)]
pub struct SessionTimeouts {
    pub idle: TimeDelta,
    pub absolute: TimeDelta,
}

/// The store. One per actix worker (it holds that worker's pool).
#[derive(Debug, Clone)]
pub struct PgSessionStore {
    pool: PgPool,
    clock: Clock,
    timeouts: SessionTimeouts,
}

impl PgSessionStore {
    #[must_use]
    pub const fn new(pool: PgPool, clock: Clock, timeouts: SessionTimeouts) -> Self {
        Self {
            pool,
            clock,
            timeouts,
        }
    }
}

/// SHA-256 of a session key: what the database stores.
#[must_use]
pub fn hash_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn new_key() -> Result<SessionKey, anyhow::Error> {
    let mut bytes = [0_u8; 32];
    // ThreadRng is a CSPRNG (ChaCha12) seeded and periodically reseeded from the OS.
    rand::rng().fill_bytes(&mut bytes);
    SessionKey::try_from(URL_SAFE_NO_PAD.encode(bytes)).map_err(|err| anyhow::anyhow!("{err}"))
}

/// The columns derived from the state, and the state without computed entries.
struct Persisted {
    state: serde_json::Value,
    user_id: Option<Uuid>,
    user_agent: String,
    ip: String,
}

fn persisted(state: HashMap<String, String>) -> Persisted {
    let decode = |value: Option<&String>| -> Option<String> {
        value.and_then(|raw| serde_json::from_str::<String>(raw).ok())
    };
    let user_id = decode(state.get(USER_ID_KEY)).and_then(|id| Uuid::parse_str(&id).ok());
    let user_agent = decode(state.get(USER_AGENT_KEY)).unwrap_or_default();
    let ip = decode(state.get(IP_KEY)).unwrap_or_default();
    let kept: serde_json::Map<String, serde_json::Value> = state
        .into_iter()
        .filter(|(key, _)| !key.starts_with("__"))
        .map(|(key, value)| (key, serde_json::Value::String(value)))
        .collect();
    Persisted {
        state: serde_json::Value::Object(kept),
        user_id,
        user_agent: user_agent.chars().take(512).collect(),
        ip: ip.chars().take(64).collect(),
    }
}

struct LoadedRow {
    state: serde_json::Value,
    user_id: Option<Uuid>,
    email: Option<String>,
    display_name: Option<String>,
    roles: Option<Vec<String>>,
    time_zone: Option<String>,
    units: Option<String>,
    disabled: Option<bool>,
}

impl SessionStore for PgSessionStore {
    async fn load(
        &self,
        session_key: &SessionKey,
    ) -> Result<Option<HashMap<String, String>>, LoadError> {
        let now = self.clock.now();
        let idle_until = now + self.timeouts.idle;
        let row: Result<Option<LoadedRow>, sqlx::Error> = sqlx::query_as!(
            LoadedRow,
            r#"WITH live AS (
                 SELECT id_hash, state, user_id FROM sessions
                 WHERE id_hash = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2
             ), touched AS (
                 UPDATE sessions SET last_seen_at = $2, idle_expires_at = LEAST($3, absolute_expires_at)
                 WHERE id_hash = $1 AND id_hash IN (SELECT id_hash FROM live)
                   AND last_seen_at < $2 - make_interval(secs => $4)
                 RETURNING 1
             )
             SELECT live.state AS "state!", live.user_id AS "user_id?", u.email AS "email?",
                    u.display_name AS "display_name?",
                    ARRAY(SELECT role FROM user_roles r WHERE r.user_id = u.id ORDER BY role) AS "roles?",
                    u.time_zone AS "time_zone?", u.units AS "units?",
                    (u.disabled_at IS NOT NULL) AS "disabled?"
             FROM live LEFT JOIN users u ON u.id = live.user_id"#,
            hash_key(session_key.as_ref()),
            now,
            idle_until,
            TOUCH_INTERVAL_SECS,
        )
        .fetch_optional(&self.pool)
        .await;
        let row = match row {
            Ok(row) => row,
            Err(err) if is_connection_error(&err) => {
                tracing::warn!(error = %err, "session store unavailable");
                return Ok(Some(HashMap::from([(
                    UNAVAILABLE_KEY.to_owned(),
                    "true".to_owned(),
                )])));
            }
            Err(err) => return Err(LoadError::Other(err.into())),
        };
        let Some(row) = row else { return Ok(None) };
        let serde_json::Value::Object(entries) = row.state else {
            return Err(LoadError::Deserialization(anyhow::anyhow!(
                "session state is not an object"
            )));
        };
        let mut state: HashMap<String, String> = entries
            .into_iter()
            .filter_map(|(key, value)| match value {
                serde_json::Value::String(text) => Some((key, text)),
                _ => None,
            })
            .collect();
        let id_hash = hash_key(session_key.as_ref());
        state.insert(
            SESSION_ID_KEY.to_owned(),
            serde_json::to_string(&URL_SAFE_NO_PAD.encode(id_hash))
                .map_err(|err| LoadError::Other(err.into()))?,
        );
        if row.user_id.is_some() {
            // A session whose user is gone or disabled is no session at all.
            match (row.email, row.display_name, row.disabled) {
                (Some(email), Some(display_name), Some(false)) => {
                    let user = SessionUser {
                        id: row.user_id.unwrap_or_default(),
                        email,
                        display_name,
                        roles: row.roles.unwrap_or_default(),
                        time_zone: row.time_zone.unwrap_or_default(),
                        units: row.units.unwrap_or_default(),
                    };
                    let encoded =
                        serde_json::to_string(&user).map_err(|err| LoadError::Other(err.into()))?;
                    state.insert(USER_KEY.to_owned(), encoded);
                }
                _ => return Ok(None),
            }
        }
        Ok(Some(state))
    }

    async fn save(
        &self,
        session_state: HashMap<String, String>,
        _ttl: &CookieDuration,
    ) -> Result<SessionKey, SaveError> {
        let key = new_key().map_err(SaveError::Other)?;
        let now = self.clock.now();
        let row = persisted(session_state);
        sqlx::query!(
            "INSERT INTO sessions (id_hash, user_id, state, user_agent, ip, created_at, last_seen_at,
                                   idle_expires_at, absolute_expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $6, LEAST($7::timestamptz, $8::timestamptz), $8)",
            hash_key(key.as_ref()),
            row.user_id,
            row.state,
            row.user_agent,
            row.ip,
            now,
            now + self.timeouts.idle,
            now + self.timeouts.absolute,
        )
        .execute(&self.pool)
        .await
        .map_err(|err| SaveError::Other(err.into()))?;
        Ok(key)
    }

    async fn update(
        &self,
        session_key: SessionKey,
        session_state: HashMap<String, String>,
        ttl: &CookieDuration,
    ) -> Result<SessionKey, UpdateError> {
        let row = persisted(session_state.clone());
        let updated = sqlx::query!(
            "UPDATE sessions SET state = $2, user_id = $3, user_agent = $4, ip = $5
             WHERE id_hash = $1 AND absolute_expires_at > $6",
            hash_key(session_key.as_ref()),
            row.state,
            row.user_id,
            row.user_agent,
            row.ip,
            self.clock.now(),
        )
        .execute(&self.pool)
        .await
        .map_err(|err| UpdateError::Other(err.into()))?;
        if updated.rows_affected() == 0 {
            // Expired meanwhile: start a new session with this state.
            return self
                .save(session_state, ttl)
                .await
                .map_err(|err| UpdateError::Other(err.into()));
        }
        Ok(session_key)
    }

    async fn update_ttl(
        &self,
        _session_key: &SessionKey,
        _ttl: &CookieDuration,
    ) -> Result<(), anyhow::Error> {
        // Idle expiry is extended by `load`; absolute expiry never moves.
        Ok(())
    }

    async fn delete(&self, session_key: &SessionKey) -> Result<(), anyhow::Error> {
        sqlx::query!(
            "DELETE FROM sessions WHERE id_hash = $1",
            hash_key(session_key.as_ref())
        )
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Remove expired sessions. Run periodically.
///
/// # Errors
/// Database errors.
pub async fn delete_expired(pool: &PgPool, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM sessions WHERE idle_expires_at <= $1 OR absolute_expires_at <= $1",
        now
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
