//! The statements behind the athlete dashboard.
//!
//! [`overview`] is one statement read on every view; [`details`] (the summary
//! row and the range's power curve) runs only when the summary-derived part
//! of the page is not cached. With the session lookup of the middleware: two or
//! three statements. They read only precomputed columns and the athlete's
//! summary row; none touches streams.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::jobs::{self, Progress};
use crate::db::subjects::Withheld;
use crate::db::summaries::{Columns, Scope, Summary};

/// What the dashboard reads on every view: today, the summary's version (no
/// summary: no activities), the threshold count, the latest recompute job and
/// the recent activities.
#[derive(Debug)]
pub struct Overview {
    /// Today in the athlete's time zone.
    pub today: NaiveDate,
    /// When the athlete's summary last changed (an import, a delete, a recompute):
    /// what the dashboard's rendered charts are cached by.
    pub summary_updated: Option<DateTime<Utc>>,
    /// How many threshold entries the athlete has.
    pub threshold_entries: i64,
    pub recompute: Option<Progress>,
    /// Activities of the five weeks before today (from Monday four weeks
    /// ago, by start time two days early so any time zone is covered; filter
    /// on `local_day`) and, whatever their date, the `latest` most recent
    /// ones; newest first.
    pub recent: Vec<Recent>,
    /// Per source, how many activities the viewer may not see (coach views;
    /// empty when every source is visible).
    pub withheld: Vec<Withheld>,
    /// Comments by others (coaches) on the athlete's activities not read yet
    /// (the athlete's own view; 0 for a coach).
    pub unread_comments: i64,
}

/// Read the overview in one statement.
///
/// For the athlete (`Scope::All`, every source, `sources` `None`), with their
/// unread comments and latest recompute; for a coach (`Scope::Coach`, only
/// `sources`), with the count of the activities withheld per source and
/// neither of the athlete's own.
///
/// # Errors
/// Database errors.
pub async fn overview(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    latest: i32,
    scope: Scope,
    sources: Option<&[String]>,
) -> Result<Overview, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT d.today AS "today!", s.updated_at AS "summary_updated?",
                  (SELECT count(*) FROM athlete_thresholds t WHERE t.user_id = u.id) AS "threshold_entries!",
                  (SELECT count(*) FROM activity_comments c
                   JOIN activities ca ON ca.id = c.activity_id
                   LEFT JOIN comment_reads cr ON cr.user_id = u.id AND cr.activity_id = c.activity_id
                   WHERE $6::text[] IS NULL AND ca.user_id = u.id AND c.author_id <> u.id
                     AND (cr.read_at IS NULL OR c.created_at > cr.read_at)) AS "unread_comments!",
                  (SELECT json_agg(r ORDER BY r.start_time DESC) FROM (
                       SELECT a.id, a.sport, a.name, a.start_time, a.utc_offset_s, a.local_day, a.timer_s,
                              a.distance_m, a.load, a.load_source
                       FROM activities a
                       WHERE a.user_id = u.id AND ($6::text[] IS NULL OR a.source = ANY($6))
                         AND a.start_time >= least(
                               (d.today - (extract(isodow FROM d.today)::int - 1) - 28 - 2)::timestamptz,
                               coalesce((SELECT l.start_time FROM activities l
                                         WHERE l.user_id = u.id AND ($6::text[] IS NULL OR l.source = ANY($6))
                                         ORDER BY l.start_time DESC OFFSET $4::int - 1 LIMIT 1), '-infinity'))
                   ) r) AS "recent: sqlx::types::Json<Vec<Recent>>",
                  (SELECT json_agg(w ORDER BY w.source) FROM (
                       SELECT h.source, count(*) AS count FROM activities h
                       WHERE h.user_id = u.id AND $6::text[] IS NOT NULL AND NOT (h.source = ANY($6))
                       GROUP BY h.source
                   ) w) AS "withheld: sqlx::types::Json<Vec<Withheld>>",
                  j.id AS "job_id?", j.state AS "job_state?", j.progress_done AS "job_done?",
                  j.progress_total AS "job_total?", j.last_error AS "job_error?", j.updated_at AS "job_updated?"
           FROM users u
           CROSS JOIN LATERAL (SELECT ($2::timestamptz AT TIME ZONE u.time_zone)::date AS today) d
           LEFT JOIN athlete_summaries s ON s.user_id = u.id AND s.scope = $5
           LEFT JOIN LATERAL (SELECT id, state, progress_done, progress_total, last_error, updated_at
                              FROM jobs WHERE $6::text[] IS NULL AND user_id = u.id AND kind = $3
                              ORDER BY id DESC LIMIT 1) j ON true
           WHERE u.id = $1"#,
        user_id,
        now,
        jobs::RECOMPUTE,
        latest,
        scope.as_str(),
        sources
    )
    .fetch_one(conn)
    .await?;
    let recompute = match (r.job_id, r.job_state, r.job_updated) {
        (Some(id), Some(state), Some(updated_at)) => Some(Progress {
            id,
            state,
            done: r.job_done.unwrap_or(0),
            total: r.job_total.unwrap_or(0),
            last_error: r.job_error,
            updated_at,
        }),
        _ => None,
    };
    Ok(Overview {
        today: r.today,
        summary_updated: r.summary_updated,
        threshold_entries: r.threshold_entries,
        recompute,
        recent: r.recent.map(|j| j.0).unwrap_or_default(),
        withheld: r.withheld.map(|j| j.0).unwrap_or_default(),
        unread_comments: r.unread_comments,
    })
}

