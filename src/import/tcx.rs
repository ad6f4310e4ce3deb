//! Garmin Training Center XML (TCX v2) activities.
//!
//! - The first `<Activity>` is imported (others are skipped with a warning); its `Sport`
//!   attribute (`Running`, `Biking`, `Other`) gives the sport.
//! - `<Lap>`: `StartTime`, `TotalTimeSeconds` (timer time), `DistanceMeters`,
//!   `MaximumSpeed`, `Calories`, average/maximum heart rate, `Cadence`, and the `LX`
//!   extension's `AvgSpeed`, `AvgWatts`, `MaxWatts`.
//! - `<Trackpoint>`: `Time`, `Position`, `AltitudeMeters`, `DistanceMeters`,
//!   `HeartRateBpm/Value`, `Cadence`, and the `TPX` extension's `Speed`, `Watts`,
//!   `RunCadence`, whatever the namespace prefix. Points without a time are skipped.
//! - Each `<Track>` bounds a recording segment (Garmin starts a new one after a pause);
//!   within it, gaps longer than [`super::segments::pause_gap`] are pauses.
//! - Totals: sums over laps (timer time, distance, calories), maxima over laps, the rest
//!   derived from the streams.

use chrono::{DateTime, Utc};

use super::error::ImportError;
use super::segments;
use super::xml::{self, Node, TextBuf, Walker};
use crate::domain::{FileFormat, Lap, ParsedActivity, Sample, Sport, Streams, SubSport, Totals};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Id,
    Creator,
    LapTime,
    LapDistance,
    LapMaxSpeed,
    LapCalories,
    LapAvgHr,
    LapMaxHr,
    LapCadence,
    LapAvgSpeed,
    LapAvgWatts,
    LapMaxWatts,
    Time,
    Lat,
    Lon,
    Altitude,
    Distance,
    Hr,
    Cadence,
    Speed,
    Watts,
}

#[derive(Debug, Default, Clone, Copy)]
struct Point {
    time: Option<DateTime<Utc>>,
    lat: Option<f64>,
    lon: Option<f64>,
    sample: Sample,
}

#[derive(Debug, Default)]
struct State {
    activities: usize,
    sport: Option<Sport>,
    id: Option<DateTime<Utc>>,
    device: Option<String>,
    laps: Vec<(Option<DateTime<Utc>>, Totals)>,
    tracks: Vec<Vec<Point>>,
    point: Option<Point>,
    trackpoints: usize,
}

fn slot_for(w: &Walker<'_>) -> Option<Slot> {
    let (name, parent, grand) = (w.name(), w.ancestor(1), w.ancestor(2));
    Some(match (name, parent) {
        (b"Id", b"Activity") => Slot::Id,
        (b"Name", b"Creator") if grand == b"Activity" => Slot::Creator,
        (b"TotalTimeSeconds", b"Lap") => Slot::LapTime,
        (b"DistanceMeters", b"Lap") => Slot::LapDistance,
        (b"MaximumSpeed", b"Lap") => Slot::LapMaxSpeed,
        (b"Calories", b"Lap") => Slot::LapCalories,
        (b"Cadence", b"Lap") => Slot::LapCadence,
        (b"Value", b"AverageHeartRateBpm") if grand == b"Lap" => Slot::LapAvgHr,
        (b"Value", b"MaximumHeartRateBpm") if grand == b"Lap" => Slot::LapMaxHr,
        (b"AvgSpeed", b"LX") => Slot::LapAvgSpeed,
        (b"AvgWatts", b"LX") => Slot::LapAvgWatts,
        (b"MaxWatts", b"LX") => Slot::LapMaxWatts,
        (b"Time", b"Trackpoint") => Slot::Time,
        (b"LatitudeDegrees", b"Position") => Slot::Lat,
        (b"LongitudeDegrees", b"Position") => Slot::Lon,
        (b"AltitudeMeters", b"Trackpoint") => Slot::Altitude,
        (b"DistanceMeters", b"Trackpoint") => Slot::Distance,
        (b"Cadence", b"Trackpoint") | (b"RunCadence", b"TPX") => Slot::Cadence,
        (b"Value", b"HeartRateBpm") => Slot::Hr,
        (b"Speed", b"TPX") => Slot::Speed,
        (b"Watts", b"TPX") => Slot::Watts,
        _ => return None,
    })
}

