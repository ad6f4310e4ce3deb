//! Writing an activity back out: [`to_gpx`] (the "export GPX" feature) and [`to_tcx`].
//!
//! GPX 1.1: one `<trk>` with one `<trkseg>` per recording segment (samples recorded while
//! paused go into their own segment), heart rate, cadence and temperature in the Garmin
//! `TrackPointExtension` v1 (`gpxtpx:hr`, `gpxtpx:cad`, `gpxtpx:atemp`) and power in the
//! Garmin `PowerExtension` v1 (`pwr:PowerInWatts`), all schema-valid GPX 1.1.
//! TCX v2: one `<Lap>` per lap (or one for the whole activity) and one `<Track>` per
//! recording segment inside it, speed and power in the `ns3:TPX` extension.
//! Both read back through [`super::parse`] to the same samples.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};

use crate::domain::{ParsedActivity, Sport};

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "activity offsets are far below i64::MAX ms"
)]
fn time_at(start: DateTime<Utc>, t: f64) -> String {
    let at = start + TimeDelta::milliseconds((t * 1000.0).round() as i64);
    let fmt = if at.timestamp_subsec_millis() == 0 {
        SecondsFormat::Secs
    } else {
        SecondsFormat::Millis
    };
    at.to_rfc3339_opts(fmt, true)
}

fn value<T: Copy + Into<f64>>(ch: Option<&Vec<T>>, i: usize) -> Option<f64> {
    ch.and_then(|v| v.get(i))
        .map(|&x| x.into())
        .filter(|x| x.is_finite())
}

/// Runs of sample indices that belong to the same recording segment (or to the same
/// paused stretch), in order.
fn runs(a: &ParsedActivity, lo: usize, hi: usize) -> Vec<(usize, usize)> {
    let seg = a.streams.segment_of_samples();
    let mut out = Vec::new();
    let mut start = lo;
    for i in (lo + 1)..hi {
        if seg[i] != seg[i - 1] {
            out.push((start, i));
            start = i;
        }
    }
    if hi > lo {
        out.push((start, hi));
    }
    out
}

/// The activity as a GPX 1.1 document.
#[must_use]
pub fn to_gpx(a: &ParsedActivity) -> String {
    let s = &a.streams;
    let mut out = String::with_capacity(s.len() * 200 + 1024);
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<gpx version=\"1.1\" creator=\"Pierre\" xmlns=\"http://www.topografix.com/GPX/1/1\" ",
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ",
        "xmlns:gpxtpx=\"http://www.garmin.com/xmlschemas/TrackPointExtension/v1\" ",
        "xmlns:pwr=\"http://www.garmin.com/xmlschemas/PowerExtension/v1\" ",
        "xsi:schemaLocation=\"http://www.topografix.com/GPX/1/1 http://www.topografix.com/GPX/1/1/gpx.xsd ",
        "http://www.garmin.com/xmlschemas/TrackPointExtension/v1 http://www.garmin.com/xmlschemas/TrackPointExtensionv1.xsd ",
        "http://www.garmin.com/xmlschemas/PowerExtension/v1 http://www.garmin.com/xmlschemas/PowerExtensionv1.xsd\">\n"
    ));
    let _ = writeln!(
        out,
        " <metadata><time>{}</time></metadata>",
        time_at(a.start, 0.0)
    );
    out.push_str(" <trk>\n");
    if let Some(name) = &a.name {
        let _ = writeln!(out, "  <name>{}</name>", escape(name));
    }
    let _ = writeln!(out, "  <type>{}</type>", a.sport.as_str());
    for (lo, hi) in runs(a, 0, s.len()) {
        out.push_str("  <trkseg>\n");
        for i in lo..hi {
            out.push_str("   <trkpt");
            if let (Some(la), Some(lo)) = (value(s.lat.as_ref(), i), value(s.lon.as_ref(), i)) {
                let _ = write!(out, " lat=\"{la:.7}\" lon=\"{lo:.7}\"");
            } else {
                // GPX requires a position; points without one are written at 0,0 only if
                // the activity has no positions at all (indoor), else skipped.
                if s.has_gps() {
                    out.truncate(out.len() - "   <trkpt".len());
                    continue;
                }
                out.push_str(" lat=\"0\" lon=\"0\"");
            }
            out.push('>');
            if let Some(e) = value(s.altitude.as_ref(), i) {
                let _ = write!(out, "<ele>{e:.1}</ele>");
            }
            let _ = write!(out, "<time>{}</time>", time_at(a.start, s.t[i]));
            let hr = value(s.heart_rate.as_ref(), i);
            let cad = value(s.cadence.as_ref(), i);
            let temp = value(s.temperature.as_ref(), i);
            let power = value(s.power.as_ref(), i);
            if hr.is_some() || cad.is_some() || temp.is_some() || power.is_some() {
                out.push_str("<extensions>");
                if let Some(p) = power {
                    let _ = write!(out, "<pwr:PowerInWatts>{p:.0}</pwr:PowerInWatts>");
                }
                if hr.is_some() || cad.is_some() || temp.is_some() {
                    out.push_str("<gpxtpx:TrackPointExtension>");
                    if let Some(t) = temp {
                        let _ = write!(out, "<gpxtpx:atemp>{t:.1}</gpxtpx:atemp>");
                    }
                    if let Some(h) = hr {
                        let _ = write!(out, "<gpxtpx:hr>{h:.0}</gpxtpx:hr>");
                    }
                    if let Some(c) = cad {
                        let _ = write!(out, "<gpxtpx:cad>{c:.0}</gpxtpx:cad>");
                    }
                    out.push_str("</gpxtpx:TrackPointExtension>");
                }
                out.push_str("</extensions>");
            }
            out.push_str("</trkpt>\n");
        }
        out.push_str("  </trkseg>\n");
    }
    out.push_str(" </trk>\n</gpx>\n");
    out
}

