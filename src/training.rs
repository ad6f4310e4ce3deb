//! Glue between stored thresholds and the pure analytics: the metrics of an
//! activity with the thresholds in force on its date, at import and when a
//! threshold change recomputes history.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::heart::{HrRange, Sex};
use crate::analytics::summary::{self, ActivityMetrics};
use crate::db::activities::load_source_str;
use crate::db::thresholds::{Entry, in_force};
use crate::domain::{ParsedActivity, Sport, Streams, Totals};

/// The analytics inputs in force for `sport` on `day`. Unknown sex uses
/// Banister's original (male) TRIMP weighting.
#[must_use]
pub fn thresholds_for(history: &[Entry], sport: Sport, day: NaiveDate) -> summary::Thresholds {
    let t = in_force(history, sport.as_str(), day);
    let hr_range = t
        .rest_hr_bpm
        .zip(t.max_hr_bpm)
        .filter(|(rest, max)| max > rest)
        .map(|(rest, max)| HrRange { rest, max });
    summary::Thresholds {
        ftp: t.ftp_w,
        lthr: t.lthr_bpm,
        hr_range,
        sex: if t.sex.as_deref() == Some("female") {
            Sex::Female
        } else {
            Sex::Male
        },
        threshold_speed: t.threshold_speed_mps,
        threshold_swim_speed: t.swim_speed_mps,
    }
}

/// The day whose thresholds apply to an activity: local when the file gave
/// its UTC offset, else the UTC date.
#[must_use]
pub fn activity_day(activity: &ParsedActivity) -> NaiveDate {
    (activity.start + chrono::TimeDelta::seconds(i64::from(activity.utc_offset_s.unwrap_or(0))))
        .date_naive()
}

/// The per-activity metrics of `activity` given the athlete's threshold history.
#[must_use]
pub fn metrics_for(activity: &ParsedActivity, history: &[Entry]) -> ActivityMetrics {
    let thresholds = thresholds_for(history, activity.sport, activity_day(activity));
    summary::analyze(
        activity.sport,
        &activity.streams,
        &activity.totals,
        &thresholds,
    )
}

/// Activities recomputed per batch (one read, one transaction).
pub const RECOMPUTE_BATCH: usize = 25;

/// Recompute and store the metrics of the athlete's activities `ids`.
///
/// Uses the threshold `history`. Activities without stored streams keep their metrics. Returns
/// how many were recomputed. Does not touch the summary; call
/// [`crate::db::summaries::rebuild`] after the last batch.
///
/// # Errors
/// Database errors.
pub async fn recompute(
    conn: &mut PgConnection,
    user_id: Uuid,
    ids: &[Uuid],
    history: &[Entry],
) -> Result<usize, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT a.id, a.sport, a.local_day, a.elapsed_s, a.timer_s, a.moving_s, a.distance_m, a.ascent_m,
                a.descent_m, a.avg_hr, a.max_hr, a.avg_speed_mps, a.max_speed_mps, a.avg_power_w, a.max_power_w,
                a.device_np_w, a.avg_cadence, a.calories_kcal, s.data
         FROM activities a JOIN activity_streams s ON s.activity_id = a.id
         WHERE a.user_id = $1 AND a.id = ANY($2)",
        user_id,
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let history = history.to_vec();
    // Decoding and analysis are CPU work: off the async threads.
    let computed = tokio::task::spawn_blocking(move || {
        rows.into_iter()
            .filter_map(|r| {
                let (Ok(sport), Ok(streams)) = (r.sport.parse::<Sport>(), Streams::decode(&r.data))
                else {
                    tracing::warn!(activity = %r.id, "stored activity could not be read for recompute");
                    return None;
                };
                let totals = Totals {
                    elapsed_s: r.elapsed_s,
                    timer_s: r.timer_s,
                    moving_s: r.moving_s,
                    distance_m: r.distance_m,
                    ascent_m: r.ascent_m,
                    descent_m: r.descent_m,
                    avg_hr: r.avg_hr,
                    max_hr: r.max_hr,
                    avg_speed_mps: r.avg_speed_mps,
                    max_speed_mps: r.max_speed_mps,
                    avg_power_w: r.avg_power_w,
                    max_power_w: r.max_power_w,
                    device_np_w: r.device_np_w,
                    avg_cadence: r.avg_cadence,
                    calories_kcal: r.calories_kcal,
                };
                let thresholds = thresholds_for(&history, sport, r.local_day);
                Some((r.id, summary::analyze(sport, &streams, &totals, &thresholds)))
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| sqlx::Error::Protocol(format!("recompute task failed: {e}")))?;
    for (id, m) in &computed {
        store_metrics(conn, *id, m).await?;
    }
    Ok(computed.len())
}

/// Write an activity's computed metrics.
///
/// # Errors
/// Database errors.
pub async fn store_metrics(
    conn: &mut PgConnection,
    id: Uuid,
    m: &ActivityMetrics,
) -> Result<(), sqlx::Error> {
    let power = Some(m.power_ladder()).filter(|v| !v.is_empty());
    let efforts = Some(m.effort_ladder()).filter(|v| !v.is_empty());
    sqlx::query!(
        "UPDATE activities SET np_w = $2, intensity_factor = $3, variability_index = $4, trimp = $5,
             efficiency_factor = $6, decoupling = $7, load = $8, load_source = $9,
             power_curve = $10::real[], best_efforts = $11::real[], updated_at = now()
         WHERE id = $1",
        id,
        m.np,
        m.intensity_factor,
        m.variability_index,
        m.trimp,
        m.efficiency_factor,
        m.decoupling,
        m.load,
        load_source_str(m.load_source),
        power.as_deref() as Option<&[Option<f32>]>,
        efforts.as_deref() as Option<&[Option<f32>]>,
    )
    .execute(conn)
    .await?;
    Ok(())
}
