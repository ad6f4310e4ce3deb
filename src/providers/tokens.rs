//! The athletes' provider connections and their tokens, sealed at rest
//! (AES-256-GCM bound to user, provider and column; [`crate::crypto`]).

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::crypto::{Aad, CryptoError, DataKeys, Sealed};
use crate::db::oauth_apps::column;
use crate::domain::provider::Provider;

/// A token pair as the provider issued it.
#[derive(Debug, Clone)]
pub struct TokenSet {
    pub access: SecretString,
    pub refresh: SecretString,
    pub expires_at: DateTime<Utc>,
}

/// A connection as pages and jobs read it (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connection {
    pub id: Uuid,
    pub user_id: Uuid,
    pub provider: String,
    pub external_athlete_id: String,
    pub athlete_name: String,
    pub granted_scopes: String,
    pub status: String,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTime<Utc>>,
    pub backfill_after: Option<DateTime<Utc>>,
    pub last_sync_at: Option<DateTime<Utc>>,
    pub next_sync_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What a newly authorised connection stores.
#[derive(Debug)]
pub struct NewConnection<'a> {
    pub user_id: Uuid,
    pub provider: Provider,
    pub external_athlete_id: &'a str,
    pub athlete_name: &'a str,
    pub granted_scopes: &'a str,
    pub tokens: &'a TokenSet,
    pub backfill_after: Option<DateTime<Utc>>,
}

/// Seal a token for its row and column.
///
/// # Errors
/// Only if no data key is configured.
pub fn seal(
    keys: &DataKeys,
    user_id: Uuid,
    provider: Provider,
    col: &str,
    token: &SecretString,
) -> Result<Vec<u8>, CryptoError> {
    Ok(keys
        .seal(token, &Aad::connection(user_id, provider.as_str(), col))?
        .to_bytes())
}

/// Open a sealed token of a row and column.
///
/// # Errors
/// When the bytes are malformed, sealed for another row or column, or under an unknown key.
pub fn open(
    keys: &DataKeys,
    user_id: Uuid,
    provider: Provider,
    col: &str,
    stored: &[u8],
) -> Result<SecretString, CryptoError> {
    keys.open(
        &Sealed::from_bytes(stored)?,
        &Aad::connection(user_id, provider.as_str(), col),
    )
}

/// Store (or replace: reconnecting) the athlete's connection to a provider.
///
/// A provider athlete already connected to *another* Pierre user is refused
/// by the unique constraint (`provider_connections_external_key`).
///
/// # Errors
/// Database errors; [`sqlx::Error::Protocol`] never (sealing cannot fail with parsed keys).
pub async fn save(
    conn: &mut PgConnection,
    keys: &DataKeys,
    new: &NewConnection<'_>,
) -> Result<Uuid, sqlx::Error> {
    let access = seal(
        keys,
        new.user_id,
        new.provider,
        column::ACCESS_TOKEN,
        &new.tokens.access,
    )
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let refresh = seal(
        keys,
        new.user_id,
        new.provider,
        column::REFRESH_TOKEN,
        &new.tokens.refresh,
    )
    .map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    sqlx::query_scalar!(
        "INSERT INTO provider_connections (user_id, provider, external_athlete_id, athlete_name, access_token,
             refresh_token, expires_at, granted_scopes, status, backfill_after)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'active', $9)
         ON CONFLICT (user_id, provider) DO UPDATE SET
             external_athlete_id = EXCLUDED.external_athlete_id, athlete_name = EXCLUDED.athlete_name,
             access_token = EXCLUDED.access_token, refresh_token = EXCLUDED.refresh_token,
             expires_at = EXCLUDED.expires_at, granted_scopes = EXCLUDED.granted_scopes, status = 'active',
             backfill_after = EXCLUDED.backfill_after, last_error = NULL, last_error_at = NULL, updated_at = now()
         RETURNING id",
        new.user_id,
        new.provider.as_str(),
        new.external_athlete_id,
        new.athlete_name,
        access,
        refresh,
        new.tokens.expires_at,
        new.granted_scopes,
        new.backfill_after
    )
    .fetch_one(conn)
    .await
}

