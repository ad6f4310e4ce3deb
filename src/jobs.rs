//! Background jobs: the worker loop over the PostgreSQL queue
//! ([`crate::db::jobs`]) and what each kind of job does.
//!
//! `pierre serve` runs one worker (unless `PIERRE_WORKER=off`); `pierre
//! worker` runs only a worker, for separate scaling ([`run_until`]). It wakes when a request of this instance
//! enqueues something ([`Wake`]) and otherwise polls every second, so jobs
//! queued by other instances are picked up too.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use chrono::NaiveDate;
use sqlx::PgPool;
use tokio::sync::Notify;
use uuid::Uuid;

use crate::db::jobs::{self, Job};
use crate::db::summaries::{self, Scope};
use crate::db::thresholds;
use crate::providers::ProviderCtx;
use crate::sync::{self, JobError};
use crate::training::{RECOMPUTE_BATCH, recompute};

/// Wakes this instance's worker after an enqueue.
#[derive(Debug, Clone, Default)]
pub struct Wake(Arc<Notify>);

impl Wake {
    /// Tell the worker there is work.
    pub fn notify(&self) {
        self.0.notify_one();
    }
}

/// How often the worker looks for jobs when not woken.
const POLL: Duration = Duration::from_secs(1);

/// How often the worker queues the polls that are due.
const POLL_SCHEDULE: Duration = Duration::from_mins(1);

/// What jobs need besides a pool.
#[derive(Debug, Clone)]
pub struct Worker {
    pub pool: PgPool,
    pub providers: ProviderCtx,
    pub wake: Wake,
}

/// Run the worker until the process ends (inside `pierre serve`).
pub fn spawn_worker(worker: Worker) {
    tokio::spawn(run_until(worker, std::future::pending()));
}

/// How long a stopping worker lets its current job finish before releasing it.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Run jobs until `shutdown` completes.
///
/// Between jobs the worker stops at once; a job running when `shutdown` fires gets [`SHUTDOWN_GRACE`] to
/// finish, and is otherwise released back to the queue (attempt not counted)
/// so that another worker takes it at once instead of after its lease.
pub async fn run_until(worker: Worker, shutdown: impl Future<Output = ()>) {
    let Worker {
        ref pool,
        ref providers,
        ref wake,
    } = worker;
    tokio::pin!(shutdown);
    let mut pruned_at = std::time::Instant::now();
    let mut polls_at: Option<std::time::Instant> = None;
    loop {
        loop {
            let claimed = match claim(pool).await {
                Ok(Some(job)) => job,
                Ok(None) => break,
                Err(err) => {
                    tracing::warn!(error = %err, "job queue unavailable");
                    break;
                }
            };
            let job_id = claimed.id;
            let running = execute(pool, providers, claimed);
            tokio::pin!(running);
            let done = tokio::select! {
                done = &mut running => done,
                () = &mut shutdown => {
                    tracing::info!(job = job_id, "stopping: letting the current job finish");
                    if let Ok(done) = tokio::time::timeout(SHUTDOWN_GRACE, &mut running).await {
                        log_queue_error(done);
                    } else {
                        release(pool, job_id).await;
                    }
                    return;
                }
            };
            log_queue_error(done);
        }
        if polls_at.is_none_or(|at| at.elapsed() > POLL_SCHEDULE) {
            polls_at = Some(std::time::Instant::now());
            match sync::schedule_polls(pool, providers).await {
                Ok(0) => {}
                Ok(queued) => tracing::info!(queued, "sync polls queued"),
                Err(err) => tracing::warn!(error = %err, "could not queue sync polls"),
            }
        }
        if pruned_at.elapsed() > Duration::from_hours(1) {
            pruned_at = std::time::Instant::now();
            if let Ok(mut conn) = pool.acquire().await {
                let _ = jobs::prune(&mut conn).await;
            }
        }
        tokio::select! {
            _ = tokio::time::timeout(POLL, wake.0.notified()) => {}
            () = &mut shutdown => return,
        }
    }
}

fn log_queue_error(done: Result<(), sqlx::Error>) {
    if let Err(err) = done {
        tracing::warn!(error = %err, "could not record a job's outcome");
    }
}

/// Give a job back to the queue when the worker stops before it ends.
async fn release(pool: &PgPool, id: i64) {
    let released = async {
        let mut conn = pool.acquire().await?;
        jobs::release(&mut conn, id).await
    };
    match released.await {
        Ok(()) => tracing::info!(job = id, "stopping: job released to the queue"),
        Err(err) => {
            tracing::warn!(job = id, error = %err, "could not release the job; its lease will expire");
        }
    }
}

async fn claim(pool: &PgPool) -> Result<Option<Job>, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    jobs::claim(&mut conn).await
}

/// Claim and run one job. `Ok(false)` when none was due.
///
/// # Errors
/// When the queue itself cannot be reached.
pub async fn run_next(pool: &PgPool, providers: &ProviderCtx) -> Result<bool, sqlx::Error> {
    let Some(job) = claim(pool).await? else {
        return Ok(false);
    };
    execute(pool, providers, job).await?;
    Ok(true)
}

