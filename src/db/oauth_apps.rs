//! OAuth apps (one per provider) and the sealed secrets of provider
//! connections, including the key rotation that re-encrypts them all.
//!
//! Secret columns hold [`crate::crypto::Sealed`] bytes; this module stores and
//! returns them as they are. Sealing and opening happen in the callers with
//! [`crate::crypto::Aad::app`] / [`crate::crypto::Aad::connection`] and the
//! column names below.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::crypto::{Aad, CryptoError, DataKeys};

/// Column names, also used in the associated data of sealed values.
pub mod column {
    pub const CLIENT_SECRET: &str = "client_secret";
    pub const WEBHOOK_VERIFY_TOKEN: &str = "webhook_verify_token";
    pub const ACCESS_TOKEN: &str = "access_token";
    pub const REFRESH_TOKEN: &str = "refresh_token";
}

/// A stored OAuth app.
#[derive(Debug, Clone)]
pub struct AppRow {
    pub provider: String,
    pub display_name: String,
    pub client_id: String,
    /// Sealed (see [`crate::crypto::Sealed`]).
    pub client_secret: Option<Vec<u8>>,
    pub client_secret_set_at: Option<DateTime<Utc>>,
    pub authorize_url: String,
    pub token_url: String,
    pub api_base_url: String,
    pub scopes: String,
    /// Sealed.
    pub webhook_verify_token: Option<Vec<u8>>,
    pub webhook_verify_token_set_at: Option<DateTime<Utc>>,
    pub subscription_id: Option<String>,
    pub enabled: bool,
    pub limit_short: i32,
    pub limit_daily: i32,
    pub read_limit_short: i32,
    pub read_limit_daily: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every configured app, by provider.
///
/// # Errors
/// Database errors.
pub async fn list(conn: &mut PgConnection) -> Result<Vec<AppRow>, sqlx::Error> {
    sqlx::query_as!(
        AppRow,
        "SELECT provider, display_name, client_id, client_secret, client_secret_set_at, authorize_url,
                token_url, api_base_url, scopes, webhook_verify_token, webhook_verify_token_set_at,
                subscription_id, enabled, limit_short, limit_daily, read_limit_short, read_limit_daily,
                created_at, updated_at
         FROM oauth_apps ORDER BY provider"
    )
    .fetch_all(conn)
    .await
}

/// The app of one provider, if configured.
///
/// # Errors
/// Database errors.
pub async fn get(conn: &mut PgConnection, provider: &str) -> Result<Option<AppRow>, sqlx::Error> {
    sqlx::query_as!(
        AppRow,
        "SELECT provider, display_name, client_id, client_secret, client_secret_set_at, authorize_url,
                token_url, api_base_url, scopes, webhook_verify_token, webhook_verify_token_set_at,
                subscription_id, enabled, limit_short, limit_daily, read_limit_short, read_limit_daily,
                created_at, updated_at
         FROM oauth_apps WHERE provider = $1",
        provider
    )
    .fetch_optional(conn)
    .await
}

/// Connected athletes per provider (connections not revoked).
///
/// # Errors
/// Database errors.
pub async fn connection_counts(conn: &mut PgConnection) -> Result<Vec<(String, i64)>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT provider, count(*) AS "count!" FROM provider_connections
           WHERE status <> 'revoked' GROUP BY provider"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.provider, r.count)).collect())
}

