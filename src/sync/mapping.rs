//! Strava's activity and streams JSON → Pierre's [`ParsedActivity`].
//!
//! - Sport: `sport_type` (else the older `type`) through [`Sport::from_label`]
//!   (`Ride`, `VirtualRide`, `GravelRide`, `Run`, `TrailRun`, `Swim`, `Walk`,
//!   `Hike`, `Rowing`, `NordicSki`, `WeightTraining`, …), `Other` otherwise; the
//!   sub-sport from the same name and the `trainer` flag.
//! - Streams: Strava's `time` stream is seconds since the start, as recorded
//!   (1 Hz, or sparser with smart recording); it becomes `t` unchanged, as the
//!   file importers keep their samples (resampling to 1 Hz is the analytics'
//!   job, `ANALYTICS.md` "Inputs"). `latlng` → `lat`/`lon`, `altitude`,
//!   `heartrate`, `watts` → power, `cadence`, `velocity_smooth` → speed,
//!   `distance`, `temp` → temperature; `null` values become NaN (dropouts). A
//!   stream whose length differs from `time` is dropped with a warning.
//!   Strava gives no timer events, so pauses are gaps, as for GPX files
//!   ([`crate::import::segments::without_events`]).
//! - Totals: Strava's own figures first (moving time, elevation gain, device
//!   power…), completed from the streams. Watts that Strava estimated
//!   (`device_watts: false`) are not taken as measured power.

use crate::domain::{FileFormat, ParsedActivity, Sport, Streams, SubSport, Totals};
use crate::import::segments;
use crate::providers::strava::{Series, StravaActivity, StravaStreams};

/// Pierre's sport and sub-sport for a Strava activity.
#[must_use]
pub fn sport_of(a: &StravaActivity) -> (Sport, SubSport) {
    let label = a
        .sport_type
        .as_deref()
        .or(a.kind.as_deref())
        .unwrap_or_default();
    let other = match label {
        "MountainBikeRide" | "EMountainBikeRide" | "Velomobile" | "Handcycle" => Sport::Cycling,
        "VirtualRow" => Sport::Rowing,
        "BackcountrySki" | "RollerSki" => Sport::Skiing,
        "Crossfit" | "Workout" | "HighIntensityIntervalTraining" => Sport::Strength,
        _ => Sport::Other,
    };
    let sport = Sport::from_label(label).unwrap_or(other);
    let sub = match label {
        "VirtualRide" | "VirtualRun" | "VirtualRow" => SubSport::Virtual,
        "TrailRun" => SubSport::Trail,
        "MountainBikeRide" | "EMountainBikeRide" => SubSport::Mountain,
        "GravelRide" => SubSport::Gravel,
        _ if a.trainer == Some(true) => match sport {
            Sport::Running => SubSport::Treadmill,
            _ => SubSport::Indoor,
        },
        _ => SubSport::Generic,
    };
    (sport, sub)
}

fn values(series: &Series<Option<f64>>) -> Vec<f64> {
    series.data.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "sensor channels are stored as f32 on purpose"
)]
fn to_f32(v: Vec<f64>) -> Vec<f32> {
    v.into_iter().map(|x| x as f32).collect()
}

