//! What the connections page reads and what disconnecting deletes. Tokens
//! themselves are in [`crate::providers::tokens`].

use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::jobs::{self, Progress};

/// The athlete's latest backfill job for a provider.
///
/// # Errors
/// Database errors.
pub async fn latest_backfill(
    conn: &mut PgConnection,
    user_id: Uuid,
    provider: &str,
) -> Result<Option<Progress>, sqlx::Error> {
    sqlx::query_as!(
        Progress,
        r#"SELECT id, state, progress_done AS done, progress_total AS total, last_error, updated_at
           FROM jobs WHERE user_id = $1 AND kind = $2 AND payload->>'provider' = $3
           ORDER BY id DESC LIMIT 1"#,
        user_id,
        jobs::SYNC_BACKFILL,
        provider
    )
    .fetch_optional(conn)
    .await
}

/// How many of the athlete's activities came from `source`.
///
/// # Errors
/// Database errors.
pub async fn count_from_source(
    conn: &mut PgConnection,
    user_id: Uuid,
    source: &str,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM activities WHERE user_id = $1 AND source = $2"#,
        user_id,
        source
    )
    .fetch_one(conn)
    .await
}

/// Delete the connection (and so its tokens). True when there was one.
///
/// # Errors
/// Database errors.
pub async fn delete(
    conn: &mut PgConnection,
    user_id: Uuid,
    provider: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM provider_connections WHERE user_id = $1 AND provider = $2",
        user_id,
        provider
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Delete the athlete's activities that came from `source`; how many.
///
/// # Errors
/// Database errors.
pub async fn delete_from_source(
    conn: &mut PgConnection,
    user_id: Uuid,
    source: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM activities WHERE user_id = $1 AND source = $2",
        user_id,
        source
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Drop the athlete's waiting sync jobs for a provider (nothing left to sync).
///
/// # Errors
/// Database errors.
pub async fn cancel_queued_sync(
    conn: &mut PgConnection,
    user_id: Uuid,
    provider: &str,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM jobs WHERE user_id = $1 AND state = 'queued' AND kind = ANY($2)
           AND payload->>'provider' = $3",
        user_id,
        &[
            jobs::SYNC_BACKFILL,
            jobs::SYNC_EVENT,
            jobs::SYNC_POLL,
            jobs::GARMIN_PING
        ]
        .map(str::to_owned)[..],
        provider
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// Forget an athlete's connection to a provider, in the caller's transaction.
///
/// The connection (its tokens) first, then its waiting sync jobs, and for
/// Strava every Strava-sourced activity with the summaries rebuilt (Strava's
/// terms). Used by the disconnect button and by Strava's deauthorization
/// event alike. Returns how many activities were deleted.
///
/// The order matters: an import holds the connection row (`FOR SHARE`, see
/// `sync::strava`) until it commits, so deleting the connection first either
/// waits for that import — whose activity the next statement then deletes —
/// or makes it stop.
///
/// # Errors
/// Database errors.
pub async fn forget(
    conn: &mut PgConnection,
    user_id: Uuid,
    provider: crate::domain::provider::Provider,
) -> Result<u64, sqlx::Error> {
    use crate::domain::provider::Provider;
    delete(conn, user_id, provider.as_str()).await?;
    cancel_queued_sync(conn, user_id, provider.as_str()).await?;
    if provider != Provider::Strava {
        return Ok(0);
    }
    let deleted = delete_from_source(conn, user_id, provider.as_str()).await?;
    crate::db::summaries::rebuild(conn, user_id).await?;
    Ok(deleted)
}
