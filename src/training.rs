//! Glue between stored thresholds and the pure analytics: the metrics of an
//! activity with the thresholds in force on its date.

use crate::analytics::heart::{HrRange, Sex};
use crate::analytics::summary::{self, ActivityMetrics};
use crate::db::thresholds::{Entry, in_force};
use crate::domain::ParsedActivity;

/// The per-activity metrics of `activity` given the athlete's threshold
/// history. Unknown sex uses Banister's original (male) TRIMP weighting.
#[must_use]
pub fn metrics_for(activity: &ParsedActivity, history: &[Entry]) -> ActivityMetrics {
    let date = activity.start.date_naive();
    let t = in_force(history, activity.sport.as_str(), date);
    let hr_range = t
        .rest_hr_bpm
        .zip(t.max_hr_bpm)
        .filter(|(rest, max)| max > rest)
        .map(|(rest, max)| HrRange { rest, max });
    let thresholds = summary::Thresholds {
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
    };
    summary::analyze(
        activity.sport,
        &activity.streams,
        &activity.totals,
        &thresholds,
    )
}