/// An activity as the dashboard lists and totals it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Recent {
    pub id: Uuid,
    pub sport: String,
    pub name: String,
    pub start_time: DateTime<Utc>,
    pub utc_offset_s: Option<i32>,
    pub local_day: NaiveDate,
    pub timer_s: Option<f64>,
    pub distance_m: Option<f64>,
    pub load: f64,
    pub load_source: String,
}

/// The athlete's summary and, with a range start, the range's power curve.
///
/// The summary holds the daily loads and records; the curve is the best power per ladder rung over the
/// activities on or after `from` (one aggregate over their stored ladders).
/// Read only when the summary-derived part of the page is not cached.
///
/// # Errors
/// Database errors.
pub async fn details(
    conn: &mut PgConnection,
    user_id: Uuid,
    from: Option<NaiveDate>,
    scope: Scope,
    sources: Option<&[String]>,
) -> Result<(Option<Summary>, Vec<Option<f32>>), sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT s.first_day, s.loads, s.power_best, s.power_best_activity, s.power_best_day, s.effort_best,
                  s.effort_best_activity, s.effort_best_day,
                  (SELECT array_agg(c.best ORDER BY c.i) FROM (
                       SELECT p.i, max(p.v) AS best
                       FROM activities a CROSS JOIN LATERAL unnest(a.power_curve) WITH ORDINALITY AS p(v, i)
                       WHERE a.user_id = s.user_id AND a.power_curve IS NOT NULL
                         AND $2::date IS NOT NULL AND a.local_day >= $2
                         AND ($4::text[] IS NULL OR a.source = ANY($4))
                       GROUP BY p.i) c) AS "curve: Vec<Option<f32>>"
           FROM athlete_summaries s WHERE s.user_id = $1 AND s.scope = $3"#,
        user_id,
        from,
        scope.as_str(),
        sources
    )
    .fetch_optional(conn)
    .await?;
    Ok(r.map_or_else(
        || (None, Vec::new()),
        |r| {
            let summary = Summary::from(Columns {
                first_day: r.first_day,
                loads: r.loads,
                power_best: r.power_best,
                power_best_activity: r.power_best_activity,
                power_best_day: r.power_best_day,
                effort_best: r.effort_best,
                effort_best_activity: r.effort_best_activity,
                effort_best_day: r.effort_best_day,
            });
            (Some(summary), r.curve.unwrap_or_default())
        },
    ))
}
