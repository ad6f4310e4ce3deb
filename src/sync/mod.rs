//! The sync engine: provider activities into Pierre, by jobs on the
//! PostgreSQL queue ([`crate::db::jobs`]).
//!
//! - [`strava`]: backfill, webhook events, periodic poll, and the idempotent
//!   import of one Strava activity.
//! - [`mapping`]: Strava JSON → [`crate::domain::ParsedActivity`].
//!
//! Handlers return `anyhow` errors; a [`JobError`] inside tells the worker to
//! do something other than the usual retry with backoff.

pub mod garmin;
pub mod mapping;
pub mod strava;

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::db::jobs;
use crate::providers::ProviderCtx;
use crate::providers::strava::ApiError;

/// How often a connection is polled for activities a webhook may have missed.
pub const POLL_EVERY: TimeDelta = TimeDelta::hours(6);

/// What the worker does with a job that stopped, other than retrying.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The provider's budget is used up: run again at this instant (clock
    /// time), without using up an attempt. The job saved its cursor.
    #[error("rate limited until {0}")]
    Deferred(DateTime<Utc>),
    /// Retrying cannot help (the athlete must connect again, the app is
    /// disabled): the job is dead at once, with this message.
    #[error("{0}")]
    Permanent(String),
}

/// The job-level meaning of an API error: deferral, a permanent stop, or
/// (anything else) a retry.
#[must_use]
pub fn job_error(err: ApiError) -> anyhow::Error {
    match err {
        ApiError::RateLimited { until } => JobError::Deferred(until).into(),
        ApiError::Unauthorized | ApiError::NotConnected | ApiError::NotConfigured => {
            JobError::Permanent(err.to_string()).into()
        }
        other => other.into(),
    }
}

/// Queue a poll for every active connection whose `next_sync_at` is due.
///
/// One statement moves `next_sync_at` [`POLL_EVERY`] ahead (so a failing poll
/// is not queued again every minute) and queues the polls, so the two happen
/// together or not at all, whatever the number of connections. A poll already
/// waiting or running for a connection is not queued twice (`dedupe_key`).
/// Returns how many were queued.
///
/// # Errors
/// Database errors.
pub async fn schedule_polls(pool: &PgPool, ctx: &ProviderCtx) -> Result<usize, sqlx::Error> {
    let queued = sqlx::query_scalar!(
        r#"WITH due AS (
             UPDATE provider_connections SET next_sync_at = $1::timestamptz + make_interval(secs => $2)
             WHERE status = 'active' AND provider = 'strava' AND next_sync_at <= $1
             RETURNING user_id, provider
           ), queued AS (
             INSERT INTO jobs (kind, user_id, payload, dedupe_key)
             SELECT $3, user_id, jsonb_build_object('provider', provider),
                    'poll:' || user_id::text || ':' || provider
             FROM due
             ON CONFLICT (dedupe_key) WHERE state IN ('queued', 'running') DO NOTHING
             RETURNING 1
           )
           SELECT count(*) AS "n!" FROM queued"#,
        ctx.clock.now(),
        POLL_EVERY.as_seconds_f64(),
        jobs::SYNC_POLL
    )
    .fetch_one(pool)
    .await?;
    Ok(usize::try_from(queued).unwrap_or(0))
}
