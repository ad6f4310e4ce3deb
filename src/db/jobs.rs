//! The PostgreSQL job queue: claim with `FOR UPDATE SKIP LOCKED`, retry with
//! exponential backoff and jitter, keep dead jobs with their error.
//!
//! A claimed job holds a lease (`locked_until`); a worker that dies mid-job
//! leaves it to be claimed again when the lease runs out.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

/// Job kind: recompute an athlete's activity metrics from a day on.
pub const RECOMPUTE: &str = "recompute_metrics";

/// Job kind: import a provider's history for an athlete (payload:
/// `{"provider": "strava", "after": unix seconds or null}`), newest first, with progress.
pub const SYNC_BACKFILL: &str = "sync_backfill";
/// Job kind: apply one provider webhook event (payload: the event as received,
/// plus `"provider"`).
pub const SYNC_EVENT: &str = "sync_event";
/// Job kind: look for activities a webhook may have missed (payload: `{"provider"}`).
pub const SYNC_POLL: &str = "sync_poll";

/// How long a claimed job may run before another worker may take it over.
pub const LEASE_SECS: f64 = 300.0;
/// Attempts before a job is dead.
pub const MAX_ATTEMPTS: i32 = 5;

/// A claimed job.
#[derive(Debug, Clone)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub user_id: Option<Uuid>,
    pub payload: Value,
    pub attempts: i32,
    /// When it was due (for the wait-time metric).
    pub run_at: DateTime<Utc>,
}

/// Progress of an athlete's latest job of one kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub id: i64,
    pub state: String,
    pub done: i32,
    pub total: i32,
    pub last_error: Option<String>,
    pub updated_at: DateTime<Utc>,
}

impl Progress {
    /// Queued or running.
    #[must_use]
    pub fn active(&self) -> bool {
        self.state == "queued" || self.state == "running"
    }
}

