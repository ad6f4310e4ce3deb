//! Strava activities into Pierre: the idempotent import of one activity and
//! the three jobs (backfill, webhook event, poll).
//!
//! # Idempotency
//!
//! A Strava activity is one row with `source = 'strava'` and `external_id` =
//! the Strava id; the unique constraint `(source, external_id)` is the final
//! arbiter. An import first looks the id up: the same data (start, elapsed
//! time, distance) only updates name and sport, with no further call; new
//! data replaces the row (notes kept) in one transaction. The store itself
//! holds a transaction-scoped advisory lock on the Strava id, and a unique
//! violation from a concurrent import counts as "already there".
//!
//! An activity that matches an *uploaded* file (same sport, starts within
//! 60 s: [`activities::insert`]'s probable-duplicate check) is not imported
//! again: the upload (with its original file) wins and the Strava copy is
//! counted as a duplicate.
//!
//! # Budget
//!
//! The backfill imports from the list's summaries (Strava's `SummaryActivity`
//! has every figure Pierre stores), so one activity costs one call (its
//! streams) plus 1/200 of a list page. Webhook events fetch the detail first
//! (an event carries no figures), and skip the streams when only the name or
//! sport changed.

use anyhow::Context as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{job_error, mapping};
use crate::db::activities::{self, NewActivity, Source, Stored};
use crate::db::jobs::{self, Job};
use crate::db::{summaries, thresholds};
use crate::domain::provider::Provider;
use crate::providers::ProviderCtx;
use crate::providers::strava::{ApiError, ListParams, MAX_PER_PAGE, Strava, StravaActivity};
use crate::providers::tokens;

/// A poll looks this far behind the last sync (activities uploaded late keep
/// their start time).
pub const POLL_OVERLAP: TimeDelta = TimeDelta::days(3);

/// What importing one activity did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Imported(Uuid),
    /// Name or sport changed (or the data, replaced).
    Updated(Uuid),
    /// Already there as it is.
    Unchanged(Uuid),
    /// Matches an activity stored from another source (an uploaded file).
    Duplicate(Uuid),
    /// Owned by another Pierre user (the Strava athlete reconnected elsewhere).
    Skipped,
}

/// A stored Strava activity, as far as an import compares it.
#[derive(Debug, Clone)]
struct Existing {
    id: Uuid,
    user_id: Uuid,
    name: String,
    sport: String,
    sub_sport: String,
    start_time: DateTime<Utc>,
    elapsed_s: Option<f64>,
    distance_m: Option<f64>,
    notes: String,
}

impl Existing {
    fn same_data(&self, a: &StravaActivity) -> bool {
        let close = |x: Option<f64>, y: Option<f64>, tol: f64| match (x, y) {
            (Some(x), Some(y)) => (x - y).abs() <= tol,
            (None, None) => true,
            _ => false,
        };
        self.start_time.timestamp() == a.start_date.timestamp()
            && close(self.elapsed_s, a.elapsed_time, 1.0)
            && close(self.distance_m, a.distance, 1.0)
    }
}

async fn existing(
    conn: &mut PgConnection,
    strava_id: u64,
) -> Result<Option<Existing>, sqlx::Error> {
    sqlx::query_as!(
        Existing,
        "SELECT id, user_id, name, sport, sub_sport, start_time, elapsed_s, distance_m, notes
         FROM activities WHERE source = 'strava' AND external_id = $1",
        strava_id.to_string()
    )
    .fetch_optional(conn)
    .await
}

fn is_unique_violation(err: &sqlx::Error) -> bool {
    err.as_database_error()
        .is_some_and(sqlx::error::DatabaseError::is_unique_violation)
}

/// Imports Strava activities for one athlete.
#[derive(Debug)]
pub struct Importer {
    api: Strava,
    pool: PgPool,
    user_id: Uuid,
    history: Vec<thresholds::Entry>,
}

impl Importer {
    /// An importer for the athlete (reads their threshold history once).
    ///
    /// # Errors
    /// Database errors.
    pub async fn new(api: Strava, pool: &PgPool, user_id: Uuid) -> Result<Self, sqlx::Error> {
        let mut conn = pool.acquire().await?;
        let history = thresholds::history(&mut conn, user_id).await?;
        Ok(Self {
            api,
            pool: pool.clone(),
            user_id,
            history,
        })
    }

