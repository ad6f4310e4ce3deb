//! GPX 1.0 / 1.1 tracks.
//!
//! - Every `<trk>` is examined: an empty track, or one whose points mostly have no
//!   `<time>` (a planned route), is skipped with a warning; the timed tracks are joined,
//!   in time order, into one activity. Each `<trkseg>` bounds a recording segment, and
//!   within it gaps longer than [`super::segments::pause_gap`] are pauses. Two timed legs
//!   an hour apart therefore give one activity whose segments show the hour's pause.
//! - Points: `lat`/`lon` attributes, `<ele>`, `<time>`, GPX 1.0 `<speed>`, and in
//!   `<extensions>` the Garmin `TrackPointExtension` `hr`, `cad`, `atemp`, plus `power`
//!   (any prefix; also `heartrate`, `cadence`, `temp`, `watts`). Other extensions are ignored.
//! - Sport: the first kept track's `<type>` through [`Sport::from_label`], else `Other`.
//!   Name: that track's `<name>`, else the metadata name. Device: the `creator` attribute.
//! - Totals are derived from the streams (GPX has none).

use chrono::{DateTime, Utc};

use super::error::ImportError;
use super::segments;
use super::xml::{self, Node, TextBuf, Walker};
use crate::domain::{FileFormat, ParsedActivity, Sample, Sport, Streams, SubSport, Totals};

#[derive(Debug, Default, Clone, Copy)]
struct Point {
    time: Option<DateTime<Utc>>,
    position: Option<(f64, f64)>,
    ele: Option<f64>,
    speed: Option<f64>,
    hr: Option<f64>,
    cad: Option<f64>,
    temp: Option<f64>,
    power: Option<f64>,
}

#[derive(Debug, Default)]
struct Track {
    name: Option<String>,
    kind: Option<String>,
    segments: Vec<Vec<Point>>,
}

impl Track {
    fn points(&self) -> impl Iterator<Item = &Point> {
        self.segments.iter().flatten()
    }
}

/// Parses a GPX document.
///
/// # Errors
/// Malformed XML; [`ImportError::NoTrack`] without any track point;
/// [`ImportError::RouteWithoutTimes`] when the points mostly lack times.
pub fn parse(bytes: &[u8]) -> Result<ParsedActivity, ImportError> {
    let mut w = Walker::new(bytes, "GPX");
    let mut text = TextBuf::default();
    let mut tracks: Vec<Track> = Vec::new();
    let mut point: Option<Point> = None;
    let (mut waypoints, mut route_points) = (0usize, 0usize);
    let (mut creator, mut meta_name) = (None, None);
    let mut root_checked = false;

    while let Some(node) = w.next_node()? {
        let depth = w.depth();
        match node {
            Node::Start(e) => {
                let name = w.name();
                if !root_checked {
                    root_checked = true;
                    if name != b"gpx" {
                        return Err(ImportError::UnsupportedFormat(
                            "the XML file is not a GPX document".to_owned(),
                        ));
                    }
                    creator = xml::attribute(&e, b"creator").filter(|c| !c.is_empty());
                    continue;
                }
                let parent = w.ancestor(1);
                match name {
                    b"trk" => tracks.push(Track::default()),
                    b"trkseg" if parent == b"trk" => {
                        if let Some(t) = tracks.last_mut() {
                            t.segments.push(Vec::new());
                        }
                    }
                    b"trkpt" if parent == b"trkseg" => {
                        let lat = xml::attribute(&e, b"lat").as_deref().and_then(xml::number);
                        let lon = xml::attribute(&e, b"lon").as_deref().and_then(xml::number);
                        let position = lat
                            .zip(lon)
                            .filter(|(la, lo)| la.abs() <= 90.0 && lo.abs() <= 180.0);
                        point = Some(Point {
                            position,
                            ..Point::default()
                        });
                    }
                    b"wpt" if depth == 2 => waypoints += 1,
                    b"rtept" => route_points += 1,
                    _ if point.is_some() => {
                        if matches!(
                            name,
                            b"ele"
                                | b"time"
                                | b"speed"
                                | b"hr"
                                | b"heartrate"
                                | b"cad"
                                | b"cadence"
                                | b"atemp"
                                | b"temp"
                                | b"power"
                                | b"watts"
                                | b"PowerInWatts"
                        ) {
                            text.start(depth);
                        }
                    }
                    b"name" | b"type" if parent == b"trk" => text.start(depth),
                    b"name" if parent == b"metadata" || depth == 2 => text.start(depth),
                    _ => {}
                }
            }
            Node::Text(s) => text.push(depth, &s),
            Node::End => {
                let name = w.name();
                if name == b"trkpt" && w.ancestor(1) == b"trkseg" {
                    if let (Some(p), Some(seg)) = (
                        point.take(),
                        tracks.last_mut().and_then(|t| t.segments.last_mut()),
                    ) {
                        seg.push(p);
                    }
                    continue;
                }
                let Some(value) = text.take(depth) else {
                    continue;
                };
                if let Some(p) = point.as_mut() {
                    let v = xml::number(value);
                    match name {
                        b"ele" => p.ele = v,
                        b"time" => p.time = xml::time(value),
                        b"speed" => p.speed = v.filter(|s| *s >= 0.0),
                        b"hr" | b"heartrate" => p.hr = v.filter(|h| *h > 0.0),
                        b"cad" | b"cadence" => p.cad = v.filter(|c| *c >= 0.0),
                        b"atemp" | b"temp" => p.temp = v,
                        b"power" | b"watts" | b"PowerInWatts" => p.power = v.filter(|x| *x >= 0.0),
                        _ => {}
                    }
                } else if w.ancestor(1) == b"trk" {
                    if let Some(t) = tracks.last_mut() {
                        let value = (!value.is_empty()).then(|| value.to_owned());
                        if name == b"name" {
                            t.name = value;
                        } else {
                            t.kind = value;
                        }
                    }
                } else if name == b"name" && !value.is_empty() {
                    meta_name = Some(value.to_owned());
                }
            }
        }
    }
    if !root_checked {
        return Err(ImportError::UnsupportedFormat(
            "the XML file is not a GPX document".to_owned(),
        ));
    }
    build(tracks, waypoints, route_points, creator, meta_name)
}

