//! A minimal FIT activity writer, for the Garmin side of the simulator: the
//! "original FIT file" Garmin's ping notifications point at.
//!
//! It writes a valid FIT 2.0 file (14-byte header with its CRC, data CRC):
//! `file_id` (activity), a timer `event` start/stop around each recording
//! segment, one `record` per sample (timestamp, position, altitude, heart
//! rate, cadence, distance, speed, power), one `session` with the sport and
//! totals, and the `activity` message with the local timestamp. Values a
//! stream lacks are written as FIT's "invalid" for their type, which readers
//! skip. Pierre's own decoder ([`crate::import::fit`]) reads it back
//! (round trip tested).

use crate::domain::{ParsedActivity, Sport, SubSport};
use crate::import::fit::{FIT_EPOCH_UNIX, crc16};

// Base types (FIT profile): enum, uint8, sint32, uint16, uint32, uint32z.
const ENUM: u8 = 0x00;
const UINT8: u8 = 0x02;
const SINT32: u8 = 0x85;
const UINT16: u8 = 0x84;
const UINT32: u8 = 0x86;
const UINT32Z: u8 = 0x8C;

const MANUFACTURER_GARMIN: u16 = 1;
/// Product id written in `file_id` (any number; Garmin's Edge 530 is 3121).
const PRODUCT: u16 = 3121;

/// Messages: (local type, global number, fields as (number, size, base type)).
const FILE_ID: (u8, u16, &[(u8, u8, u8)]) = (
    0,
    0,
    &[
        (0, 1, ENUM),
        (1, 2, UINT16),
        (2, 2, UINT16),
        (3, 4, UINT32Z),
        (4, 4, UINT32),
    ],
);
const EVENT: (u8, u16, &[(u8, u8, u8)]) = (1, 21, &[(253, 4, UINT32), (0, 1, ENUM), (1, 1, ENUM)]);
const RECORD: (u8, u16, &[(u8, u8, u8)]) = (
    2,
    20,
    &[
        (253, 4, UINT32),
        (0, 4, SINT32),
        (1, 4, SINT32),
        (2, 2, UINT16),
        (3, 1, UINT8),
        (4, 1, UINT8),
        (5, 4, UINT32),
        (6, 2, UINT16),
        (7, 2, UINT16),
    ],
);
const SESSION: (u8, u16, &[(u8, u8, u8)]) = (
    3,
    18,
    &[
        (253, 4, UINT32),
        (2, 4, UINT32),
        (5, 1, ENUM),
        (6, 1, ENUM),
        (7, 4, UINT32),
        (8, 4, UINT32),
        (9, 4, UINT32),
        (22, 2, UINT16),
    ],
);
const ACTIVITY: (u8, u16, &[(u8, u8, u8)]) = (
    4,
    34,
    &[
        (253, 4, UINT32),
        (0, 4, UINT32),
        (1, 2, UINT16),
        (2, 1, ENUM),
        (3, 1, ENUM),
        (4, 1, ENUM),
        (5, 4, UINT32),
    ],
);

/// The FIT `sport` enum of a sport.
#[must_use]
pub const fn fit_sport(sport: Sport) -> u8 {
    match sport {
        Sport::Running => 1,
        Sport::Cycling => 2,
        Sport::Swimming => 5,
        Sport::Walking => 11,
        Sport::Skiing => 12,
        Sport::Rowing => 15,
        Sport::Hiking => 17,
        Sport::Strength => 20,
        Sport::Other => 0,
    }
}

/// The FIT `sub_sport` enum of a sub-sport.
#[must_use]
pub const fn fit_sub_sport(sub: SubSport) -> u8 {
    match sub {
        SubSport::Generic => 0,
        SubSport::Treadmill => 1,
        SubSport::Road => 7,
        SubSport::Trail => 3,
        SubSport::Track => 4,
        SubSport::Indoor => 6,
        SubSport::Mountain => 8,
        SubSport::Gravel => 46,
        SubSport::LapSwimming => 17,
        SubSport::OpenWater => 18,
        SubSport::Virtual => 58,
    }
}

struct Writer {
    data: Vec<u8>,
}

impl Writer {
    fn define(&mut self, (local, global, fields): (u8, u16, &[(u8, u8, u8)])) {
        self.data.push(0x40 | local);
        self.data.push(0); // reserved
        self.data.push(0); // little-endian
        self.data.extend_from_slice(&global.to_le_bytes());
        self.data
            .push(u8::try_from(fields.len()).unwrap_or(u8::MAX));
        for &(num, size, base) in fields {
            self.data
                .extend_from_slice(&<[u8; 3]>::from((num, size, base)));
        }
    }

    fn header(&mut self, local: u8) {
        self.data.push(local);
    }