/// Run a claimed job and record its outcome (done, retry later, or dead).
async fn execute(pool: &PgPool, providers: &ProviderCtx, job: Job) -> Result<(), sqlx::Error> {
    let metrics = &providers.metrics;
    let waited = (chrono::Utc::now() - job.run_at).as_seconds_f64().max(0.0);
    metrics
        .job_wait
        .with_label_values(&[job.kind.as_str()])
        .observe(waited);
    let started = std::time::Instant::now();
    let outcome = run(pool, providers, &job).await;
    metrics
        .job_run
        .with_label_values(&[job.kind.as_str()])
        .observe(started.elapsed().as_secs_f64());
    let mut conn = pool.acquire().await?;
    let stop = outcome
        .as_ref()
        .err()
        .and_then(|e| e.downcast_ref::<JobError>())
        .cloned();
    let label = match (outcome, stop) {
        (Ok(()), _) => {
            jobs::finish(&mut conn, job.id).await?;
            "done"
        }
        (Err(_), Some(stop)) => match &stop {
            JobError::Deferred(until) => {
                let delay = (*until - providers.clock.now()).as_seconds_f64();
                tracing::info!(job = job.id, kind = %job.kind, %until, "job deferred by the rate limit");
                jobs::defer(&mut conn, job.id, delay, &stop.to_string()).await?;
                "deferred"
            }
            JobError::Permanent(message) => {
                tracing::warn!(job = job.id, kind = %job.kind, error = %message, "job stopped for good");
                jobs::bury(&mut conn, job.id, message).await?;
                "dead"
            }
        },
        (Err(err), None) => {
            tracing::warn!(job = job.id, kind = %job.kind, error = %format!("{err:#}"), "job failed");
            jobs::fail(&mut conn, &job, &format!("{err:#}")).await?;
            if job.attempts >= jobs::MAX_ATTEMPTS {
                "dead"
            } else {
                "retry"
            }
        }
    };
    metrics
        .jobs_finished
        .with_label_values(&[job.kind.as_str(), label])
        .inc();
    Ok(())
}

async fn run(pool: &PgPool, providers: &ProviderCtx, job: &Job) -> anyhow::Result<()> {
    match job.kind.as_str() {
        jobs::RECOMPUTE => {
            let user_id = job.user_id.context("recompute job without an athlete")?;
            let from: NaiveDate = job
                .payload
                .get("from")
                .and_then(|v| v.as_str())
                .and_then(|s| s.parse().ok())
                .context("recompute job without a valid 'from' day")?;
            recompute_history(pool, job.id, user_id, from).await
        }
        jobs::REBUILD_COACH => {
            let source = job.payload["source"]
                .as_str()
                .context("coach summary rebuild without a source")?;
            rebuild_coach_summaries(pool, job.id, source).await
        }
        jobs::GARMIN_PING => crate::sync::garmin::run_ping(pool, providers, job)
            .await
            .map(|_| ()),
        jobs::SYNC_BACKFILL | jobs::SYNC_EVENT | jobs::SYNC_POLL => {
            let provider = job.payload["provider"].as_str().unwrap_or("strava");
            anyhow::ensure!(
                provider == "strava",
                "no sync for provider {provider:?} yet"
            );
            match job.kind.as_str() {
                jobs::SYNC_BACKFILL => sync::strava::backfill(pool, providers, job).await,
                jobs::SYNC_EVENT => sync::strava::event(pool, providers, job).await,
                _ => sync::strava::poll(pool, providers, job).await,
            }
        }
        other => anyhow::bail!("unknown job kind {other:?}"),
    }
}

/// Athletes whose summaries are rebuilt per transaction by [`rebuild_coach_summaries`].
pub const REBUILD_BATCH: usize = 100;

/// Rebuild the coach summaries of every athlete with activities from `source`, [`REBUILD_BATCH`] per transaction,
/// with progress. Idempotent: a retried or re-run job computes the same rows
/// from the visibility in force when it runs.
async fn rebuild_coach_summaries(pool: &PgPool, job_id: i64, source: &str) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let athletes = crate::db::coaching::athletes_with_source(&mut conn, source).await?;
    let total = i32::try_from(athletes.len()).unwrap_or(i32::MAX);
    jobs::progress(&mut conn, job_id, 0, total).await?;
    let mut done = 0;
    for batch in athletes.chunks(REBUILD_BATCH) {
        let mut tx = pool.begin().await?;
        for athlete in batch {
            summaries::rebuild_scopes(&mut tx, *athlete, &[Scope::Coach]).await?;
        }
        tx.commit().await?;
        done += i32::try_from(batch.len()).unwrap_or(i32::MAX);
        jobs::progress(&mut conn, job_id, done, total).await?;
    }
    Ok(())
}

/// Recompute every activity of the athlete from `from` on, in batches, with
/// progress, then rebuild the summary (daily loads and records).
async fn recompute_history(
    pool: &PgPool,
    job_id: i64,
    user_id: Uuid,
    from: NaiveDate,
) -> anyhow::Result<()> {
    let mut conn = pool.acquire().await?;
    let history = thresholds::history(&mut conn, user_id).await?;
    let ids = sqlx::query_scalar!(
        "SELECT id FROM activities WHERE user_id = $1 AND local_day >= $2 ORDER BY start_time",
        user_id,
        from
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = i32::try_from(ids.len()).unwrap_or(i32::MAX);
    jobs::progress(&mut conn, job_id, 0, total).await?;
    let mut done = 0;
    for batch in ids.chunks(RECOMPUTE_BATCH) {
        let mut tx = pool.begin().await?;
        recompute(&mut tx, user_id, batch, &history).await?;
        tx.commit().await?;
        done += i32::try_from(batch.len()).unwrap_or(i32::MAX);
        jobs::progress(&mut conn, job_id, done, total).await?;
    }
    let mut tx = pool.begin().await?;
    summaries::rebuild(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(())
}
