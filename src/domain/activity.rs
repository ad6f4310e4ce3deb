//! A recorded activity as read from a file: [`ParsedActivity`], its [`Totals`] and [`Lap`]s.

use chrono::{DateTime, Utc};

use super::sport::{Sport, SubSport};
use super::streams::Streams;

/// The file format an activity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Garmin's binary Flexible and Interoperable Data Transfer format.
    Fit,
    /// GPS Exchange Format 1.0 or 1.1.
    Gpx,
    /// Garmin Training Center XML (v2).
    Tcx,
}

impl FileFormat {
    /// Storage form: `fit`, `gpx`, `tcx`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Fit => "fit",
            Self::Gpx => "gpx",
            Self::Tcx => "tcx",
        }
    }

    /// Display name: `FIT`, `GPX`, `TCX`.
    #[must_use]
    pub const fn label(self) -> &'static str {
        match self {
            Self::Fit => "FIT",
            Self::Gpx => "GPX",
            Self::Tcx => "TCX",
        }
    }

    /// Parses the storage form.
    #[must_use]
    pub fn from_storage(s: &str) -> Option<Self> {
        match s {
            "fit" => Some(Self::Fit),
            "gpx" => Some(Self::Gpx),
            "tcx" => Some(Self::Tcx),
            _ => None,
        }
    }
}

impl std::fmt::Display for FileFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// Summary figures of an activity or a lap. Every field is optional: a file may not say,
/// and a stream may be missing. Units: seconds, metres, m/s, beats/min, watts, rpm, kcal.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Totals {
    /// Wall-clock seconds from start to end, pauses included.
    pub elapsed_s: Option<f64>,
    /// Seconds the timer ran (pauses excluded).
    pub timer_s: Option<f64>,
    /// Seconds spent moving (speed above [`MOVING_SPEED_MPS`]), within the timer.
    pub moving_s: Option<f64>,
    /// Metres.
    pub distance_m: Option<f64>,
    /// Metres climbed.
    pub ascent_m: Option<f64>,
    /// Metres descended.
    pub descent_m: Option<f64>,
    /// Average heart rate.
    pub avg_hr: Option<f64>,
    /// Highest heart rate.
    pub max_hr: Option<f64>,
    /// Average speed (distance / timer time when derived), m/s.
    pub avg_speed_mps: Option<f64>,
    /// Highest speed, m/s.
    pub max_speed_mps: Option<f64>,
    /// Average power over the samples, watts.
    pub avg_power_w: Option<f64>,
    /// Highest power, watts.
    pub max_power_w: Option<f64>,
    /// The device's own Normalized Power, when the file tells it (never derived here).
    pub device_np_w: Option<f64>,
    /// Average cadence, rpm.
    pub avg_cadence: Option<f64>,
    /// Energy, kcal.
    pub calories_kcal: Option<f64>,
}

/// Speed above which a sample counts as moving, m/s (1.8 km/h).
pub const MOVING_SPEED_MPS: f64 = 0.5;

/// Climbs and descents smaller than this, metres, are noise and not counted
/// (see [`ascent_descent`]).
pub const ASCENT_HYSTERESIS_M: f64 = 3.0;

impl Totals {
    /// Fills every missing field from `other`.
    #[must_use]
    pub fn or(self, other: Self) -> Self {
        Self {
            elapsed_s: self.elapsed_s.or(other.elapsed_s),
            timer_s: self.timer_s.or(other.timer_s),
            moving_s: self.moving_s.or(other.moving_s),
            distance_m: self.distance_m.or(other.distance_m),
            ascent_m: self.ascent_m.or(other.ascent_m),
            descent_m: self.descent_m.or(other.descent_m),
            avg_hr: self.avg_hr.or(other.avg_hr),
            max_hr: self.max_hr.or(other.max_hr),
            avg_speed_mps: self.avg_speed_mps.or(other.avg_speed_mps),
            max_speed_mps: self.max_speed_mps.or(other.max_speed_mps),
            avg_power_w: self.avg_power_w.or(other.avg_power_w),
            max_power_w: self.max_power_w.or(other.max_power_w),
            device_np_w: self.device_np_w.or(other.device_np_w),
            avg_cadence: self.avg_cadence.or(other.avg_cadence),
            calories_kcal: self.calories_kcal.or(other.calories_kcal),
        }
    }