/// Store (or clear) the app's push subscription id.
///
/// # Errors
/// Database errors.
pub async fn set_subscription(
    conn: &mut PgConnection,
    provider: &str,
    subscription_id: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE oauth_apps SET subscription_id = $2, updated_at = now() WHERE provider = $1",
        provider,
        subscription_id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A recent provider error, for the admin page.
#[derive(Debug, Clone)]
pub struct ProviderError {
    pub at: DateTime<Utc>,
    pub kind: String,
    pub status: Option<i32>,
    pub message: String,
    pub user_email: Option<String>,
}

/// The provider's latest errors, newest first.
///
/// # Errors
/// Database errors.
pub async fn recent_errors(
    conn: &mut PgConnection,
    provider: &str,
    limit: i64,
) -> Result<Vec<ProviderError>, sqlx::Error> {
    sqlx::query_as!(
        ProviderError,
        r#"SELECT e.at, e.kind, e.status, e.message, u.email AS "user_email?"
           FROM provider_errors e LEFT JOIN users u ON u.id = e.user_id
           WHERE e.provider = $1 ORDER BY e.at DESC, e.id DESC LIMIT $2"#,
        provider,
        limit
    )
    .fetch_all(conn)
    .await
}

/// What an admin saves. `None` secrets keep the stored ones.
#[derive(Debug, Clone)]
pub struct AppUpdate<'a> {
    pub provider: &'a str,
    pub display_name: &'a str,
    pub client_id: &'a str,
    pub client_secret: Option<Vec<u8>>,
    pub authorize_url: &'a str,
    pub token_url: &'a str,
    pub api_base_url: &'a str,
    pub scopes: &'a str,
    pub webhook_verify_token: Option<Vec<u8>>,
    pub enabled: bool,
    pub limit_short: i32,
    pub limit_daily: i32,
    pub read_limit_short: i32,
    pub read_limit_daily: i32,
}

/// Create or update the app of a provider. Returns true when it was created.
///
/// # Errors
/// Database errors.
pub async fn save(
    conn: &mut PgConnection,
    app: &AppUpdate<'_>,
    now: DateTime<Utc>,
) -> Result<bool, sqlx::Error> {
    let row = sqlx::query!(
        r#"INSERT INTO oauth_apps (provider, display_name, client_id, client_secret, client_secret_set_at,
               authorize_url, token_url, api_base_url, scopes, webhook_verify_token, webhook_verify_token_set_at,
               enabled, limit_short, limit_daily, read_limit_short, read_limit_daily, created_at, updated_at)
           VALUES ($1, $2, $3, $4, CASE WHEN $4::bytea IS NULL THEN NULL ELSE $15::timestamptz END,
               $5, $6, $7, $8, $9, CASE WHEN $9::bytea IS NULL THEN NULL ELSE $15::timestamptz END,
               $10, $11, $12, $13, $14, $15, $15)
           ON CONFLICT (provider) DO UPDATE SET
               display_name = EXCLUDED.display_name,
               client_id = EXCLUDED.client_id,
               client_secret = COALESCE(EXCLUDED.client_secret, oauth_apps.client_secret),
               client_secret_set_at = COALESCE(EXCLUDED.client_secret_set_at, oauth_apps.client_secret_set_at),
               authorize_url = EXCLUDED.authorize_url,
               token_url = EXCLUDED.token_url,
               api_base_url = EXCLUDED.api_base_url,
               scopes = EXCLUDED.scopes,
               webhook_verify_token = COALESCE(EXCLUDED.webhook_verify_token, oauth_apps.webhook_verify_token),
               webhook_verify_token_set_at = COALESCE(EXCLUDED.webhook_verify_token_set_at, oauth_apps.webhook_verify_token_set_at),
               enabled = EXCLUDED.enabled,
               limit_short = EXCLUDED.limit_short,
               limit_daily = EXCLUDED.limit_daily,
               read_limit_short = EXCLUDED.read_limit_short,
               read_limit_daily = EXCLUDED.read_limit_daily,
               updated_at = EXCLUDED.updated_at
           RETURNING (xmax = 0) AS "created!""#,
        app.provider,
        app.display_name,
        app.client_id,
        app.client_secret.as_deref(),
        app.authorize_url,
        app.token_url,
        app.api_base_url,
        app.scopes,
        app.webhook_verify_token.as_deref(),
        app.enabled,
        app.limit_short,
        app.limit_daily,
        app.read_limit_short,
        app.read_limit_daily,
        now,
    )
    .fetch_one(conn)
    .await?;
    Ok(row.created)
}