/// The activity as a TCX v2 document.
#[must_use]
pub fn to_tcx(a: &ParsedActivity) -> String {
    let s = &a.streams;
    let mut out = String::with_capacity(s.len() * 300 + 1024);
    out.push_str(concat!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n",
        "<TrainingCenterDatabase xmlns=\"http://www.garmin.com/xmlschemas/TrainingCenterDatabase/v2\" ",
        "xmlns:ns3=\"http://www.garmin.com/xmlschemas/ActivityExtension/v2\" ",
        "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\">\n <Activities>\n"
    ));
    let sport = match a.sport {
        Sport::Running => "Running",
        Sport::Cycling => "Biking",
        _ => "Other",
    };
    let _ = writeln!(
        out,
        "  <Activity Sport=\"{sport}\">\n   <Id>{}</Id>",
        time_at(a.start, 0.0)
    );
    let mut bounds: Vec<f64> = a.laps.iter().map(|l| l.start_t).collect();
    if bounds.is_empty() {
        bounds.push(0.0);
    }
    bounds[0] = bounds[0].min(s.t.first().copied().unwrap_or(0.0));
    for (k, &lap_start) in bounds.iter().enumerate() {
        let lo = s.t.partition_point(|&t| t < lap_start);
        let hi = bounds
            .get(k + 1)
            .map_or(s.len(), |&next| s.t.partition_point(|&t| t < next));
        let lap = a.laps.get(k).map(|l| l.totals);
        let first_t = s.t.get(lo).copied().unwrap_or(lap_start);
        let last_t = hi
            .checked_sub(1)
            .and_then(|i| s.t.get(i))
            .copied()
            .unwrap_or(first_t);
        let timer = lap.and_then(|l| l.timer_s).unwrap_or(last_t - first_t);
        let _ = writeln!(
            out,
            "   <Lap StartTime=\"{}\">\n    <TotalTimeSeconds>{timer:.1}</TotalTimeSeconds>",
            time_at(a.start, lap_start)
        );
        if let Some(d) = lap.and_then(|l| l.distance_m) {
            let _ = writeln!(out, "    <DistanceMeters>{d:.1}</DistanceMeters>");
        }
        if let Some(c) = lap.and_then(|l| l.calories_kcal) {
            let _ = writeln!(out, "    <Calories>{c:.0}</Calories>");
        }
        out.push_str(
            "    <Intensity>Active</Intensity>\n    <TriggerMethod>Manual</TriggerMethod>\n",
        );
        for (rlo, rhi) in runs(a, lo, hi) {
            out.push_str("    <Track>\n");
            for i in rlo..rhi {
                let _ = write!(
                    out,
                    "     <Trackpoint><Time>{}</Time>",
                    time_at(a.start, s.t[i])
                );
                if let (Some(la), Some(lo)) = (value(s.lat.as_ref(), i), value(s.lon.as_ref(), i)) {
                    let _ = write!(
                        out,
                        "<Position><LatitudeDegrees>{la:.7}</LatitudeDegrees><LongitudeDegrees>{lo:.7}</LongitudeDegrees></Position>"
                    );
                }
                if let Some(e) = value(s.altitude.as_ref(), i) {
                    let _ = write!(out, "<AltitudeMeters>{e:.1}</AltitudeMeters>");
                }
                if let Some(d) = value(s.distance.as_ref(), i) {
                    let _ = write!(out, "<DistanceMeters>{d:.2}</DistanceMeters>");
                }
                if let Some(h) = value(s.heart_rate.as_ref(), i) {
                    let _ = write!(out, "<HeartRateBpm><Value>{h:.0}</Value></HeartRateBpm>");
                }
                if let Some(c) = value(s.cadence.as_ref(), i) {
                    let _ = write!(out, "<Cadence>{c:.0}</Cadence>");
                }
                let speed = value(s.speed.as_ref(), i);
                let power = value(s.power.as_ref(), i);
                if speed.is_some() || power.is_some() {
                    out.push_str("<Extensions><ns3:TPX>");
                    if let Some(v) = speed {
                        let _ = write!(out, "<ns3:Speed>{v:.3}</ns3:Speed>");
                    }
                    if let Some(p) = power {
                        let _ = write!(out, "<ns3:Watts>{p:.0}</ns3:Watts>");
                    }
                    out.push_str("</ns3:TPX></Extensions>");
                }
                out.push_str("</Trackpoint>\n");
            }
            out.push_str("    </Track>\n");
        }
        out.push_str("   </Lap>\n");
    }
    out.push_str("  </Activity>\n </Activities>\n</TrainingCenterDatabase>\n");
    out
}
