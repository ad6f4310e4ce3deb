//! The two statements behind the athlete dashboard (plus the session lookup
//! the middleware does: three in all). Both read only precomputed columns and
//! the athlete's summary row; neither touches streams.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::jobs::{self, Progress};
use crate::db::summaries::{Columns, Summary};

/// The athlete-wide part: summary, today, thresholds, the range's power curve
/// and the latest recompute job.
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
    /// Best power per ladder rung over activities on or after the range
    /// start (empty without a range start: the all-time records are that curve).
    pub range_curve: Vec<Option<f32>>,
    pub recompute: Option<Progress>,
}

/// Read the overview. `range_from` limits the range power curve.
///
/// # Errors
/// Database errors.
pub async fn overview(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
    range_from: Option<NaiveDate>,
) -> Result<Overview, sqlx::Error> {
    let r = sqlx::query!(
        r#"SELECT ($2::timestamptz AT TIME ZONE u.time_zone)::date AS "today!",
                  s.first_day AS "first_day?", s.loads AS "loads?", s.power_best AS "power_best?",
                  s.power_best_activity AS "power_best_activity?", s.power_best_day AS "power_best_day?",
                  s.effort_best AS "effort_best?", s.effort_best_activity AS "effort_best_activity?",
                  s.effort_best_day AS "effort_best_day?", s.updated_at AS "summary_updated?",
                  (SELECT count(*) FROM athlete_thresholds t WHERE t.user_id = u.id) AS "threshold_entries!",
                  (SELECT array_agg(c.best ORDER BY c.i) FROM (
                       SELECT p.i, max(p.v) AS best
                       FROM activities a CROSS JOIN LATERAL unnest(a.power_curve) WITH ORDINALITY AS p(v, i)
                       WHERE a.user_id = u.id AND a.power_curve IS NOT NULL
                         AND $3::date IS NOT NULL AND a.local_day >= $3
                       GROUP BY p.i) c) AS "range_curve: Vec<Option<f32>>",
                  j.id AS "job_id?", j.state AS "job_state?", j.progress_done AS "job_done?",
                  j.progress_total AS "job_total?", j.last_error AS "job_error?", j.updated_at AS "job_updated?"
           FROM users u
           LEFT JOIN athlete_summaries s ON s.user_id = u.id
           LEFT JOIN LATERAL (SELECT id, state, progress_done, progress_total, last_error, updated_at
                              FROM jobs WHERE user_id = u.id AND kind = $4 ORDER BY id DESC LIMIT 1) j ON true
           WHERE u.id = $1"#,
        user_id,
        now,
        range_from,
        jobs::RECOMPUTE
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
        range_curve: r.range_curve.unwrap_or_default(),
        recompute,
    })
}

/// An activity as the dashboard lists and totals it.
#[derive(Debug, Clone)]
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

/// Activities on or after `since` (by start time, two days early so that any
/// time zone's local day is covered; callers filter on `local_day`) and,
/// whatever their date, the `latest` most recent ones; newest first. One
/// range scan of the (user, start time) index.
///
/// # Errors
/// Database errors.
pub async fn recent(
    conn: &mut PgConnection,
    user_id: Uuid,
    since: NaiveDate,
    latest: i32,
) -> Result<Vec<Recent>, sqlx::Error> {
    sqlx::query_as!(
        Recent,
        "SELECT id, sport, name, start_time, utc_offset_s, local_day, timer_s, distance_m, load, load_source
         FROM activities
         WHERE user_id = $1
           AND start_time >= least(
                 ($2::date - 2)::timestamptz,
                 coalesce((SELECT start_time FROM activities WHERE user_id = $1
                           ORDER BY start_time DESC OFFSET $3::int - 1 LIMIT 1), '-infinity'))
         ORDER BY start_time DESC",
        user_id,
        since,
        latest
    )
    .fetch_all(conn)
    .await
}