/// Why a rotation stopped (nothing was changed: it runs in one transaction).
#[derive(Debug, thiserror::Error)]
pub enum RotateError {
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("{place}: {source}")]
    Crypto {
        /// Which value (table, row, column); never its content.
        place: String,
        source: CryptoError,
    },
}

/// How many sealed values a rotation looked at and re-encrypted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rotated {
    pub examined: u64,
    pub resealed: u64,
}

/// Re-encrypt every sealed value not under the current key with it.
///
/// Run it inside a transaction: the rows are locked while they are rewritten,
/// and an error leaves everything as it was. Values already under the current
/// key are left alone, so running it again re-encrypts nothing.
///
/// # Errors
/// Database errors, or a value that cannot be opened with the configured keys.
pub async fn rotate_keys(conn: &mut PgConnection, keys: &DataKeys) -> Result<Rotated, RotateError> {
    let mut out = Rotated::default();
    let mut step = |provider_or_user: String,
                    column: &str,
                    stored: Option<&[u8]>,
                    aad: Aad|
     -> Result<Option<Vec<u8>>, RotateError> {
        let Some(stored) = stored else {
            return Ok(None);
        };
        out.examined += 1;
        let resealed = keys
            .reseal(stored, &aad)
            .map_err(|source| RotateError::Crypto {
                place: format!("{provider_or_user} {column}"),
                source,
            })?;
        if resealed.is_some() {
            out.resealed += 1;
        }
        Ok(resealed)
    };

    let apps = sqlx::query!(
        "SELECT provider, client_secret, webhook_verify_token FROM oauth_apps ORDER BY provider FOR UPDATE"
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut app_updates = Vec::new();
    for app in apps {
        let place = format!("oauth_apps {}", app.provider);
        let secret = step(
            place.clone(),
            column::CLIENT_SECRET,
            app.client_secret.as_deref(),
            Aad::app(&app.provider, column::CLIENT_SECRET),
        )?;
        let verify = step(
            place,
            column::WEBHOOK_VERIFY_TOKEN,
            app.webhook_verify_token.as_deref(),
            Aad::app(&app.provider, column::WEBHOOK_VERIFY_TOKEN),
        )?;
        if secret.is_some() || verify.is_some() {
            app_updates.push((app.provider, secret, verify));
        }
    }

    let connections = sqlx::query!(
        "SELECT id, user_id, provider, access_token, refresh_token FROM provider_connections
         ORDER BY id FOR UPDATE"
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut connection_updates = Vec::new();
    for c in connections {
        let place = format!("provider_connections {} (user {})", c.provider, c.user_id);
        let access = step(
            place.clone(),
            column::ACCESS_TOKEN,
            c.access_token.as_deref(),
            Aad::connection(c.user_id, &c.provider, column::ACCESS_TOKEN),
        )?;
        let refresh = step(
            place,
            column::REFRESH_TOKEN,
            c.refresh_token.as_deref(),
            Aad::connection(c.user_id, &c.provider, column::REFRESH_TOKEN),
        )?;
        if access.is_some() || refresh.is_some() {
            connection_updates.push((c.id, access, refresh));
        }
    }

    for (provider, secret, verify) in app_updates {
        sqlx::query!(
            "UPDATE oauth_apps SET client_secret = COALESCE($2, client_secret),
                 webhook_verify_token = COALESCE($3, webhook_verify_token)
             WHERE provider = $1",
            provider,
            secret,
            verify
        )
        .execute(&mut *conn)
        .await?;
    }
    for (id, access, refresh) in connection_updates {
        update_connection_tokens(conn, id, access, refresh).await?;
    }
    Ok(out)
}

async fn update_connection_tokens(
    conn: &mut PgConnection,
    id: Uuid,
    access: Option<Vec<u8>>,
    refresh: Option<Vec<u8>>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE provider_connections SET access_token = COALESCE($2, access_token),
             refresh_token = COALESCE($3, refresh_token)
         WHERE id = $1",
        id,
        access,
        refresh
    )
    .execute(conn)
    .await?;
    Ok(())
}