    /// Totals computed from the samples alone, over the whole streams.
    ///
    /// - distance: the last value of the distance channel, else the haversine sum over
    ///   consecutive positions *within* recording segments;
    /// - ascent/descent: [`ascent_descent`] with [`ASCENT_HYSTERESIS_M`];
    /// - averages: plain means of the non-NaN samples (not time-weighted; files with
    ///   irregular sampling get the device's own figures from the file instead);
    /// - avg speed: distance / timer time; moving time: sum of sample intervals within
    ///   segments whose speed exceeds [`MOVING_SPEED_MPS`] (timer time when no speed).
    #[must_use]
    pub fn from_streams(s: &Streams) -> Self {
        if s.is_empty() {
            return Self::default();
        }
        let timer = s.timer_time();
        let distance = s
            .distance
            .as_ref()
            .and_then(|d| d.iter().rev().find(|v| v.is_finite()).copied())
            .or_else(|| positions_distance(s));
        let (ascent, descent) = s.altitude.as_ref().map_or((None, None), |alt| {
            let (a, d) = ascent_descent(alt, ASCENT_HYSTERESIS_M);
            (Some(a), Some(d))
        });
        let speeds = speed_series(s, distance.is_some());
        Self {
            elapsed_s: Some(s.elapsed()),
            timer_s: Some(timer),
            moving_s: Some(speeds.as_ref().map_or(timer, |v| moving_time(s, v))),
            distance_m: distance,
            ascent_m: ascent,
            descent_m: descent,
            avg_hr: mean(s.heart_rate.as_deref()),
            max_hr: max(s.heart_rate.as_deref()),
            avg_speed_mps: distance.filter(|_| timer > 0.0).map(|d| d / timer),
            max_speed_mps: s.speed.as_deref().and_then(|v| max(Some(v))),
            avg_power_w: mean(s.power.as_deref()),
            max_power_w: max(s.power.as_deref()),
            device_np_w: None,
            avg_cadence: mean_nonzero(s.cadence.as_deref()),
            calories_kcal: None,
        }
    }
}

/// One lap as the file records it (FIT lap messages, TCX `<Lap>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Lap {
    /// Start, seconds since the activity start.
    pub start_t: f64,
    /// The lap's figures.
    pub totals: Totals,
}

/// Everything Pierre keeps from one activity file.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedActivity {
    /// The format the file was in.
    pub format: FileFormat,
    /// The sport (FIT session/sport message, GPX `<type>`, TCX `Sport`), else `Other`.
    pub sport: Sport,
    /// The sub-sport, `Generic` when not told.
    pub sub_sport: SubSport,
    /// A name the file gives (GPX track or metadata name, FIT sport name), if any.
    pub name: Option<String>,
    /// UTC instant of `t = 0` in the streams: the session start, else the first sample.
    pub start: DateTime<Utc>,
    /// Local time minus UTC at the start, seconds, when the file says (FIT activity
    /// message `local_timestamp`); `None` otherwise.
    pub utc_offset_s: Option<i32>,
    /// Recording device, e.g. `Garmin Edge 810`, when known.
    pub device: Option<String>,
    /// Summary: the file's own figures where present, completed from the streams.
    pub totals: Totals,
    /// Laps, possibly empty.
    pub laps: Vec<Lap>,
    /// The samples and recording segments.
    pub streams: Streams,
    /// Things the importer skipped or guessed, as sentences for the user.
    pub warnings: Vec<String>,
}

/// Great-circle distance between two positions in degrees, metres (haversine, R = 6,371,008.8 m).
#[must_use]
pub fn haversine_m(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (p1.cos() * p2.cos()).mul_add((dl / 2.0).sin().powi(2), (dp / 2.0).sin().powi(2));
    2.0 * R * a.sqrt().min(1.0).asin()
}

/// Cumulative distance along the positions, metres.
///
/// Only steps whose two ends lie in the same recording segment count (a pause does not
/// add the straight line across it).
/// NaN positions are skipped. `None` without positions.
#[must_use]
pub fn cumulative_distance(s: &Streams) -> Option<Vec<f64>> {
    let (lat, lon) = (s.lat.as_ref()?, s.lon.as_ref()?);
    let mut out = Vec::with_capacity(s.len());
    let mut total = 0.0;
    let mut prev: Option<(f64, f64, usize)> = None;
    let seg_of = s.segment_of_samples();
    for i in 0..s.len() {
        let (la, lo) = (lat[i], lon[i]);
        if la.is_finite() && lo.is_finite() {
            let seg = seg_of[i];
            if let Some((pla, plo, pi)) = prev
                && seg.is_some()
                && seg == seg_of[pi]
            {
                total += haversine_m(pla, plo, la, lo);
            }
            prev = Some((la, lo, i));
        }
        out.push(total);
    }
    Some(out)
}

fn positions_distance(s: &Streams) -> Option<f64> {
    cumulative_distance(s).and_then(|d| d.last().copied())
}

