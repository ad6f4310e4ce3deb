//! Rebuilding a GPX file from a stored activity.

use crate::db::activities::ActivityRow;
use crate::domain::{FileFormat, ParsedActivity, Streams, SubSport, Totals};
use crate::error::AppError;

/// (file stem, GPX text) of a stored activity, from its streams.
///
/// # Errors
/// [`AppError::NotFound`] when the activity has no stored samples.
pub fn activity_gpx(row: &ActivityRow) -> Result<(String, String), AppError> {
    let streams = row
        .streams
        .as_deref()
        .and_then(|bytes| Streams::decode(bytes).ok())
        .ok_or_else(|| {
            AppError::Unprocessable("This activity has no recorded samples to export.".to_owned())
        })?;
    let parsed = ParsedActivity {
        format: FileFormat::Gpx,
        sport: row.sport.parse().unwrap_or(crate::domain::Sport::Other),
        sub_sport: row.sub_sport.parse().unwrap_or(SubSport::Generic),
        name: Some(row.name.clone()),
        start: row.start_time,
        utc_offset_s: row.utc_offset_s,
        device: row.device.clone(),
        totals: Totals::default(),
        laps: Vec::new(),
        streams,
        warnings: Vec::new(),
    };
    let stem = format!("{}-{}", row.start_time.format("%Y-%m-%d"), row.name);
    Ok((stem, crate::import::export::to_gpx(&parsed)))
}
