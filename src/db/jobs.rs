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

/// Job kind: pull and import one Garmin activity file announced by a ping
/// (payload: the ping entry's `userId`, `summaryId`, `callbackURL`, `fileType`).
pub const GARMIN_PING: &str = "garmin_ping";

/// Job kind: rebuild the coach-scope summaries of every athlete with
/// activities of a source whose coach visibility changed (payload: `{"source"}`).
pub const REBUILD_COACH: &str = "rebuild_coach_summaries";

/// Every kind, so that metrics report zero for kinds with nothing waiting.
pub const KINDS: &[&str] = &[
    RECOMPUTE,
    SYNC_BACKFILL,
    SYNC_EVENT,
    SYNC_POLL,
    GARMIN_PING,
    REBUILD_COACH,
];

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

/// Give a running job back to the queue, due now, its attempt not counted
/// (a worker stopping before the job ended).
///
/// # Errors
/// Database errors.
pub async fn release(conn: &mut PgConnection, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE jobs SET state = 'queued', attempts = greatest(attempts - 1, 0), run_at = now(),
                         locked_until = NULL, updated_at = now()
         WHERE id = $1 AND state = 'running'",
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

/// The latest instance-wide job (no athlete) of `kind`, if any.
///
/// # Errors
/// Database errors.
pub async fn latest_instance_job(
    conn: &mut PgConnection,
    kind: &str,
) -> Result<Option<Progress>, sqlx::Error> {
    sqlx::query_as!(
        Progress,
        r#"SELECT id, state, progress_done AS done, progress_total AS total, last_error, updated_at
           FROM jobs WHERE user_id IS NULL AND kind = $1 ORDER BY id DESC LIMIT 1"#,
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

/// Jobs of one kind in one state (the admin page's table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Count {
    pub kind: String,
    pub state: String,
    pub n: i64,
}

/// Jobs by kind and state, finished ones included.
///
/// # Errors
/// Database errors.
pub async fn counts(conn: &mut PgConnection) -> Result<Vec<Count>, sqlx::Error> {
    sqlx::query_as!(
        Count,
        r#"SELECT kind, state, count(*) AS "n!" FROM jobs GROUP BY kind, state ORDER BY kind, state"#
    )
    .fetch_all(conn)
    .await
}

/// What the queue looks like now, for `/metrics` and the admin page: one query.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// Queued jobs (due or not) by kind.
    pub waiting: Vec<(String, i64)>,
    /// Jobs that ran out of attempts.
    pub dead: i64,
    /// Seconds since the oldest queued job became due (0 when none is due).
    pub oldest_due_secs: f64,
}

/// The queue's depth by kind, dead jobs and the age of the oldest due job.
///
/// # Errors
/// Database errors.
pub async fn queue_stats(conn: &mut PgConnection) -> Result<QueueStats, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT kind AS "kind?",
                  count(*) FILTER (WHERE state = 'queued') AS "waiting!",
                  count(*) FILTER (WHERE state = 'dead') AS "dead!",
                  coalesce(extract(epoch FROM now() - min(run_at) FILTER (WHERE state = 'queued' AND run_at <= now()))::float8, 0) AS "oldest!"
           FROM jobs WHERE state IN ('queued', 'dead')
           GROUP BY ROLLUP (kind) ORDER BY kind NULLS LAST"#
    )
    .fetch_all(conn)
    .await?;
    let mut stats = QueueStats::default();
    for row in rows {
        if let Some(kind) = row.kind {
            stats.waiting.push((kind, row.waiting));
        } else {
            stats.dead = row.dead;
            stats.oldest_due_secs = row.oldest.max(0.0);
        }
    }
    Ok(stats)
}

/// A job as the admin page lists it.
#[derive(Debug, Clone)]
pub struct JobRow {
    pub id: i64,
    pub kind: String,
    pub state: String,
    pub attempts: i32,
    pub progress_done: i32,
    pub progress_total: i32,
    pub last_error: Option<String>,
    pub user_email: Option<String>,
    pub run_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Jobs in `state`, newest change first, with their athlete's email; and how
/// many there are in all.
///
/// # Errors
/// Database errors.
pub async fn in_state(
    conn: &mut PgConnection,
    state: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<JobRow>, i64), sqlx::Error> {
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM jobs WHERE state = $1"#,
        state
    )
    .fetch_one(&mut *conn)
    .await?;
    let rows = sqlx::query_as!(
        JobRow,
        r#"SELECT j.id, j.kind, j.state, j.attempts, j.progress_done, j.progress_total, j.last_error,
                  u.email AS "user_email?", j.run_at, j.updated_at
           FROM jobs j LEFT JOIN users u ON u.id = j.user_id
           WHERE j.state = $1 ORDER BY j.updated_at DESC, j.id DESC LIMIT $2 OFFSET $3"#,
        state,
        limit,
        offset
    )
    .fetch_all(conn)
    .await?;
    Ok((rows, total))
}

/// A dead job put back in the queue.
#[derive(Debug, Clone)]
pub struct Retried {
    pub kind: String,
    pub user_id: Option<Uuid>,
}

/// Put a dead job back in the queue, due now, with its attempts reset.
/// `None` when there is no dead job with that id (already retried, or not dead).
///
/// # Errors
/// Database errors (a job whose dedupe key is taken by a waiting twin stays dead:
/// the unique violation is reported as `None` too).
pub async fn retry(conn: &mut PgConnection, id: i64) -> Result<Option<Retried>, sqlx::Error> {
    let retried = sqlx::query_as!(
        Retried,
        "UPDATE jobs SET state = 'queued', attempts = 0, run_at = now(), locked_until = NULL,
                         updated_at = now()
         WHERE id = $1 AND state = 'dead'
           AND (dedupe_key IS NULL OR NOT EXISTS (
                SELECT 1 FROM jobs t WHERE t.dedupe_key = jobs.dedupe_key AND t.state IN ('queued', 'running')))
         RETURNING kind, user_id",
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(retried)
}

/// Whether a job with this id exists, and its state.
///
/// # Errors
/// Database errors.
pub async fn state_of(conn: &mut PgConnection, id: i64) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT state FROM jobs WHERE id = $1", id)
        .fetch_optional(conn)
        .await
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