/// Pierre's streams from Strava's, and what was dropped (as sentences).
#[must_use]
pub fn streams_of(s: &StravaStreams) -> (Streams, Vec<String>) {
    let mut warnings = Vec::new();
    let Some(time) = s.time.as_ref().map(values) else {
        return (Streams::default(), warnings);
    };
    // Keep strictly increasing, finite times only (and the same samples of every channel).
    let mut keep = Vec::with_capacity(time.len());
    let mut previous = f64::NEG_INFINITY;
    for &t in &time {
        let ok = t.is_finite() && t > previous;
        if ok {
            previous = t;
        }
        keep.push(ok);
    }
    let n = time.len();
    let pick = |v: Vec<f64>| -> Vec<f64> {
        v.into_iter()
            .zip(&keep)
            .filter_map(|(x, k)| k.then_some(x))
            .collect()
    };
    let mut channel = |name: &str, v: Option<Vec<f64>>| -> Option<Vec<f64>> {
        let v = v?;
        if v.len() == n {
            Some(pick(v))
        } else {
            warnings.push(format!(
                "Strava's {name} stream did not match the time stream and was left out."
            ));
            None
        }
    };
    let latitudes = s.latlng.as_ref().map(|ll| {
        ll.data
            .iter()
            .map(|p| p.map_or(f64::NAN, |p| p[0]))
            .collect()
    });
    let longitudes = s.latlng.as_ref().map(|ll| {
        ll.data
            .iter()
            .map(|p| p.map_or(f64::NAN, |p| p[1]))
            .collect()
    });
    let latitudes = channel("position", latitudes);
    let longitudes = channel("position", longitudes);
    let (lat, lon) = match (latitudes, longitudes) {
        (Some(a), Some(b)) => (Some(a), Some(b)),
        _ => (None, None),
    };
    let altitude = channel("altitude", s.altitude.as_ref().map(values)).map(to_f32);
    let distance = channel("distance", s.distance.as_ref().map(values));
    let speed = channel("speed", s.velocity_smooth.as_ref().map(values)).map(to_f32);
    let heart_rate = channel("heart rate", s.heartrate.as_ref().map(values)).map(to_f32);
    let cadence = channel("cadence", s.cadence.as_ref().map(values)).map(to_f32);
    let power = channel("power", s.watts.as_ref().map(values)).map(to_f32);
    let temperature = channel("temperature", s.temp.as_ref().map(values)).map(to_f32);
    let t = pick(time);
    let segments = segments::without_events(&t, Vec::new());
    let streams = Streams {
        t,
        lat,
        lon,
        altitude,
        distance,
        speed,
        heart_rate,
        cadence,
        power,
        temperature,
        segments,
    };
    (streams, warnings)
}