fn describe(i: usize, t: &Track) -> String {
    t.name.as_ref().map_or_else(
        || format!("track {}", i + 1),
        |n| format!("track {} ({n:?})", i + 1),
    )
}

fn build(
    tracks: Vec<Track>,
    waypoints: usize,
    route_points: usize,
    creator: Option<String>,
    meta_name: Option<String>,
) -> Result<ParsedActivity, ImportError> {
    let mut warnings = Vec::new();
    let total_points: usize = tracks.iter().map(|t| t.points().count()).sum();
    let total_timed: usize = tracks
        .iter()
        .map(|t| t.points().filter(|p| p.time.is_some()).count())
        .sum();
    let mut kept = Vec::new();
    for (i, t) in tracks.into_iter().enumerate() {
        let n = t.points().count();
        let timed = t.points().filter(|p| p.time.is_some()).count();
        if n == 0 {
            warnings.push(format!("{} is empty and was skipped", describe(i, &t)));
        } else if timed * 2 < n {
            warnings.push(format!(
                "{} has no timestamps on most points (a planned route?) and was skipped",
                describe(i, &t)
            ));
        } else {
            if timed < n {
                warnings.push(format!(
                    "{}: {} points without a time were skipped",
                    describe(i, &t),
                    n - timed
                ));
            }
            kept.push(t);
        }
    }
    if kept.is_empty() {
        if total_points > 0 {
            return Err(ImportError::RouteWithoutTimes {
                timed: total_timed,
                total: total_points,
            });
        }
        return Err(ImportError::NoTrack(match (waypoints, route_points) {
            (_, r) if r > 0 => "only a planned route",
            (w, _) if w > 0 => "only waypoints",
            _ => "it is empty",
        }));
    }

    let sport = kept
        .iter()
        .find_map(|t| t.kind.as_deref().and_then(Sport::from_label))
        .unwrap_or_default();
    let name = kept.iter().find_map(|t| t.name.clone()).or(meta_name);
    // Every segment's timed points, segments in order of their first time.
    let mut segs: Vec<Vec<Point>> = kept
        .into_iter()
        .flat_map(|t| t.segments)
        .map(|s| {
            s.into_iter()
                .filter(|p| p.time.is_some())
                .collect::<Vec<_>>()
        })
        .filter(|s: &Vec<Point>| !s.is_empty())
        .collect();
    segs.sort_by_key(|s| s.first().and_then(|p| p.time));
    let Some(start) = segs.first().and_then(|s| s.first()).and_then(|p| p.time) else {
        return Err(ImportError::NoRecords("GPX"));
    };
    let mut samples: Vec<Sample> = Vec::new();
    let mut intervals = Vec::new();
    let mut out_of_order = 0usize;
    for seg in &segs {
        let first_index = samples.len();
        for p in seg {
            let Some(time) = p.time else { continue };
            #[expect(
                clippy::cast_precision_loss,
                reason = "milliseconds of an activity fit in 52 bits"
            )]
            let t = (time - start).num_milliseconds() as f64 / 1000.0;
            if samples.last().is_some_and(|s| s.t >= t) {
                out_of_order += 1;
                continue;
            }
            samples.push(Sample {
                t,
                position: p.position,
                altitude: p.ele,
                speed: p.speed,
                heart_rate: p.hr,
                cadence: p.cad,
                power: p.power,
                temperature: p.temp,
                distance: None,
            });
        }
        if let (Some(a), Some(b)) = (samples.get(first_index), samples.last())
            && samples.len() > first_index
        {
            intervals.push((a.t, b.t));
        }
    }
    if out_of_order > 0 {
        warnings.push(format!(
            "{out_of_order} points repeating or going back in time were skipped"
        ));
    }
    if samples.len() * 2 < samples.len() + out_of_order {
        return Err(ImportError::RepeatedTimes {
            distinct: samples.len(),
            total: samples.len() + out_of_order,
        });
    }
    let t: Vec<f64> = samples.iter().map(|s| s.t).collect();
    let streams = Streams::from_samples(&samples, segments::without_events(&t, intervals));
    Ok(ParsedActivity {
        format: FileFormat::Gpx,
        sport,
        sub_sport: SubSport::Generic,
        name,
        start,
        utc_offset_s: None,
        device: creator,
        totals: Totals::from_streams(&streams),
        laps: Vec::new(),
        streams,
        warnings,
    })
}
