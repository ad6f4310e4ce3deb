use chrono::{DateTime, NaiveDateTime, TimeDelta, Utc};
use pierre::domain::{FileFormat, Sport};
use pierre::import::ImportError;
use pierre::import::fit::fit_time;

use crate::support::{fixture_path, import, ok};

const SEMI: f64 = 180.0 / 2_147_483_648.0;

struct Row {
    time: DateTime<Utc>,
    hr: Option<f64>,
    cadence: Option<f64>,
    speed: Option<f64>,
    distance: Option<f64>,
    lat: Option<f64>,
    lon: Option<f64>,
    altitude: Option<f64>,
    temperature: Option<f64>,
}

fn num(s: &str) -> Option<f64> {
    s.trim().parse().ok()
}

/// The python-fitparse ground truth: `Sun Jun 11 07:34:09 PDT 2017,hr,cad,speed,dist,lat,lon,alt,temp`.
fn garmin_csv(rel: &str) -> Vec<Row> {
    let text = std::fs::read_to_string(fixture_path(rel)).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert!(f[0].contains(" PDT "), "{line}");
            let local =
                NaiveDateTime::parse_from_str(&f[0].replace(" PDT", ""), "%a %b %d %H:%M:%S %Y")
                    .unwrap();
            Row {
                time: local.and_utc() + TimeDelta::hours(7),
                hr: num(f[1]),
                cadence: num(f[2]),
                speed: num(f[3]),
                distance: num(f[4]),
                lat: num(f[5]).map(|v| v * SEMI),
                lon: num(f[6]).map(|v| v * SEMI),
                altitude: num(f[7]),
                temperature: num(f[8]),
            }
        })
        .collect()
}

fn at(v: Option<&Vec<f32>>, i: usize) -> Option<f64> {
    v.map(|v| f64::from(v[i])).filter(|x| x.is_finite())
}

fn at64(v: Option<&Vec<f64>>, i: usize) -> Option<f64> {
    v.map(|v| v[i]).filter(|x| x.is_finite())
}

fn close(a: Option<f64>, b: Option<f64>, tol: f64, what: &str, i: usize) {
    match (a, b) {
        (Some(a), Some(b)) => assert!(
            (a - b).abs() <= tol,
            "{what} at record {i}: decoded {a}, expected {b}"
        ),
        (None, None) => {}
        _ => panic!("{what} at record {i}: decoded {a:?}, expected {b:?}"),
    }
}

fn matches_csv(fit: &str, csv: &str) {
    let a = ok(fit);
    let rows = garmin_csv(csv);
    let s = &a.streams;
    assert_eq!(s.len(), rows.len(), "record count of {fit}");
    for (i, row) in rows.iter().enumerate() {
        let time = a.start + TimeDelta::milliseconds((s.t[i] * 1000.0) as i64);
        assert_eq!(time, row.time, "timestamp of record {i}");
        close(at(s.heart_rate.as_ref(), i), row.hr, 0.0, "heart rate", i);
        // The CSV has the integer `cadence` field; Pierre adds `fractional_cadence` (1/128 rpm).
        close(at(s.cadence.as_ref(), i), row.cadence, 0.99, "cadence", i);
        close(at(s.speed.as_ref(), i), row.speed, 1e-3, "speed", i);
        close(
            at64(s.distance.as_ref(), i),
            row.distance,
            1e-6,
            "distance",
            i,
        );
        close(at64(s.lat.as_ref(), i), row.lat, 1e-6, "latitude", i);
        close(at64(s.lon.as_ref(), i), row.lon, 1e-6, "longitude", i);
        close(
            at(s.altitude.as_ref(), i),
            row.altitude,
            1e-3,
            "altitude",
            i,
        );
        close(
            at(s.temperature.as_ref(), i),
            row.temperature,
            0.0,
            "temperature",
            i,
        );
    }
    assert_eq!(a.start + TimeDelta::seconds(s.t[0] as i64), rows[0].time);
    let last = rows.last().unwrap();
    assert_eq!(
        a.start + TimeDelta::seconds(*s.t.last().unwrap() as i64),
        last.time
    );
    assert_eq!(a.totals.distance_m, last.distance, "total distance");
}

#[test]
fn fenix_5_run_decodes_exactly_as_the_reference_decoder() {
    matches_csv(
        "fit/garmin-fenix-5-run.fit",
        "fit/garmin-fenix-5-run-records.csv",
    );
    let a = ok("fit/garmin-fenix-5-run.fit");
    assert_eq!(a.sport, Sport::Running);
    assert_eq!(
        a.utc_offset_s,
        Some(-7 * 3600),
        "PDT from the activity message"
    );
    assert_eq!(a.device.as_deref(), Some("Garmin fēnix 5"));
}