/// Everything Pierre keeps from a Strava activity (summary or detail) and
/// its streams (`None`: the activity has none, e.g. entered by hand).
#[must_use]
#[expect(
    clippy::cast_possible_truncation,
    reason = "UTC offsets are a few hours of seconds"
)]
pub fn parsed(a: &StravaActivity, streams: Option<&StravaStreams>) -> ParsedActivity {
    let (sport, sub_sport) = sport_of(a);
    let (streams, mut warnings) = streams.map(streams_of).unwrap_or_default();
    if streams.is_empty() {
        warnings.push("Strava has no recorded samples for this activity.".to_owned());
    }
    let measured_power = a.device_watts != Some(false);
    let own = Totals {
        elapsed_s: a.elapsed_time,
        // The recording segments give the timer time; Strava's moving time
        // stands in when there are no samples.
        timer_s: None,
        moving_s: a.moving_time,
        distance_m: a.distance,
        ascent_m: a.total_elevation_gain,
        descent_m: None,
        avg_hr: a.average_heartrate,
        max_hr: a.max_heartrate,
        avg_speed_mps: a.average_speed,
        max_speed_mps: a.max_speed,
        avg_power_w: a.average_watts.filter(|_| measured_power),
        max_power_w: a.max_watts.filter(|_| measured_power),
        device_np_w: a.weighted_average_watts.filter(|_| measured_power),
        avg_cadence: a.average_cadence,
        calories_kcal: a.calories,
    };
    let totals = if streams.is_empty() {
        own
    } else {
        let mut from_streams = Totals::from_streams(&streams);
        if !measured_power {
            from_streams.avg_power_w = None;
            from_streams.max_power_w = None;
        }
        own.or(from_streams)
    };
    let totals = Totals {
        timer_s: totals.timer_s.or(a.moving_time),
        ..totals
    };
    let streams = if measured_power {
        streams
    } else {
        Streams {
            power: None,
            ..streams
        }
    };
    ParsedActivity {
        format: FileFormat::Fit,
        sport,
        sub_sport,
        name: Some(a.name.clone()).filter(|n| !n.trim().is_empty()),
        start: a.start_date,
        utc_offset_s: a
            .utc_offset
            .filter(|o| o.is_finite() && o.abs() < 86_400.0)
            .map(|o| o.round() as i32),
        device: a.device_name.clone(),
        totals,
        laps: Vec::new(),
        streams,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activity(json: serde_json::Value) -> StravaActivity {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn sports_map_to_pierre_sports() {
        let cases = [
            ("Ride", false, Sport::Cycling, SubSport::Generic),
            ("Ride", true, Sport::Cycling, SubSport::Indoor),
            ("VirtualRide", true, Sport::Cycling, SubSport::Virtual),
            ("GravelRide", false, Sport::Cycling, SubSport::Gravel),
            (
                "MountainBikeRide",
                false,
                Sport::Cycling,
                SubSport::Mountain,
            ),
            ("Run", false, Sport::Running, SubSport::Generic),
            ("Run", true, Sport::Running, SubSport::Treadmill),
            ("TrailRun", false, Sport::Running, SubSport::Trail),
            ("Swim", false, Sport::Swimming, SubSport::Generic),
            ("Hike", false, Sport::Hiking, SubSport::Generic),
            ("WeightTraining", false, Sport::Strength, SubSport::Generic),
            ("Kitesurf", false, Sport::Other, SubSport::Generic),
        ];
        for (label, trainer, sport, sub) in cases {
            let a = activity(serde_json::json!({
                "id": 1, "name": "x", "sport_type": label, "trainer": trainer,
                "start_date": "2026-11-01T08:00:00Z"
            }));
            assert_eq!(sport_of(&a), (sport, sub), "{label}");
        }
        let old = activity(serde_json::json!({
            "id": 1, "type": "Run", "start_date": "2026-11-01T08:00:00Z"
        }));
        assert_eq!(sport_of(&old).0, Sport::Running);
    }

    #[test]
    fn streams_become_pierre_streams_with_gaps_as_pauses() {
        let s: StravaStreams = serde_json::from_value(serde_json::json!({
            "time": {"data": [0, 1, 2, 3, 40, 41, 41, 42]},
            "latlng": {"data": [[46.0, 14.0], [46.0, 14.0001], null, [46.0, 14.0003],
                                [46.0, 14.0004], [46.0, 14.0005], [46.0, 14.0005], [46.0, 14.0006]]},
            "heartrate": {"data": [120, 121, 122, null, 125, 126, 126, 127]},
            "watts": {"data": [100, 200]},
            "distance": {"data": [0.0, 7.7, 15.4, 23.1, 30.8, 38.5, 38.5, 46.2]},
            "temp": {"data": [20, 20, 20, 20, 21, 21, 21, 21]}
        }))
        .unwrap();
        let (streams, warnings) = streams_of(&s);
        // The repeated second (41) is dropped from every channel.
        assert_eq!(streams.t, vec![0.0, 1.0, 2.0, 3.0, 40.0, 41.0, 42.0]);
        assert_eq!(streams.lat.as_ref().unwrap().len(), 7);
        assert!(streams.lat.as_ref().unwrap()[2].is_nan());
        assert!(streams.heart_rate.as_ref().unwrap()[3].is_nan());
        assert!((streams.temperature.as_ref().unwrap()[4] - 21.0).abs() < 1e-6);
        assert!(streams.power.is_none(), "a short stream is left out");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert_eq!(streams.segments.len(), 2, "the 37 s gap is a pause");
        assert!((streams.timer_time() - 5.0).abs() < 1e-9);
    }

    #[test]
    fn strava_figures_come_first_and_estimated_watts_are_not_power() {
        let a = activity(serde_json::json!({
            "id": 7, "name": "Morning ride", "sport_type": "Ride",
            "start_date": "2026-11-01T08:00:00Z", "utc_offset": 3600.0,
            "elapsed_time": 4000, "moving_time": 3600, "distance": 30000.0,
            "total_elevation_gain": 250.0, "average_heartrate": 140.0,
            "average_watts": 180.0, "device_watts": false
        }));
        let p = parsed(&a, None);
        assert_eq!(p.sport, Sport::Cycling);
        assert_eq!(p.utc_offset_s, Some(3600));
        assert_eq!(p.totals.timer_s, Some(3600.0));
        assert_eq!(p.totals.ascent_m, Some(250.0));
        assert_eq!(p.totals.avg_power_w, None);
        assert_eq!(p.name.as_deref(), Some("Morning ride"));
        assert!(p.streams.is_empty());
        assert_eq!(p.warnings.len(), 1);
    }
}