/// Ask for the athlete's metrics to be recomputed from `from` on. A queued
/// (not yet started) request is widened instead of adding a second one.
///
/// # Errors
/// Database errors.
pub async fn enqueue_recompute(
    conn: &mut PgConnection,
    user_id: Uuid,
    from: NaiveDate,
) -> Result<i64, sqlx::Error> {
    let widened = sqlx::query_scalar!(
        "UPDATE jobs SET payload = jsonb_build_object('from', least((payload->>'from')::date, $2::date)),
                         updated_at = now()
         WHERE id = (SELECT id FROM jobs WHERE user_id = $1 AND kind = $3 AND state = 'queued'
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id",
        user_id,
        from,
        RECOMPUTE
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = widened {
        return Ok(id);
    }
    sqlx::query_scalar!(
        "INSERT INTO jobs (kind, user_id, payload) VALUES ($1, $2, jsonb_build_object('from', $3::date)) RETURNING id",
        RECOMPUTE,
        user_id,
        from
    )
    .fetch_one(conn)
    .await
}

/// Queue a job. With a `dedupe_key`, nothing is queued while a job with the
/// same key is waiting or running (`None` is returned then).
///
/// # Errors
/// Database errors.
pub async fn enqueue(
    conn: &mut PgConnection,
    kind: &str,
    user_id: Option<Uuid>,
    payload: &Value,
    dedupe_key: Option<&str>,
) -> Result<Option<i64>, sqlx::Error> {
    sqlx::query_scalar!(
        "INSERT INTO jobs (kind, user_id, payload, dedupe_key) VALUES ($1, $2, $3, $4)
         ON CONFLICT (dedupe_key) WHERE state IN ('queued', 'running') DO NOTHING
         RETURNING id",
        kind,
        user_id,
        payload,
        dedupe_key
    )
    .fetch_optional(conn)
    .await
}

/// Claim the next due job (or one whose lease ran out).
///
/// # Errors
/// Database errors.
pub async fn claim(conn: &mut PgConnection) -> Result<Option<Job>, sqlx::Error> {
    sqlx::query_as!(
        Job,
        "UPDATE jobs SET state = 'running', attempts = attempts + 1, updated_at = now(),
                         locked_until = now() + make_interval(secs => $1)
         WHERE id = (SELECT id FROM jobs
                     WHERE (state = 'queued' AND run_at <= now()) OR (state = 'running' AND locked_until < now())
                     ORDER BY run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
         RETURNING id, kind, user_id, payload, attempts, run_at",
        LEASE_SECS
    )
    .fetch_optional(conn)
    .await
}

/// Record progress (and renew the lease).
///
/// # Errors
/// Database errors.
pub async fn progress(
    conn: &mut PgConnection,
    id: i64,
    done: i32,
    total: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE jobs SET progress_done = $2, progress_total = $3, updated_at = now(),
                         locked_until = now() + make_interval(secs => $4)
         WHERE id = $1",
        id,
        done,
        total,
        LEASE_SECS
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Save a running job's payload (its cursor) with its progress, and renew the lease.
///
/// # Errors
/// Database errors.
pub async fn checkpoint(
    conn: &mut PgConnection,
    id: i64,
    payload: &Value,
    done: i32,
    total: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE jobs SET payload = $2, progress_done = $3, progress_total = $4, updated_at = now(),
                         locked_until = now() + make_interval(secs => $5)
         WHERE id = $1",
        id,
        payload,
        done,
        total,
        LEASE_SECS
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Put a running job back in the queue without using up an attempt.
///
/// It runs `delay_secs` from now (a provider's rate limit is not the job's
/// fault). The delay is relative so that the caller's clock (the providers' windows)
/// and PostgreSQL's agree.
///
/// # Errors
/// Database errors.
pub async fn defer(
    conn: &mut PgConnection,
    id: i64,
    delay_secs: f64,
    reason: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0),
                         run_at = now() + make_interval(secs => $2), locked_until = NULL,
                         last_error = $3, updated_at = now()
         WHERE id = $1",
        id,
        delay_secs.max(0.0),
        reason
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A job that retrying cannot help: dead at once, with its error.
///
/// # Errors
/// Database errors.
pub async fn bury(conn: &mut PgConnection, id: i64, error: &str) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE jobs SET state = 'dead', locked_until = NULL, last_error = $2, updated_at = now() WHERE id = $1",
        id,
        error
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Mark a job done.
///
/// # Errors
/// Database errors.
pub async fn finish(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE jobs SET state = 'done', locked_until = NULL, last_error = NULL, updated_at = now() WHERE id = $1",
        id
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Seconds to wait before attempt `attempts + 1`: 2^attempts × 5 s, ±25 % jitter.
#[must_use]
pub fn backoff_secs(attempts: i32, jitter: f64) -> f64 {
    let base = 5.0 * 2f64.powi(attempts.clamp(0, 16));
    base * 0.5f64.mul_add(jitter.clamp(0.0, 1.0), 0.75)
}

/// Record a failure: retry later, or dead after [`MAX_ATTEMPTS`].
///
/// # Errors
/// Database errors.
pub async fn fail(conn: &mut PgConnection, job: &Job, error: &str) -> Result<(), sqlx::Error> {
    let delay = backoff_secs(job.attempts, rand::random::<f64>());
    sqlx::query!(
        "UPDATE jobs SET state = CASE WHEN attempts >= $2 THEN 'dead' ELSE 'queued' END,
                         run_at = now() + make_interval(secs => $3), locked_until = NULL,
                         last_error = $4, updated_at = now()
         WHERE id = $1",
        job.id,
        MAX_ATTEMPTS,
        delay,
        error
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The athlete's latest job of `kind`, if any.
///
/// # Errors
/// Database errors.
pub async fn latest(
    conn: &mut PgConnection,
    user_id: Uuid,
    kind: &str,
) -> Result<Option<Progress>, sqlx::Error> {
    sqlx::query_as!(
        Progress,
        r#"SELECT id, state, progress_done AS done, progress_total AS total, last_error, updated_at
           FROM jobs WHERE user_id = $1 AND kind = $2 ORDER BY id DESC LIMIT 1"#,
        user_id,
        kind
    )
    .fetch_optional(conn)
    .await
}

/// Forget finished jobs older than a week.
///
/// # Errors
/// Database errors.
pub async fn prune(conn: &mut PgConnection) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM jobs WHERE state = 'done' AND updated_at < now() - interval '7 days'"
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_bounded_jitter() {
        assert!((backoff_secs(0, 0.5) - 5.0).abs() < 1e-9);
        assert!((backoff_secs(1, 0.5) - 10.0).abs() < 1e-9);
        assert!((backoff_secs(3, 0.0) - 30.0).abs() < 1e-9);
        assert!((backoff_secs(3, 1.0) - 50.0).abs() < 1e-9);
        assert!(backoff_secs(100, 1.0).is_finite());
    }
}
