//! The statements behind the athlete dashboard.
//!
//! [`overview`] is one statement with everything the page shows, and
//! [`range_curve`] runs only when the page's charts are not cached. With the session lookup of the middleware: two or
//! three statements. They read only precomputed columns and the athlete's
//! summary row; none touches streams.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::jobs::{self, Progress};
use crate::db::summaries::{Columns, Summary};

/// Everything the dashboard shows except the range's power curve: today, the
/// summary, the threshold count, the latest recompute job and the recent
/// activities.
#[derive(Debug)]
pub struct Overview {
    /// Today in the athlete's time zone.
    pub today: NaiveDate,
    pub summary: Option<Summary>,
    /// When the summary last changed (an import, a delete, a recompute):
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
}

/// Read the overview in one statement.
///
/// # Errors
/// Database errors.
pub async fn overview(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    latest: i32,
) -> Result<Overview, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT d.today AS "today!",
                  s.first_day AS "first_day?", s.loads AS "loads?", s.power_best AS "power_best?",
                  s.power_best_activity AS "power_best_activity?", s.power_best_day AS "power_best_day?",
                  s.effort_best AS "effort_best?", s.effort_best_activity AS "effort_best_activity?",
                  s.effort_best_day AS "effort_best_day?", s.updated_at AS "summary_updated?",
                  (SELECT count(*) FROM athlete_thresholds t WHERE t.user_id = u.id) AS "threshold_entries!",
                  (SELECT json_agg(r ORDER BY r.start_time DESC) FROM (
                       SELECT a.id, a.sport, a.name, a.start_time, a.utc_offset_s, a.local_day, a.timer_s,
                              a.distance_m, a.load, a.load_source
                       FROM activities a
                       WHERE a.user_id = u.id
                         AND a.start_time >= least(
                               (d.today - (extract(isodow FROM d.today)::int - 1) - 28 - 2)::timestamptz,
                               coalesce((SELECT l.start_time FROM activities l WHERE l.user_id = u.id
                                         ORDER BY l.start_time DESC OFFSET $4::int - 1 LIMIT 1), '-infinity'))
                   ) r) AS "recent: sqlx::types::Json<Vec<Recent>>",
                  j.id AS "job_id?", j.state AS "job_state?", j.progress_done AS "job_done?",
                  j.progress_total AS "job_total?", j.last_error AS "job_error?", j.updated_at AS "job_updated?"
           FROM users u
           CROSS JOIN LATERAL (SELECT ($2::timestamptz AT TIME ZONE u.time_zone)::date AS today) d
           LEFT JOIN athlete_summaries s ON s.user_id = u.id
           LEFT JOIN LATERAL (SELECT id, state, progress_done, progress_total, last_error, updated_at
                              FROM jobs WHERE user_id = u.id AND kind = $3 ORDER BY id DESC LIMIT 1) j ON true
           WHERE u.id = $1"#,
        user_id,
        now,
        jobs::RECOMPUTE,
        latest
    )
    .fetch_one(conn)
    .await?;
    let summary = r.first_day.map(|first_day| {
        Summary::from(Columns {
            first_day,
            loads: r.loads.unwrap_or_default(),
            power_best: r.power_best.unwrap_or_default(),
            power_best_activity: r.power_best_activity.unwrap_or_default(),
            power_best_day: r.power_best_day.unwrap_or_default(),
            effort_best: r.effort_best.unwrap_or_default(),
            effort_best_activity: r.effort_best_activity.unwrap_or_default(),
            effort_best_day: r.effort_best_day.unwrap_or_default(),
        })
    });
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
        summary,
        summary_updated: r.summary_updated,
        threshold_entries: r.threshold_entries,
        recompute,
        recent: r.recent.map(|j| j.0).unwrap_or_default(),
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

/// The best power per ladder rung over the athlete's activities on or after
/// `from` (the range's power curve): one aggregate over their stored ladders.
///
/// # Errors
/// Database errors.
pub async fn range_curve(
    conn: &mut PgConnection,
    user_id: Uuid,
    from: NaiveDate,
) -> Result<Vec<Option<f32>>, sqlx::Error> {
    let curve = sqlx::query_scalar!(
        r#"SELECT array_agg(c.best ORDER BY c.i) AS "curve: Vec<Option<f32>>" FROM (
               SELECT p.i, max(p.v) AS best
               FROM activities a CROSS JOIN LATERAL unnest(a.power_curve) WITH ORDINALITY AS p(v, i)
               WHERE a.user_id = $1 AND a.power_curve IS NOT NULL AND a.local_day >= $2
               GROUP BY p.i) c"#,
        user_id,
        from
    )
    .fetch_one(conn)
    .await?;
    Ok(curve.unwrap_or_default())
}