#[test]
fn fenix_5_ride_decodes_exactly_as_the_reference_decoder() {
    matches_csv(
        "fit/garmin-fenix-5-bike.fit",
        "fit/garmin-fenix-5-bike-records.csv",
    );
    assert_eq!(ok("fit/garmin-fenix-5-bike.fit").sport, Sport::Cycling);
}

#[test]
fn edge_820_ride_decodes_exactly_as_the_reference_decoder() {
    matches_csv(
        "fit/garmin-edge-820-bike.fit",
        "fit/garmin-edge-820-bike-records.csv",
    );
}

#[test]
fn compressed_timestamps_and_speed_distance_decode() {
    let a = ok("fit/compressed-speed-distance.fit");
    let text =
        std::fs::read_to_string(fixture_path("fit/compressed-speed-distance-records.csv")).unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let s = &a.streams;
    assert_eq!(s.len(), rows.len());
    for (i, r) in rows.iter().enumerate() {
        let ts: u32 = r[0].parse().unwrap();
        assert_eq!(
            a.start + TimeDelta::milliseconds((s.t[i] * 1000.0) as i64),
            fit_time(ts),
            "timestamp {i}"
        );
        close(
            at(s.heart_rate.as_ref(), i),
            num(r[1]),
            0.0,
            "heart rate",
            i,
        );
        close(at(s.speed.as_ref(), i), num(r[2]), 1e-6, "speed", i);
        close(at64(s.distance.as_ref(), i), num(r[3]), 1e-9, "distance", i);
        close(at(s.cadence.as_ref(), i), num(r[4]), 0.0, "cadence", i);
    }
    assert!(!s.has_gps());
    // The timer was stopped once (stop_all … start): two recording segments.
    assert_eq!(s.segments.len(), 2);
    // Segments are clipped to the first and last sample; the device counts from its events.
    assert_eq!(a.totals.timer_s, Some(3772.75));
    assert!(
        (s.timer_time() - 3772.75).abs() < 10.0,
        "{}",
        s.timer_time()
    );
    assert!(a.warnings.iter().any(|w| w.contains("clock was not set")));
}

#[test]
fn edge_810_power_ride_matches_its_own_session_totals() {
    let a = ok("fit/Edge810-Vector-2013-08-16-15-35-10.fit");
    assert_eq!(a.sport, Sport::Cycling);
    assert_eq!(a.device.as_deref(), Some("Garmin Edge 810"));
    let t = a.totals;
    assert_eq!(t.avg_power_w, Some(276.0));
    assert_eq!(t.max_power_w, Some(619.0));
    assert_eq!(
        t.device_np_w,
        Some(301.0),
        "ANALYTICS.md: the device says NP 301 W"
    );
    assert!((t.timer_s.unwrap() - 4700.05).abs() < 1e-6);
    let power = a.streams.power.as_ref().expect("power channel");
    let mean = power
        .iter()
        .filter(|p| p.is_finite())
        .map(|&p| f64::from(p))
        .sum::<f64>()
        / power.len() as f64;
    assert!(
        (mean - 276.0).abs() < 2.0,
        "mean of the power samples {mean}"
    );
    assert!((a.streams.elapsed() - 4699.0).abs() < 1.0);
    assert_eq!(a.laps.len(), 8);
}

#[test]
fn indoor_trainer_ride_imports_without_positions() {
    let a = ok("fit/sample-activity-indoor-trainer.fit");
    assert!(!a.streams.has_gps());
    assert!(a.streams.lat.is_none() && a.streams.lon.is_none());
    assert!(a.streams.power.is_some() && a.streams.heart_rate.is_some());
    assert_eq!(a.totals.device_np_w, Some(228.0));
    assert_eq!(a.sport, Sport::Cycling);
}

#[test]
fn longer_run_and_sdk_example_import() {
    let a = ok("fit/activity-small-fenix2-run.fit");
    assert_eq!((a.sport, a.streams.len()), (Sport::Running, 2809));
    assert!((a.totals.distance_m.unwrap() - 9008.22).abs() < 0.01);
    let sdk = ok("fit/Activity.fit");
    assert_eq!(sdk.format, FileFormat::Fit);
    assert!(sdk.streams.has_gps());
}