    /// Import (or update) one activity from its summary or detail.
    ///
    /// # Errors
    /// API errors (rate limit, token…) and database errors.
    pub async fn upsert(&self, a: &StravaActivity) -> Result<Outcome, ApiError> {
        let found = {
            let mut conn = self.pool.acquire().await?;
            existing(&mut conn, a.id).await?
        };
        if let Some(found) = &found {
            if found.user_id != self.user_id {
                tracing::warn!(
                    strava_id = a.id,
                    "Strava activity already stored for another athlete"
                );
                return Ok(Outcome::Skipped);
            }
            if found.same_data(a) {
                return Ok(self.rename(found, a).await?);
            }
        }
        let streams = match self.api.streams(self.user_id, a.id).await {
            Ok(streams) => Some(streams),
            Err(ApiError::Gone) => None,
            Err(e) => return Err(e),
        };
        let activity = a.clone();
        let history = self.history.clone();
        let (parsed, metrics) = tokio::task::spawn_blocking(move || {
            let parsed = mapping::parsed(&activity, streams.as_ref());
            let metrics = crate::training::metrics_for(&parsed, &history);
            (parsed, metrics)
        })
        .await
        .map_err(|e| ApiError::Transient(format!("import task failed: {e}")))?;
        match self.store(a, &parsed, &metrics).await {
            Ok(outcome) => Ok(outcome),
            Err(e) if is_unique_violation(&e) => {
                // A concurrent import of the same activity won.
                let mut conn = self.pool.acquire().await?;
                let id = existing(&mut conn, a.id)
                    .await?
                    .map_or(Outcome::Skipped, |e| Outcome::Unchanged(e.id));
                Ok(id)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Same data: bring name and sport up to date (metrics follow a sport change).
    async fn rename(&self, found: &Existing, a: &StravaActivity) -> Result<Outcome, sqlx::Error> {
        let (sport, sub_sport) = mapping::sport_of(a);
        let name = if a.name.trim().is_empty() {
            found.name.as_str()
        } else {
            a.name.as_str()
        };
        if name == found.name
            && sport.as_str() == found.sport
            && sub_sport.as_str() == found.sub_sport
        {
            return Ok(Outcome::Unchanged(found.id));
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "UPDATE activities SET name = $2, sport = $3, sub_sport = $4, updated_at = now() WHERE id = $1",
            found.id,
            name,
            sport.as_str(),
            sub_sport.as_str()
        )
        .execute(&mut *tx)
        .await?;
        if sport.as_str() != found.sport {
            crate::training::recompute(&mut tx, self.user_id, &[found.id], &self.history).await?;
            summaries::rebuild(&mut tx, self.user_id).await?;
        }
        tx.commit().await?;
        Ok(Outcome::Updated(found.id))
    }

    /// Insert, or replace a stored copy whose data changed, in one transaction.
    async fn store(
        &self,
        a: &StravaActivity,
        parsed: &crate::domain::ParsedActivity,
        metrics: &crate::analytics::summary::ActivityMetrics,
    ) -> Result<Outcome, sqlx::Error> {
        let external_id = a.id.to_string();
        let mut tx = self.pool.begin().await?;
        sqlx::query!(
            "SELECT pg_advisory_xact_lock(hashtextextended('strava:' || $1, 0))",
            external_id
        )
        .execute(&mut *tx)
        .await?;
        // The connection must still exist, and stays until this commits: a
        // disconnect or deauthorization deletes the connection and then the
        // athlete's Strava activities, so it either sees this one or makes
        // this import stop here (nothing of Strava's outlives a disconnect).
        let connected = sqlx::query_scalar!(
            "SELECT id FROM provider_connections
             WHERE user_id = $1 AND provider = 'strava' AND status = 'active' FOR SHARE",
            self.user_id
        )
        .fetch_optional(&mut *tx)
        .await?;
        if connected.is_none() {
            tx.rollback().await?;
            return Ok(Outcome::Skipped);
        }
        let before = existing(&mut tx, a.id).await?;
        if let Some(found) = &before {
            if found.user_id != self.user_id {
                return Ok(Outcome::Skipped);
            }
            if found.same_data(a) {
                // Imported meanwhile by a concurrent job.
                return Ok(Outcome::Unchanged(found.id));
            }
            sqlx::query!("DELETE FROM activities WHERE id = $1", found.id)
                .execute(&mut *tx)
                .await?;
        }
        let name = parsed
            .name
            .clone()
            .unwrap_or_else(|| format!("{} on Strava", parsed.sport));
        let stored = activities::insert(
            &mut tx,
            &NewActivity {
                user_id: self.user_id,
                source: Source::Strava,
                external_id: Some(&external_id),
                name: &name,
                parsed,
                file_sha256: None,
                original: None,
                metrics: Some(metrics),
            },
        )
        .await?;
        let id = match stored {
            Stored::Imported(id) => id,
            Stored::SameFile(other) | Stored::ProbableDuplicate(other) => {
                // Keep what was there (a replaced copy included): roll back.
                tx.rollback().await?;
                return Ok(Outcome::Duplicate(other));
            }
        };
        // Not from a file: no file format; notes written in Pierre survive a re-import.
        let notes = before.as_ref().map_or("", |b| b.notes.as_str());
        sqlx::query!(
            "UPDATE activities SET file_format = NULL, notes = $2 WHERE id = $1",
            id,
            notes
        )
        .execute(&mut *tx)
        .await?;
        if before.is_some() {
            // The replaced copy's contribution is still in the summary.
            summaries::rebuild(&mut tx, self.user_id).await?;
        }
        tx.commit().await?;
        Ok(if before.is_some() {
            Outcome::Updated(id)
        } else {
            Outcome::Imported(id)
        })
    }
}

/// Delete our copy of a Strava activity (and rebuild the summary).
///
/// # Errors
/// Database errors.
pub async fn delete_activity(
    pool: &PgPool,
    user_id: Uuid,
    strava_id: u64,
) -> Result<bool, sqlx::Error> {
    let mut conn = pool.acquire().await?;
    let Some(found) = existing(&mut conn, strava_id).await? else {
        return Ok(false);
    };
    if found.user_id != user_id {
        return Ok(false);
    }
    activities::delete(&mut conn, user_id, found.id).await
}

/// The athlete withdrew Pierre's access on Strava: forget everything from it.
///
/// The connection, every Strava-sourced activity and the waiting Strava
/// jobs go in one transaction. Returns how many activities were deleted.
///
/// # Errors
/// Database errors.
pub async fn forget_athlete(pool: &PgPool, user_id: Uuid) -> Result<u64, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let deleted = crate::db::connections::forget(&mut tx, user_id, Provider::Strava).await?;
    tx.commit().await?;
    Ok(deleted)
}

/// Record a successful sync on the connection.
async fn synced(pool: &PgPool, ctx: &ProviderCtx, user_id: Uuid) -> Result<(), sqlx::Error> {
    let now = ctx.clock.now();
    let mut conn = pool.acquire().await?;
    sqlx::query!(
        "UPDATE provider_connections SET last_sync_at = $3, next_sync_at = $4, updated_at = now()
         WHERE user_id = $1 AND provider = $2",
        user_id,
        Provider::Strava.as_str(),
        now,
        now + super::POLL_EVERY
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

fn int(payload: &Value, key: &str) -> Option<i64> {
    payload.get(key).and_then(Value::as_i64)
}

/// `SYNC_BACKFILL`: the athlete's history, newest first, with progress.
///
/// It counts the activities (list pages), then imports them. The payload keeps the cursor (`before`:
/// start of the last imported activity), `done` and `total`, so a job
/// deferred by the rate limit resumes where it stopped.
///
/// # Errors
/// [`JobError`] for deferral and permanent stops; others are retried.
pub async fn backfill(pool: &PgPool, ctx: &ProviderCtx, job: &Job) -> anyhow::Result<()> {
    let user_id = job.user_id.context("backfill job without an athlete")?;
    let api = Strava::load(ctx, pool).await.map_err(job_error)?;
    let mut payload = job.payload.clone();
    // How far back: the job's `after`, else what the athlete chose at connect time.
    let after = if let Some(after) = int(&payload, "after") {
        Some(after)
    } else {
        let mut conn = pool.acquire().await?;
        tokens::get(&mut conn, user_id, Provider::Strava)
            .await?
            .and_then(|c| c.backfill_after)
            .map(|t| t.timestamp())
    };
    let mut done = i32::try_from(int(&payload, "done").unwrap_or(0)).unwrap_or(0);
    let mut cursor = int(&payload, "before");
    let total = if let Some(total) = int(&payload, "total") {
        i32::try_from(total).unwrap_or(i32::MAX)
    } else {
        let mut total = 0_usize;
        let mut page = 1;
        loop {
            let list = api
                .list_activities(
                    user_id,
                    ListParams {
                        before: None,
                        after,
                        page,
                        per_page: MAX_PER_PAGE,
                    },
                )
                .await
                .map_err(job_error)?;
            total += list.len();
            if list.len() < MAX_PER_PAGE as usize {
                break;
            }
            page += 1;
        }
        let total = i32::try_from(total).unwrap_or(i32::MAX);
        payload["total"] = json!(total);
        let mut conn = pool.acquire().await?;
        jobs::checkpoint(&mut conn, job.id, &payload, done, total).await?;
        total
    };
    let importer = Importer::new(api.clone(), pool, user_id).await?;
    loop {
        let list = api
            .list_activities(
                user_id,
                ListParams {
                    before: cursor,
                    after,
                    page: 1,
                    per_page: MAX_PER_PAGE,
                },
            )
            .await
            .map_err(job_error)?;
        if list.is_empty() {
            break;
        }
        for a in &list {
            importer.upsert(a).await.map_err(job_error)?;
            done += 1;
            cursor = Some(a.start_date.timestamp());
            payload["before"] = json!(cursor);
            payload["done"] = json!(done);
            let mut conn = pool.acquire().await?;
            jobs::checkpoint(&mut conn, job.id, &payload, done, total.max(done)).await?;
        }
    }
    synced(pool, ctx, user_id).await?;
    Ok(())
}

/// `SYNC_EVENT`: one Strava webhook event.
///
/// # Errors
/// [`JobError`] for deferral and permanent stops; others are retried.
pub async fn event(pool: &PgPool, ctx: &ProviderCtx, job: &Job) -> anyhow::Result<()> {
    let e = &job.payload;
    let object_type = e["object_type"].as_str().unwrap_or_default();
    let aspect = e["aspect_type"].as_str().unwrap_or_default();
    let object_id = e["object_id"].as_u64().context("event without object_id")?;
    let owner = e["owner_id"].as_u64().context("event without owner_id")?;
    let connection = {
        let mut conn = pool.acquire().await?;
        tokens::by_external(&mut conn, Provider::Strava, &owner.to_string()).await?
    };
    let Some(connection) = connection else {
        tracing::info!(
            owner,
            "Strava event for an athlete not connected to Pierre: ignored"
        );
        return Ok(());
    };
    let user_id = connection.user_id;
    match (object_type, aspect) {
        ("athlete", _) => {
            if e["updates"]["authorized"].as_str() == Some("false") {
                let deleted = forget_athlete(pool, user_id).await?;
                tracing::info!(user = %user_id, deleted, "Strava access withdrawn: connection and Strava activities deleted");
            }
            Ok(())
        }
        ("activity", "delete") => {
            delete_activity(pool, user_id, object_id).await?;
            Ok(())
        }
        ("activity", "create" | "update") => {
            let api = Strava::load(ctx, pool).await.map_err(job_error)?;
            match api.activity(user_id, object_id).await {
                Ok(detail) => {
                    let importer = Importer::new(api, pool, user_id).await?;
                    importer.upsert(&detail).await.map_err(job_error)?;
                    Ok(())
                }
                Err(ApiError::Gone) => {
                    // Deleted (or made unavailable) since the event.
                    delete_activity(pool, user_id, object_id).await?;
                    Ok(())
                }
                Err(err) => Err(job_error(err)),
            }
        }
        _ => {
            tracing::info!(
                object_type,
                aspect,
                "Strava event of an unknown kind: ignored"
            );
            Ok(())
        }
    }
}

/// `SYNC_POLL`: import what a webhook may have missed (activities starting
/// after the last sync, less [`POLL_OVERLAP`]).
///
/// # Errors
/// [`JobError`] for deferral and permanent stops; others are retried.
pub async fn poll(pool: &PgPool, ctx: &ProviderCtx, job: &Job) -> anyhow::Result<()> {
    let user_id = job.user_id.context("poll job without an athlete")?;
    let connection = {
        let mut conn = pool.acquire().await?;
        tokens::get(&mut conn, user_id, Provider::Strava).await?
    };
    let Some(connection) = connection.filter(|c| c.status == "active") else {
        return Ok(());
    };
    let after = connection
        .last_sync_at
        .or(connection.backfill_after)
        .map(|t| (t - POLL_OVERLAP).timestamp());
    let api = Strava::load(ctx, pool).await.map_err(job_error)?;
    let importer = Importer::new(api.clone(), pool, user_id).await?;
    let mut page = 1;
    loop {
        let list = api
            .list_activities(
                user_id,
                ListParams {
                    before: None,
                    after,
                    page,
                    per_page: MAX_PER_PAGE,
                },
            )
            .await
            .map_err(job_error)?;
        for a in &list {
            importer.upsert(a).await.map_err(job_error)?;
        }
        if list.len() < MAX_PER_PAGE as usize {
            break;
        }
        page += 1;
    }
    synced(pool, ctx, user_id).await?;
    Ok(())
}