/// Parses a TCX document.
///
/// # Errors
/// Malformed XML; [`ImportError::NoRecords`] without timed trackpoints;
/// [`ImportError::RouteWithoutTimes`] when the trackpoints mostly lack times.
pub fn parse(bytes: &[u8]) -> Result<ParsedActivity, ImportError> {
    let mut w = Walker::new(bytes, "TCX");
    let mut text = TextBuf::default();
    let mut slot: Option<Slot> = None;
    let mut st = State::default();
    let mut root_checked = false;

    while let Some(node) = w.next_node()? {
        let depth = w.depth();
        match node {
            Node::Start(e) => {
                if !root_checked {
                    root_checked = true;
                    if w.name() != b"TrainingCenterDatabase" {
                        return Err(ImportError::UnsupportedFormat(
                            "the XML file is not a TCX document".to_owned(),
                        ));
                    }
                    continue;
                }
                if w.name() == b"Activity" && w.ancestor(1) == b"Activities" {
                    st.activities += 1;
                    if st.activities == 1 {
                        st.sport = Some(
                            xml::attribute(&e, b"Sport")
                                .as_deref()
                                .and_then(Sport::from_label)
                                .unwrap_or_default(),
                        );
                    }
                }
                if st.activities != 1 {
                    continue;
                }
                match (w.name(), w.ancestor(1)) {
                    (b"Lap", b"Activity") => {
                        let start = xml::attribute(&e, b"StartTime")
                            .as_deref()
                            .and_then(xml::time);
                        st.laps.push((start, Totals::default()));
                    }
                    (b"Track", b"Lap") => st.tracks.push(Vec::new()),
                    (b"Trackpoint", b"Track") => st.point = Some(Point::default()),
                    _ => {
                        slot = slot_for(&w);
                        if slot.is_some() {
                            text.start(depth);
                        }
                    }
                }
            }
            Node::Text(s) => text.push(depth, &s),
            Node::End => {
                if st.activities != 1 {
                    continue;
                }
                if w.name() == b"Trackpoint" && w.ancestor(1) == b"Track" {
                    if let (Some(p), Some(track)) = (st.point.take(), st.tracks.last_mut()) {
                        track.push(p);
                        st.trackpoints += 1;
                    }
                    continue;
                }
                if let (Some(value), Some(s)) = (text.take(depth), slot.take()) {
                    assign(&mut st, s, value);
                }
            }
        }
    }
    if !root_checked {
        return Err(ImportError::UnsupportedFormat(
            "the XML file is not a TCX document".to_owned(),
        ));
    }
    build(st)
}

fn assign(st: &mut State, slot: Slot, value: &str) {
    let v = xml::number(value);
    let lap = st.laps.last_mut().map(|l| &mut l.1);
    match slot {
        Slot::Id => st.id = xml::time(value),
        Slot::Creator => st.device = (!value.is_empty()).then(|| value.to_owned()),
        Slot::LapTime
        | Slot::LapDistance
        | Slot::LapMaxSpeed
        | Slot::LapCalories
        | Slot::LapAvgHr
        | Slot::LapMaxHr
        | Slot::LapCadence
        | Slot::LapAvgSpeed
        | Slot::LapAvgWatts
        | Slot::LapMaxWatts => {
            let Some(t) = lap else { return };
            let field = match slot {
                Slot::LapTime => &mut t.timer_s,
                Slot::LapDistance => &mut t.distance_m,
                Slot::LapMaxSpeed => &mut t.max_speed_mps,
                Slot::LapCalories => &mut t.calories_kcal,
                Slot::LapAvgHr => &mut t.avg_hr,
                Slot::LapMaxHr => &mut t.max_hr,
                Slot::LapCadence => &mut t.avg_cadence,
                Slot::LapAvgSpeed => &mut t.avg_speed_mps,
                Slot::LapAvgWatts => &mut t.avg_power_w,
                _ => &mut t.max_power_w,
            };
            *field = v.filter(|x| *x >= 0.0);
        }
        _ => {
            let Some(p) = st.point.as_mut() else { return };
            match slot {
                Slot::Time => p.time = xml::time(value),
                Slot::Lat => p.lat = v.filter(|x| x.abs() <= 90.0),
                Slot::Lon => p.lon = v.filter(|x| x.abs() <= 180.0),
                Slot::Altitude => p.sample.altitude = v,
                Slot::Distance => p.sample.distance = v.filter(|x| *x >= 0.0),
                Slot::Hr => p.sample.heart_rate = v.filter(|x| *x > 0.0),
                Slot::Cadence => p.sample.cadence = v.filter(|x| *x >= 0.0),
                Slot::Speed => p.sample.speed = v.filter(|x| *x >= 0.0),
                Slot::Watts => p.sample.power = v.filter(|x| *x >= 0.0),
                _ => {}
            }
        }
    }
}