#[test]
fn broken_and_non_activity_fit_files_say_what_is_wrong() {
    let e = import("fit/activity-unexpected-eof.fit").unwrap_err();
    assert_eq!(
        e,
        ImportError::Truncated {
            format: "FIT",
            offset: 768
        }
    );
    assert_eq!(
        e.to_string(),
        "the FIT file ends unexpectedly at byte 768 (truncated download?)"
    );
    let e = import("fit/activity-settings-corruptheader.fit").unwrap_err();
    assert!(
        matches!(e, ImportError::BadHeader { offset: 771, .. }),
        "{e}"
    );
    let e = import("fit/Settings.fit").unwrap_err();
    assert_eq!(
        e.to_string(),
        "this FIT file holds device settings, not a recorded activity"
    );
    let e = import("fit/MonitoringFile.fit").unwrap_err();
    assert!(matches!(e, ImportError::NotAnActivity(_)), "{e}");
}

#[test]
fn gpx_tracks_with_times_and_elevation_import() {
    let a = ok("gpx/cerknicko-jezero.gpx");
    assert_eq!(a.format, FileFormat::Gpx);
    assert_eq!(a.streams.len(), 296);
    assert!(a.streams.altitude.is_some() && a.streams.has_gps());
    assert!(a.totals.distance_m.unwrap() > 3000.0);
    assert!(a.totals.ascent_m.unwrap() > 50.0);
}

#[test]
fn gpx_1_0_whose_points_all_carry_one_placeholder_time_is_refused_as_a_route() {
    // Mojstrovka.gpx: every one of its 184 points says 1901-12-13T20:45:52 (the 32-bit
    // time_t minimum, a "no time" placeholder), so there is no recording to import.
    let e = import("gpx/Mojstrovka.gpx").unwrap_err();
    assert_eq!(
        e,
        ImportError::RepeatedTimes {
            distinct: 1,
            total: 184
        }
    );
}

#[test]
fn gpx_with_an_empty_track_a_route_and_two_timed_legs_is_one_activity_with_a_pause() {
    let a = ok("gpx/korita-zbevnica.gpx");
    assert_eq!(a.warnings.len(), 2, "{:?}", a.warnings);
    assert!(a.warnings[0].contains("empty"));
    assert!(a.warnings[1].contains("no timestamps"));
    let segs = &a.streams.segments;
    // The second leg starts about an hour after the first one ends.
    let longest_pause = segs
        .windows(2)
        .map(|w| w[1].start_t - w[0].end_t)
        .fold(0.0, f64::max);
    assert!(longest_pause > 1800.0, "{longest_pause}");
    assert!(a.streams.timer_time() < a.streams.elapsed() - longest_pause + 1.0);
}

#[test]
fn gpx_with_empty_segments_is_a_short_activity() {
    let a = ok("gpx/track-with-empty-segment.gpx");
    assert_eq!(a.streams.len(), 9);
    assert_eq!(a.streams.elapsed(), 76.0);
}

#[test]
fn gpx_without_a_track_or_times_says_so() {
    for f in [
        "gpx/gpx_with_garmin_extension.gpx",
        "gpx/gpx1.1_with_extensions.gpx",
    ] {
        let e = import(f).unwrap_err();
        assert_eq!(e, ImportError::NoTrack("only waypoints"), "{f}");
        assert_eq!(
            e.to_string(),
            "the GPX file has no recorded track (only waypoints)"
        );
    }
    let e = import("gpx/cerknicko-without-times.gpx").unwrap_err();
    assert_eq!(
        e,
        ImportError::RouteWithoutTimes {
            timed: 5,
            total: 296
        }
    );
    assert!(
        e.to_string()
            .starts_with("a route, not a recorded activity: most points have no time")
    );
}

#[test]
fn tcx_run_with_laps_and_trackpoints() {
    let a = ok("tcx/test.tcx");
    assert_eq!((a.format, a.sport), (FileFormat::Tcx, Sport::Running));
    assert_eq!(a.laps.len(), 3);
    assert_eq!(a.streams.len(), 384);
    assert_eq!(a.start.to_rfc3339(), "2012-12-26T21:29:53+00:00");
    assert!((a.totals.distance_m.unwrap() - 4686.31).abs() < 5.0);
    assert_eq!(a.totals.max_hr, Some(189.0));
    let hr = a.streams.heart_rate.as_ref().unwrap();
    assert_eq!(hr[0], 62.0);
    assert_eq!(
        a.device.as_deref(),
        Some("Forerunner 410 Software Version 2.20")
    );
    // Each <Track> is a recording segment.
    assert_eq!(a.streams.segments.len(), 3);
}

#[test]
fn gzipped_files_import_like_the_plain_ones() {
    use std::io::Write;
    let raw = crate::support::fixture("fit/garmin-fenix-5-run.fit");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    let a = pierre::import::parse("run.fit.gz", &gz.finish().unwrap()).unwrap();
    assert_eq!(a, ok("fit/garmin-fenix-5-run.fit"));
}
