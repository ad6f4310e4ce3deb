use chrono::NaiveDate;
use pierre::domain::{FileFormat, Sport};
use pierre::import::export::{to_gpx, to_tcx};
use pierre::synthetic::{AthleteProfile, PlannedSession, Workout, activity};

use crate::support::ok;

fn ride() -> pierre::domain::ParsedActivity {
    let session = PlannedSession {
        start: NaiveDate::from_ymd_opt(2025, 5, 4)
            .unwrap()
            .and_hms_opt(7, 30, 0)
            .unwrap()
            .and_utc(),
        sport: Sport::Cycling,
        indoor: false,
        workout: Workout::Tempo,
        duration_s: 3900.0,
        seed: 5,
    };
    activity(&AthleteProfile::cyclist(), &session)
}

#[test]
fn exported_gpx_reads_back_to_the_same_samples_and_pauses() {
    let a = ride();
    let gpx = to_gpx(&a);
    assert!(gpx.contains("<gpxtpx:hr>") && gpx.contains("<pwr:PowerInWatts>"));
    let b = pierre::import::parse("ride.gpx", gpx.as_bytes()).unwrap();
    assert_eq!(b.format, FileFormat::Gpx);
    assert_eq!(b.sport, Sport::Cycling);
    assert_eq!(b.start, a.start);
    assert_eq!(b.streams.t, a.streams.t);
    assert_eq!(b.streams.segments, a.streams.segments);
    assert_eq!(b.streams.heart_rate, a.streams.heart_rate);
    assert_eq!(b.streams.power, a.streams.power);
    assert_eq!(b.streams.cadence, a.streams.cadence);
    for (x, y) in a
        .streams
        .lat
        .as_ref()
        .unwrap()
        .iter()
        .zip(b.streams.lat.as_ref().unwrap())
    {
        assert!((x - y).abs() < 1e-6);
    }
}

#[test]
fn exported_tcx_reads_back_to_the_same_samples() {
    let a = ride();
    let b = pierre::import::parse("ride.tcx", to_tcx(&a).as_bytes()).unwrap();
    assert_eq!(b.format, FileFormat::Tcx);
    assert_eq!(b.streams.t, a.streams.t);
    assert_eq!(b.streams.segments, a.streams.segments);
    assert_eq!(b.streams.power, a.streams.power);
    assert_eq!(b.streams.speed, a.streams.speed);
    assert_eq!(b.laps.len(), 1);
}

#[test]
fn a_real_tcx_survives_export_to_gpx() {
    let a = ok("tcx/test.tcx");
    let b = pierre::import::parse("x.gpx", to_gpx(&a).as_bytes()).unwrap();
    // GPX needs a position: the last trackpoint (a time only) is left out.
    let n = a.streams.len() - 1;
    assert_eq!(b.streams.t, a.streams.t[..n]);
    assert_eq!(
        b.streams.heart_rate.as_ref().unwrap()[..],
        a.streams.heart_rate.as_ref().unwrap()[..n]
    );
}

#[test]
fn names_are_escaped_in_exports() {
    let mut a = ride();
    a.name = Some("Tom & Jerry <ride> \"fast\"".to_owned());
    let b = pierre::import::parse("x.gpx", to_gpx(&a).as_bytes()).unwrap();
    assert_eq!(b.name, a.name);
}