fn build(st: State) -> Result<ParsedActivity, ImportError> {
    let mut warnings = Vec::new();
    if st.activities > 1 {
        warnings.push(format!(
            "the file holds {} activities; only the first was imported",
            st.activities
        ));
    }
    let timed = st
        .tracks
        .iter()
        .flatten()
        .filter(|p| p.time.is_some())
        .count();
    if timed == 0 && st.trackpoints == 0 {
        return Err(ImportError::NoRecords("TCX"));
    }
    if timed * 2 < st.trackpoints {
        return Err(ImportError::RouteWithoutTimes {
            timed,
            total: st.trackpoints,
        });
    }
    let first_time = st.tracks.iter().flatten().filter_map(|p| p.time).min();
    let Some(start) = [st.id, first_time].into_iter().flatten().min() else {
        return Err(ImportError::NoRecords("TCX"));
    };
    #[expect(
        clippy::cast_precision_loss,
        reason = "milliseconds of an activity fit in 52 bits"
    )]
    let rel = |t: DateTime<Utc>| (t - start).num_milliseconds() as f64 / 1000.0;
    let mut samples: Vec<Sample> = Vec::with_capacity(timed);
    let mut intervals = Vec::new();
    let (mut skipped, mut untimed) = (0usize, 0usize);
    for track in &st.tracks {
        let first_index = samples.len();
        for p in track {
            let Some(time) = p.time else {
                untimed += 1;
                continue;
            };
            let t = rel(time);
            if samples.last().is_some_and(|s| s.t >= t) {
                skipped += 1;
                continue;
            }
            samples.push(Sample {
                t,
                position: p.lat.zip(p.lon),
                ..p.sample
            });
        }
        if samples.len() > first_index
            && let (Some(a), Some(b)) = (samples.get(first_index), samples.last())
        {
            intervals.push((a.t, b.t));
        }
    }
    if untimed > 0 {
        warnings.push(format!("{untimed} trackpoints without a time were skipped"));
    }
    if skipped > 0 {
        warnings.push(format!(
            "{skipped} trackpoints repeating or going back in time were skipped"
        ));
    }
    if samples.is_empty() {
        return Err(ImportError::NoRecords("TCX"));
    }
    if samples.len() * 2 < samples.len() + skipped {
        return Err(ImportError::RepeatedTimes {
            distinct: samples.len(),
            total: samples.len() + skipped,
        });
    }
    let t: Vec<f64> = samples.iter().map(|s| s.t).collect();
    let streams = Streams::from_samples(&samples, segments::without_events(&t, intervals));
    let sum = |f: fn(&Totals) -> Option<f64>| {
        let v: Vec<f64> = st.laps.iter().filter_map(|l| f(&l.1)).collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>())
    };
    let most =
        |f: fn(&Totals) -> Option<f64>| st.laps.iter().filter_map(|l| f(&l.1)).reduce(f64::max);
    let own = Totals {
        timer_s: sum(|t| t.timer_s),
        distance_m: sum(|t| t.distance_m),
        calories_kcal: sum(|t| t.calories_kcal),
        max_hr: most(|t| t.max_hr),
        max_speed_mps: most(|t| t.max_speed_mps),
        max_power_w: most(|t| t.max_power_w),
        ..Totals::default()
    };
    let laps = st
        .laps
        .iter()
        .map(|(s, totals)| Lap {
            start_t: s.map_or(0.0, rel),
            totals: *totals,
        })
        .collect();
    let streams_totals = Totals::from_streams(&streams);
    Ok(ParsedActivity {
        format: FileFormat::Tcx,
        sport: st.sport.unwrap_or_default(),
        sub_sport: SubSport::Generic,
        name: None,
        start,
        utc_offset_s: None,
        device: st.device,
        totals: own.or(streams_totals),
        laps,
        streams,
        warnings,
    })
}