/// The athlete's connection to `provider`, if any.
///
/// # Errors
/// Database errors.
pub async fn get(
    conn: &mut PgConnection,
    user_id: Uuid,
    provider: Provider,
) -> Result<Option<Connection>, sqlx::Error> {
    sqlx::query_as!(
        Connection,
        "SELECT id, user_id, provider, external_athlete_id, athlete_name, granted_scopes, status, expires_at,
                last_error, last_error_at, backfill_after, last_sync_at, next_sync_at, created_at
         FROM provider_connections WHERE user_id = $1 AND provider = $2",
        user_id,
        provider.as_str()
    )
    .fetch_optional(conn)
    .await
}

/// The connection of a provider's athlete id (webhook events name those).
///
/// # Errors
/// Database errors.
pub async fn by_external(
    conn: &mut PgConnection,
    provider: Provider,
    external_athlete_id: &str,
) -> Result<Option<Connection>, sqlx::Error> {
    sqlx::query_as!(
        Connection,
        "SELECT id, user_id, provider, external_athlete_id, athlete_name, granted_scopes, status, expires_at,
                last_error, last_error_at, backfill_after, last_sync_at, next_sync_at, created_at
         FROM provider_connections WHERE provider = $1 AND external_athlete_id = $2",
        provider.as_str(),
        external_athlete_id
    )
    .fetch_optional(conn)
    .await
}

/// The stored (sealed) tokens of a connection, opened.
///
/// # Errors
/// Database errors, or [`sqlx::Error::Decode`] when a sealed token cannot be opened.
pub async fn load(
    conn: &mut PgConnection,
    keys: &DataKeys,
    user_id: Uuid,
    provider: Provider,
) -> Result<Option<TokenSet>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT access_token, refresh_token, expires_at FROM provider_connections
         WHERE user_id = $1 AND provider = $2",
        user_id,
        provider.as_str()
    )
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let (Some(access), Some(refresh), Some(expires_at)) =
        (row.access_token, row.refresh_token, row.expires_at)
    else {
        return Ok(None);
    };
    let decode = |e: CryptoError| sqlx::Error::Decode(Box::new(e));
    Ok(Some(TokenSet {
        access: open(keys, user_id, provider, column::ACCESS_TOKEN, &access).map_err(decode)?,
        refresh: open(keys, user_id, provider, column::REFRESH_TOKEN, &refresh).map_err(decode)?,
        expires_at,
    }))
}