/// Total ascent and descent, metres.
///
/// A change counts only once the altitude has moved `hysteresis` metres away from the last turning point (the usual way to ignore GPS and
/// barometer noise; 3 m here, see [`ASCENT_HYSTERESIS_M`]). NaN samples are skipped.
#[must_use]
pub fn ascent_descent(altitude: &[f32], hysteresis: f64) -> (f64, f64) {
    let mut values = altitude
        .iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v));
    let Some(mut anchor) = values.next() else {
        return (0.0, 0.0);
    };
    let (mut up, mut down) = (0.0, 0.0);
    for v in values {
        let d = v - anchor;
        if d >= hysteresis {
            up += d;
            anchor = v;
        } else if -d >= hysteresis {
            down -= d;
            anchor = v;
        }
    }
    (up, down)
}

fn speed_series(s: &Streams, has_distance: bool) -> Option<Vec<f64>> {
    if let Some(v) = &s.speed {
        return Some(v.iter().map(|&x| f64::from(x)).collect());
    }
    if !has_distance {
        return None;
    }
    let dist = s.distance.clone().or_else(|| cumulative_distance(s))?;
    let mut out = vec![f64::NAN; s.len()];
    for i in 1..s.len() {
        let dt = s.t[i] - s.t[i - 1];
        if dt > 0.0 {
            out[i] = (dist[i] - dist[i - 1]) / dt;
        }
    }
    Some(out)
}

fn moving_time(s: &Streams, speed: &[f64]) -> f64 {
    let seg_of = s.segment_of_samples();
    let mut total = 0.0;
    for i in 1..s.len() {
        let same_segment = seg_of[i].is_some() && seg_of[i] == seg_of[i - 1];
        if same_segment && speed[i] > MOVING_SPEED_MPS {
            total += s.t[i] - s.t[i - 1];
        }
    }
    total
}

fn finite(v: Option<&[f32]>) -> impl Iterator<Item = f64> + '_ {
    v.unwrap_or_default()
        .iter()
        .filter(|x| x.is_finite())
        .map(|&x| f64::from(x))
}

#[expect(
    clippy::cast_precision_loss,
    reason = "sample counts are far below 2^52"
)]
fn mean(v: Option<&[f32]>) -> Option<f64> {
    let (sum, n) = finite(v).fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

#[expect(
    clippy::cast_precision_loss,
    reason = "sample counts are far below 2^52"
)]
fn mean_nonzero(v: Option<&[f32]>) -> Option<f64> {
    let (sum, n) = finite(v)
        .filter(|&x| x > 0.0)
        .fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| sum / n as f64)
}

fn max(v: Option<&[f32]>) -> Option<f64> {
    finite(v).fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::streams::{Sample, Segment};

    #[test]
    fn haversine_one_degree_of_latitude() {
        let d = haversine_m(45.0, 14.0, 46.0, 14.0);
        assert!((d - 111_195.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn ascent_ignores_noise_below_the_hysteresis() {
        let noisy: Vec<f32> = (0..100)
            .map(|i| if i % 2 == 0 { 100.0 } else { 102.0 })
            .collect();
        assert_eq!(ascent_descent(&noisy, 3.0), (0.0, 0.0));
        let climb = [100.0, 101.0, 104.0, 110.0, 108.0, 103.0];
        assert_eq!(ascent_descent(&climb, 3.0), (10.0, 7.0));
    }

    #[test]
    fn totals_from_streams_leave_pauses_out() {
        let samples: Vec<Sample> = (0..=100)
            .filter(|i| !(41..60).contains(i))
            .map(|i| Sample {
                t: f64::from(i),
                position: Some((46.0, f64::from(i).mul_add(1e-4, 14.0))),
                heart_rate: Some(140.0),
                ..Sample::default()
            })
            .collect();
        let segments = vec![
            Segment {
                start_t: 0.0,
                end_t: 40.0,
            },
            Segment {
                start_t: 60.0,
                end_t: 100.0,
            },
        ];
        let s = Streams::from_samples(&samples, segments);
        let t = Totals::from_streams(&s);
        assert_eq!(t.elapsed_s, Some(100.0));
        assert_eq!(t.timer_s, Some(80.0));
        // 80 steps of 1e-4 degrees of longitude at 46° N, not 100.
        let expected = 80.0 * haversine_m(46.0, 14.0, 46.0, 14.0001);
        assert!((t.distance_m.unwrap() - expected).abs() < 0.01);
        assert_eq!(t.avg_hr, Some(140.0));
        assert_eq!(t.moving_s, Some(80.0));
    }
}