    fn u8(&mut self, v: u8) {
        self.data.push(v);
    }

    fn u16(&mut self, v: u16) {
        self.data.extend_from_slice(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.data.extend_from_slice(&v.to_le_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.data.extend_from_slice(&v.to_le_bytes());
    }
}

/// Scale and round a value into an unsigned field, or the type's invalid
/// value when absent or out of range.
#[allow(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "range-checked before the cast"
)]
fn scaled(v: Option<f64>, scale: f64, offset: f64, invalid: u32) -> u32 {
    v.map(|v| ((v + offset) * scale).round())
        .filter(|v| v.is_finite() && *v >= 0.0 && *v < f64::from(invalid))
        .map_or(invalid, |v| v as u32)
}

fn degrees_to_semicircles(deg: f64) -> i32 {
    let v = (deg * 2_147_483_648.0 / 180.0).round();
    if v.is_finite() && v.abs() < 2_147_483_647.0 {
        #[allow(clippy::cast_possible_truncation, reason = "range-checked above")]
        let v = v as i32;
        v
    } else {
        0x7FFF_FFFF
    }
}

fn narrow16(v: u32) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

fn narrow8(v: u32) -> u8 {
    u8::try_from(v).unwrap_or(u8::MAX)
}

/// Encode `activity` as a FIT activity file.
#[must_use]
pub fn encode(activity: &ParsedActivity) -> Vec<u8> {
    let start = u32::try_from(activity.start.timestamp() - FIT_EPOCH_UNIX).unwrap_or(0);
    let at = |t: f64| {
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            reason = "activity offsets are small and non-negative"
        )]
        let offset = t.max(0.0).round().min(f64::from(u32::MAX)) as u32;
        start.saturating_add(offset)
    };
    let s = &activity.streams;
    let mut w = Writer { data: Vec::new() };

    w.define(FILE_ID);
    w.header(FILE_ID.0);
    w.u8(4); // activity file
    w.u16(MANUFACTURER_GARMIN);
    w.u16(PRODUCT);
    w.u32(1_234_567_890);
    w.u32(start);

    w.define(EVENT);
    w.define(RECORD);
    let segments: Vec<(f64, f64)> = if s.segments.is_empty() {
        vec![(0.0, s.t.last().copied().unwrap_or(0.0))]
    } else {
        s.segments.iter().map(|g| (g.start_t, g.end_t)).collect()
    };
    let mut next_segment = 0;
    let pick32 = |v: Option<&Vec<f32>>, i: usize| v.and_then(|v| v.get(i)).map(|x| f64::from(*x));
    for (i, &t) in s.t.iter().enumerate() {
        if let Some(&(seg_start, _)) = segments.get(next_segment)
            && t >= seg_start
        {
            w.header(EVENT.0);
            w.u32(at(seg_start));
            w.u8(0); // timer
            w.u8(0); // start
        }
        w.header(RECORD.0);
        w.u32(at(t));
        let lat = s.lat.as_ref().and_then(|v| v.get(i)).copied();
        let lon = s.lon.as_ref().and_then(|v| v.get(i)).copied();
        if let (Some(lat), Some(lon)) = (lat, lon) {
            w.i32(degrees_to_semicircles(lat));
            w.i32(degrees_to_semicircles(lon));
        } else {
            w.i32(0x7FFF_FFFF);
            w.i32(0x7FFF_FFFF);
        }
        w.u16(narrow16(scaled(
            pick32(s.altitude.as_ref(), i),
            5.0,
            500.0,
            0xFFFF,
        )));
        w.u8(narrow8(scaled(
            pick32(s.heart_rate.as_ref(), i),
            1.0,
            0.0,
            0xFF,
        )));
        w.u8(narrow8(scaled(
            pick32(s.cadence.as_ref(), i),
            1.0,
            0.0,
            0xFF,
        )));
        w.u32(scaled(
            s.distance.as_ref().and_then(|v| v.get(i)).copied(),
            100.0,
            0.0,
            0xFFFF_FFFF,
        ));
        w.u16(narrow16(scaled(
            pick32(s.speed.as_ref(), i),
            1000.0,
            0.0,
            0xFFFF,
        )));
        w.u16(narrow16(scaled(
            pick32(s.power.as_ref(), i),
            1.0,
            0.0,
            0xFFFF,
        )));
        if let Some(&(_, seg_end)) = segments.get(next_segment)
            && t >= seg_end
        {
            w.header(EVENT.0);
            w.u32(at(seg_end));
            w.u8(0); // timer
            w.u8(if next_segment + 1 == segments.len() {
                4
            } else {
                1
            }); // stop_all / stop
            next_segment += 1;
        }
    }
    let end = at(s.t.last().copied().unwrap_or(0.0));
    let totals = &activity.totals;
    w.define(SESSION);
    w.header(SESSION.0);
    w.u32(end);
    w.u32(start);
    w.u8(fit_sport(activity.sport));
    w.u8(fit_sub_sport(activity.sub_sport));
    w.u32(scaled(totals.elapsed_s, 1000.0, 0.0, 0xFFFF_FFFF));
    w.u32(scaled(totals.timer_s, 1000.0, 0.0, 0xFFFF_FFFF));
    w.u32(scaled(totals.distance_m, 100.0, 0.0, 0xFFFF_FFFF));
    w.u16(narrow16(scaled(totals.ascent_m, 1.0, 0.0, 0xFFFF)));

    w.define(ACTIVITY);
    w.header(ACTIVITY.0);
    w.u32(end);
    w.u32(scaled(totals.timer_s, 1000.0, 0.0, 0xFFFF_FFFF));
    w.u16(1);
    w.u8(0); // manual
    w.u8(26); // activity
    w.u8(1); // stop
    let offset = i64::from(activity.utc_offset_s.unwrap_or(0));
    w.u32(u32::try_from(i64::from(end) + offset).unwrap_or(end));

    let data = w.data;
    let mut out = Vec::with_capacity(data.len() + 16);
    out.push(14);
    out.push(0x20); // protocol 2.0
    out.extend_from_slice(&2190u16.to_le_bytes()); // profile 21.90
    out.extend_from_slice(&u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(b".FIT");
    let header_crc = crc16(0, &out);
    out.extend_from_slice(&header_crc.to_le_bytes());
    out.extend_from_slice(&data);
    let crc = crc16(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use crate::domain::ParsedActivity;

    use super::*;
    use crate::synthetic::{self, AthleteProfile};

    fn synthetic_activity(profile: &AthleteProfile, index: usize) -> ParsedActivity {
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let plan = synthetic::plan(
            profile,
            synthetic::Pattern::Periodized,
            day - chrono::TimeDelta::days(30),
            30,
            11,
        );
        synthetic::activity(profile, &plan[index % plan.len()])
    }

    #[test]
    fn pierres_decoder_reads_back_what_the_writer_wrote() {
        for profile in [AthleteProfile::cyclist(), AthleteProfile::runner()] {
            for index in [0, 3] {
                let original = synthetic_activity(&profile, index);
                let bytes = encode(&original);
                assert!(crate::import::fit::looks_like_fit(&bytes));
                let back = crate::import::fit::parse(&bytes).expect("decodes");
                assert_eq!(back.sport, original.sport);
                assert_eq!(back.sub_sport, original.sub_sport);
                assert_eq!(back.start, original.start);
                assert_eq!(back.utc_offset_s, original.utc_offset_s);
                assert_eq!(back.streams.t.len(), original.streams.t.len());
                let close = |a: Option<&Vec<f32>>, b: Option<&Vec<f32>>, tol: f32| {
                    assert_eq!(a.is_some(), b.is_some());
                    if let (Some(a), Some(b)) = (a, b) {
                        for (x, y) in a.iter().zip(b) {
                            assert!((x - y).abs() <= tol, "{x} vs {y}");
                        }
                    }
                };
                close(
                    back.streams.power.as_ref(),
                    original.streams.power.as_ref(),
                    0.5,
                );
                close(
                    back.streams.heart_rate.as_ref(),
                    original.streams.heart_rate.as_ref(),
                    0.5,
                );
                close(
                    back.streams.altitude.as_ref(),
                    original.streams.altitude.as_ref(),
                    0.2,
                );
                close(
                    back.streams.speed.as_ref(),
                    original.streams.speed.as_ref(),
                    0.001,
                );
                if let (Some(a), Some(b)) = (&back.streams.lat, &original.streams.lat) {
                    for (x, y) in a.iter().zip(b) {
                        assert!((x - y).abs() < 1e-6);
                    }
                }
                if let (Some(a), Some(b)) = (&back.streams.distance, &original.streams.distance) {
                    assert!((a.last().unwrap() - b.last().unwrap()).abs() < 0.01);
                }
                assert_eq!(back.streams.segments.len(), original.streams.segments.len());
                let (a, b) = (
                    back.totals.timer_s.unwrap(),
                    original.totals.timer_s.unwrap(),
                );
                assert!((a - b).abs() <= 1.0, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn a_corrupted_byte_is_caught_by_the_crc() {
        let original = synthetic_activity(&AthleteProfile::cyclist(), 1);
        let mut bytes = encode(&original);
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0x55;
        assert!(crate::import::fit::parse(&bytes).is_err());
    }
}