/// Why no usable access token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The athlete has no connection to this provider (or it holds no tokens).
    #[error("not connected")]
    NotConnected,
    /// The provider refused the refresh token or the athlete revoked access:
    /// only connecting again helps.
    #[error("the provider no longer accepts this connection; connect again")]
    NeedsReauth,
    /// The token expires and could not be refreshed now (provider down, timeout…): try later.
    #[error("could not refresh the access token: {0}")]
    Transient(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Refresh this long before the access token expires.
pub const REFRESH_BEFORE: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A usable access token for the athlete's connection, refreshed when it
/// expires within [`REFRESH_BEFORE`].
///
/// The refresh runs in a transaction holding the connection row
/// (`SELECT … FOR UPDATE`), so one refresh per athlete and provider runs at a
/// time across every worker and instance. After taking the lock the tokens are
/// read again: a caller that waited finds them refreshed and makes no call.
/// The new access token and the (possibly rotated) refresh token are committed
/// before the access token is returned, so the old refresh token is never
/// presented again.
///
/// A refusal of the refresh token (HTTP 400/401/403) marks the connection
/// `needs_reauth` with a sentence for the athlete and a `provider_errors` row.
///
/// # Errors
/// [`TokenError`]: not connected, needing a new authorisation, or a transient
/// failure (provider down, timeout, garbled answer).
pub async fn access_token(
    ctx: &super::ProviderCtx,
    pool: &sqlx::PgPool,
    user_id: Uuid,
    provider: Provider,
) -> Result<SecretString, TokenError> {
    let keys = &ctx.settings.data_keys;
    {
        let mut conn = pool.acquire().await?;
        let row = sqlx::query!(
            "SELECT status, access_token, expires_at FROM provider_connections
             WHERE user_id = $1 AND provider = $2",
            user_id,
            provider.as_str()
        )
        .fetch_optional(&mut *conn)
        .await?
        .ok_or(TokenError::NotConnected)?;
        if matches!(row.status.as_str(), "needs_reauth" | "revoked") {
            return Err(TokenError::NeedsReauth);
        }
        let (Some(access), Some(expires_at)) = (row.access_token, row.expires_at) else {
            return Err(TokenError::NotConnected);
        };
        if expires_at - ctx.clock.now() > REFRESH_BEFORE {
            return open(keys, user_id, provider, column::ACCESS_TOKEN, &access)
                .map_err(|e| TokenError::Database(sqlx::Error::Decode(Box::new(e))));
        }
    }
    refresh_locked(ctx, pool, user_id, provider).await
}

/// The refresh under the row lock (see [`access_token`]).
async fn refresh_locked(
    ctx: &super::ProviderCtx,
    pool: &sqlx::PgPool,
    user_id: Uuid,
    provider: Provider,
) -> Result<SecretString, TokenError> {
    let keys = &ctx.settings.data_keys;
    let mut tx = pool.begin().await?;
    let row = sqlx::query!(
        "SELECT status, access_token, refresh_token, expires_at FROM provider_connections
         WHERE user_id = $1 AND provider = $2 FOR UPDATE",
        user_id,
        provider.as_str()
    )
    .fetch_optional(&mut *tx)
    .await?
    .ok_or(TokenError::NotConnected)?;
    if matches!(row.status.as_str(), "needs_reauth" | "revoked") {
        return Err(TokenError::NeedsReauth);
    }
    let (Some(access), Some(refresh), Some(expires_at)) =
        (row.access_token, row.refresh_token, row.expires_at)
    else {
        return Err(TokenError::NotConnected);
    };
    let decode = |e: CryptoError| TokenError::Database(sqlx::Error::Decode(Box::new(e)));
    let now = ctx.clock.now();
    if expires_at - now > REFRESH_BEFORE {
        // Another caller refreshed while this one waited for the lock.
        tx.commit().await?;
        return open(keys, user_id, provider, column::ACCESS_TOKEN, &access).map_err(decode);
    }
    let refresh = open(keys, user_id, provider, column::REFRESH_TOKEN, &refresh).map_err(decode)?;
    let Ok(app) = super::oauth::App::load(&mut tx, keys, provider).await? else {
        return Err(TokenError::Transient(format!(
            "the {} app is not configured, so the access token cannot be refreshed",
            super::oauth::provider_name(provider)
        )));
    };
    match super::oauth::refresh(ctx, &app, &refresh).await {
        Ok(fresh) => {
            let access = seal(keys, user_id, provider, column::ACCESS_TOKEN, &fresh.access)
                .map_err(decode)?;
            let refresh = seal(
                keys,
                user_id,
                provider,
                column::REFRESH_TOKEN,
                &fresh.refresh,
            )
            .map_err(decode)?;
            sqlx::query!(
                "UPDATE provider_connections
                 SET access_token = $3, refresh_token = $4, expires_at = $5, updated_at = $6
                 WHERE user_id = $1 AND provider = $2",
                user_id,
                provider.as_str(),
                access,
                refresh,
                fresh.expires_at,
                now
            )
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(fresh.access)
        }
        Err(err @ super::oauth::OAuthError::Rejected { .. }) => {
            let name = super::oauth::provider_name(provider);
            let sentence = format!(
                "{name} no longer accepts Pierre's access (it was revoked or has expired). \
                 Reconnect {name} on the Connections page to resume syncing."
            );
            mark_needs_reauth(&mut tx, user_id, provider, &sentence, now).await?;
            crate::db::provider_errors::insert(
                &mut tx,
                provider.as_str(),
                Some(user_id),
                "oauth",
                err.status().map(i32::from),
                &format!("refresh refused: {err}"),
            )
            .await?;
            tx.commit().await?;
            Err(TokenError::NeedsReauth)
        }
        Err(err) => {
            tx.rollback().await?;
            let mut conn = pool.acquire().await?;
            crate::db::provider_errors::insert(
                &mut conn,
                provider.as_str(),
                Some(user_id),
                "oauth",
                None,
                &format!("refresh failed: {err}"),
            )
            .await?;
            Err(TokenError::Transient(err.to_string()))
        }
    }
}

/// Mark a connection as needing a new authorisation, with what to do.
///
/// # Errors
/// Database errors.
pub async fn mark_needs_reauth(
    conn: &mut PgConnection,
    user_id: Uuid,
    provider: Provider,
    sentence: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE provider_connections
         SET status = 'needs_reauth', last_error = $3, last_error_at = $4, updated_at = $4
         WHERE user_id = $1 AND provider = $2",
        user_id,
        provider.as_str(),
        sentence,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}
