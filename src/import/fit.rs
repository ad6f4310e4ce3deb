//! FIT decoder: the binary protocol (headers, definition and data messages, compressed
//! timestamps, developer fields, chained files, CRCs) and the few profile messages an
//! activity needs.
//!
//! Written here rather than taken from a crate so that every failure names a byte offset
//! and record number, and so that nothing on any input can panic (fuzzed: `fuzz/`).
//!
//! Messages used: `file_id` (0: file type, manufacturer, product), `sport` (12),
//! `session` (18), `lap` (19), `record` (20), `event` (21: timer start/stop),
//! `device_info` (23: the creator device) and `activity` (34: `local_timestamp`).
//! Everything else, developer fields included, is skipped.
//!
//! - Positions: semicircles × 180 / 2³¹ → degrees.
//! - Recording segments: from `event` = timer with `event_type` start (0) and
//!   stop (1), `stop_all` (4), `stop_disable` (8), `stop_disable_all` (9). A file with no timer
//!   events falls back to gap detection ([`super::segments`]).
//! - **Several sessions** (multisport, or a file with a session per leg): imported as one
//!   activity over all records; the sport is that of the **longest session by timer time**,
//!   totals are derived from the streams (the sessions' calories summed), and a warning
//!   says so.
//! - Records carrying nothing but a timestamp are skipped; several records with the same
//!   timestamp are merged (later values fill the gaps);
//!   records going back in time are dropped with a warning.

use chrono::{DateTime, TimeDelta, Utc};

use super::error::ImportError;
use super::segments;
use crate::domain::{FileFormat, Lap, ParsedActivity, Sample, Sport, Streams, SubSport, Totals};

/// Seconds from the Unix epoch to the FIT epoch (1989-12-31T00:00:00Z).
pub const FIT_EPOCH_UNIX: i64 = 631_065_600;

const SEMICIRCLE_TO_DEG: f64 = 180.0 / 2_147_483_648.0;

/// Whether `bytes` begins with a FIT file header (size ≥ 12 and the `.FIT` signature).
#[must_use]
pub fn looks_like_fit(bytes: &[u8]) -> bool {
    bytes.len() >= 12 && bytes[0] >= 12 && &bytes[8..12] == b".FIT"
}

/// Decodes a FIT activity file.
///
/// # Errors
/// Header, checksum, truncation and record errors with their byte offset; a valid FIT
/// file of another type gives [`ImportError::NotAnActivity`].
pub fn parse(bytes: &[u8]) -> Result<ParsedActivity, ImportError> {
    let mut c = Collector::default();
    decode(bytes, &mut |m| c.message(m))?;
    c.finish()
}

// ---------------------------------------------------------------------------------------
// Protocol layer
// ---------------------------------------------------------------------------------------

const CRC_TABLE: [u16; 16] = [
    0x0000, 0xCC01, 0xD801, 0x1400, 0xF001, 0x3C00, 0x2800, 0xE401, 0xA001, 0x6C00, 0x7800, 0xB401,
    0x5000, 0x9C01, 0x8801, 0x4400,
];

/// The FIT CRC-16 of `data`, continuing from `crc`.
#[must_use]
pub fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for &byte in data {
        let tmp = CRC_TABLE[usize::from(crc & 0xF)];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ CRC_TABLE[usize::from(byte & 0xF)];
        let tmp = CRC_TABLE[usize::from(crc & 0xF)];
        crc = (crc >> 4) & 0x0FFF;
        crc = crc ^ tmp ^ CRC_TABLE[usize::from(byte >> 4)];
    }
    crc
}

#[derive(Debug, Clone, Copy)]
struct FieldDef {
    num: u8,
    base: u8,
    offset: usize,
    size: usize,
}

#[derive(Debug, Clone)]
struct Definition {
    global: u16,
    big_endian: bool,
    fields: Vec<FieldDef>,
    /// Bytes of one data message (fields and developer fields).
    size: usize,
}

/// One data message: its definition and its bytes.
#[derive(Debug, Clone, Copy)]
struct Message<'a> {
    def: &'a Definition,
    data: &'a [u8],
    /// From field 253 or a compressed-timestamp header.
    timestamp: Option<u32>,
}

const BASE_SIZES: [usize; 17] = [1, 1, 1, 2, 2, 4, 4, 1, 4, 8, 1, 2, 4, 1, 8, 8, 8];

impl Message<'_> {
    fn field(&self, num: u8) -> Option<(FieldDef, &[u8])> {
        let f = *self.def.fields.iter().find(|f| f.num == num)?;
        Some((f, self.data.get(f.offset..f.offset + f.size)?))
    }

    /// The field's first element as an integer, `None` when absent or invalid.
    fn int(&self, num: u8) -> Option<i64> {
        let (f, bytes) = self.field(num)?;
        let kind = usize::from(f.base & 0x1F);
        let width = *BASE_SIZES.get(kind)?;
        let raw = bytes.get(..width)?;
        let mut u: u64 = 0;
        for i in 0..width {
            let b = if self.def.big_endian {
                raw[i]
            } else {
                raw[width - 1 - i]
            };
            u = (u << 8) | u64::from(b);
        }
        #[expect(
            clippy::cast_possible_wrap,
            clippy::cast_possible_truncation,
            reason = "reinterpreting two's complement bits"
        )]
        let v = match kind {
            0 | 2 | 13 => (u != 0xFF).then_some(u as i64),
            1 => (u != 0x7F).then_some(i64::from(u as u8 as i8)),
            3 => (u != 0x7FFF).then_some(i64::from(u as u16 as i16)),
            4 => (u != 0xFFFF).then_some(u as i64),
            5 => (u != 0x7FFF_FFFF).then_some(i64::from(u as u32 as i32)),
            6 => (u != 0xFFFF_FFFF).then_some(u as i64),
            10..=12 | 16 => (u != 0).then_some(u as i64),
            14 => (u != 0x7FFF_FFFF_FFFF_FFFF).then_some(u as i64),
            15 => (u != u64::MAX).then_some(u as i64),
            _ => None, // strings, floats and unknown types are not integers
        };
        v
    }

    fn uint(&self, num: u8) -> Option<u64> {
        self.int(num).and_then(|v| u64::try_from(v).ok())
    }

    fn u8(&self, num: u8) -> Option<u8> {
        self.int(num).and_then(|v| u8::try_from(v).ok())
    }

    /// The field as a number, scaled: `raw / scale - offset`.
    #[expect(clippy::cast_precision_loss, reason = "FIT values fit in 52 bits")]
    fn scaled(&self, num: u8, scale: f64, offset: f64) -> Option<f64> {
        self.int(num).map(|v| v as f64 / scale - offset)
    }

    fn string(&self, num: u8) -> Option<String> {
        let (f, bytes) = self.field(num)?;
        if f.base & 0x1F != 7 {
            return None;
        }
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        let s = String::from_utf8_lossy(&bytes[..end]).trim().to_owned();
        (!s.is_empty()).then_some(s)
    }
}

fn corrupt(offset: usize, record: u64, reason: impl Into<String>) -> ImportError {
    ImportError::CorruptFit {
        offset: offset as u64,
        record,
        reason: reason.into(),
    }
}

/// Walks every data message of every (chained) FIT file in `bytes`.
fn decode(bytes: &[u8], on_message: &mut dyn FnMut(&Message<'_>)) -> Result<(), ImportError> {
    let mut pos = 0;
    let mut record = 0u64;
    loop {
        let end = decode_file(bytes, pos, &mut record, on_message)?;
        pos = end;
        let rest = &bytes[pos.min(bytes.len())..];
        // Some devices pad the file with zeros; anything else must be another FIT file.
        if rest.iter().all(|&b| b == 0) {
            return Ok(());
        }
    }
}

/// Decodes one FIT file starting at `start`; returns where it ends (after its CRC).
fn decode_file(
    bytes: &[u8],
    start: usize,
    record: &mut u64,
    on_message: &mut dyn FnMut(&Message<'_>),
) -> Result<usize, ImportError> {
    let bad = |reason: &str| ImportError::BadHeader {
        offset: start as u64,
        reason: reason.to_owned(),
    };
    let truncated = ImportError::Truncated {
        format: "FIT",
        offset: bytes.len() as u64,
    };
    let header = bytes.get(start..).unwrap_or_default();
    if header.len() < 12 {
        return Err(truncated);
    }
    let header_size = usize::from(header[0]);
    if header_size < 12 {
        return Err(bad(&format!(
            "its size byte says {header_size}, at least 12 expected"
        )));
    }
    if &header[8..12] != b".FIT" {
        return Err(bad("the \".FIT\" signature is missing"));
    }
    if header[1] >> 4 > 2 {
        return Err(bad(&format!(
            "unsupported protocol version {}",
            header[1] >> 4
        )));
    }
    if header.len() < header_size {
        return Err(truncated);
    }
    if header_size >= 14 {
        let stored = u16::from_le_bytes([header[12], header[13]]);
        if stored != 0 && stored != crc16(0, &header[..12]) {
            return Err(bad("its checksum does not match"));
        }
    }
    let data_size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let data_start = start + header_size;
    let data_end = data_start
        .checked_add(data_size)
        .ok_or_else(|| bad("impossible data size"))?;
    let file_end = data_end + 2;
    if file_end > bytes.len() {
        return Err(truncated);
    }
    let stored = u16::from_le_bytes([bytes[data_end], bytes[data_end + 1]]);
    let computed = crc16(0, &bytes[start..data_end]);
    if stored != computed {
        return Err(ImportError::BadChecksum { stored, computed });
    }

    let mut defs: [Option<Definition>; 16] = Default::default();
    let mut last_ts: Option<u32> = None;
    let mut pos = data_start;
    while pos < data_end {
        *record += 1;
        let rec_start = pos;
        let h = bytes[pos];
        pos += 1;
        if h & 0x80 != 0 {
            // Compressed timestamp header: local type in bits 5-6, offset in bits 0-4.
            let local = usize::from((h >> 5) & 0x03);
            let offset = u32::from(h & 0x1F);
            let Some(prev) = last_ts else {
                return Err(corrupt(
                    rec_start,
                    *record,
                    "a compressed timestamp comes before any full timestamp",
                ));
            };
            let mut ts = (prev & !0x1F) | offset;
            if offset < (prev & 0x1F) {
                ts = ts.wrapping_add(0x20);
            }
            last_ts = Some(ts);
            pos = data_message(
                bytes,
                rec_start,
                pos,
                data_end,
                *record,
                defs[local].as_ref(),
                Some(ts),
                on_message,
            )?;
        } else if h & 0x40 != 0 {
            let local = usize::from(h & 0x0F);
            let has_dev = h & 0x20 != 0;
            let (def, next) = definition(bytes, rec_start, pos, data_end, *record, has_dev)?;
            defs[local] = Some(def);
            pos = next;
        } else {
            let local = usize::from(h & 0x0F);
            let Some(def) = defs[local].as_ref() else {
                return Err(corrupt(
                    rec_start,
                    *record,
                    format!("data for local message type {local}, which was never defined"),
                ));
            };
            let data = bytes
                .get(pos..pos + def.size)
                .filter(|_| pos + def.size <= data_end);
            let Some(data) = data else {
                return Err(corrupt(
                    rec_start,
                    *record,
                    "a record runs past the end of the data",
                ));
            };
            let mut msg = Message {
                def,
                data,
                timestamp: None,
            };
            if let Some(ts) = msg.int(253).and_then(|v| u32::try_from(v).ok()) {
                last_ts = Some(ts);
                msg.timestamp = Some(ts);
            }
            on_message(&msg);
            pos += def.size;
        }
    }
    Ok(file_end)
}

#[expect(
    clippy::too_many_arguments,
    reason = "internal helper of the record loop"
)]
fn data_message(
    bytes: &[u8],
    rec_start: usize,
    pos: usize,
    data_end: usize,
    record: u64,
    def: Option<&Definition>,
    ts: Option<u32>,
    on_message: &mut dyn FnMut(&Message<'_>),
) -> Result<usize, ImportError> {
    let Some(def) = def else {
        return Err(corrupt(
            rec_start,
            record,
            "data for a local message type that was never defined",
        ));
    };
    let end = pos + def.size;
    let Some(data) = bytes.get(pos..end).filter(|_| end <= data_end) else {
        return Err(corrupt(
            rec_start,
            record,
            "a record runs past the end of the data",
        ));
    };
    on_message(&Message {
        def,
        data,
        timestamp: ts,
    });
    Ok(end)
}

fn definition(
    bytes: &[u8],
    rec_start: usize,
    mut pos: usize,
    data_end: usize,
    record: u64,
    has_dev: bool,
) -> Result<(Definition, usize), ImportError> {
    let short = || {
        corrupt(
            rec_start,
            record,
            "a definition runs past the end of the data",
        )
    };
    let fixed = bytes
        .get(pos..pos + 5)
        .filter(|_| pos + 5 <= data_end)
        .ok_or_else(short)?;
    let big_endian = match fixed[1] {
        0 => false,
        1 => true,
        other => {
            return Err(corrupt(
                rec_start,
                record,
                format!("unknown byte order {other}"),
            ));
        }
    };
    let global = if big_endian {
        u16::from_be_bytes([fixed[2], fixed[3]])
    } else {
        u16::from_le_bytes([fixed[2], fixed[3]])
    };
    let n = usize::from(fixed[4]);
    pos += 5;
    let raw = bytes
        .get(pos..pos + 3 * n)
        .filter(|_| pos + 3 * n <= data_end)
        .ok_or_else(short)?;
    pos += 3 * n;
    let mut fields = Vec::with_capacity(n);
    let mut size = 0;
    for f in raw.chunks_exact(3) {
        fields.push(FieldDef {
            num: f[0],
            size: usize::from(f[1]),
            base: f[2],
            offset: size,
        });
        size += usize::from(f[1]);
    }
    if has_dev {
        let nd = usize::from(
            *bytes
                .get(pos)
                .filter(|_| pos < data_end)
                .ok_or_else(short)?,
        );
        pos += 1;
        let raw = bytes
            .get(pos..pos + 3 * nd)
            .filter(|_| pos + 3 * nd <= data_end)
            .ok_or_else(short)?;
        pos += 3 * nd;
        size += raw
            .chunks_exact(3)
            .map(|f| usize::from(f[1]))
            .sum::<usize>();
    }
    Ok((
        Definition {
            global,
            big_endian,
            fields,
            size,
        },
        pos,
    ))
}

// ---------------------------------------------------------------------------------------
// Profile layer: from messages to an activity
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct Record {
    ts: u32,
    lat: Option<i64>,
    lon: Option<i64>,
    altitude: Option<f64>,
    heart_rate: Option<f64>,
    cadence: Option<f64>,
    distance: Option<f64>,
    speed: Option<f64>,
    power: Option<f64>,
    temperature: Option<f64>,
}

impl Record {
    const fn is_empty(&self) -> bool {
        self.lat.is_none()
            && self.altitude.is_none()
            && self.heart_rate.is_none()
            && self.cadence.is_none()
            && self.distance.is_none()
            && self.speed.is_none()
            && self.power.is_none()
            && self.temperature.is_none()
    }

    fn fill_from(&mut self, o: &Self) {
        self.lat = self.lat.or(o.lat);
        self.lon = self.lon.or(o.lon);
        self.altitude = self.altitude.or(o.altitude);
        self.heart_rate = self.heart_rate.or(o.heart_rate);
        self.cadence = self.cadence.or(o.cadence);
        self.distance = self.distance.or(o.distance);
        self.speed = self.speed.or(o.speed);
        self.power = self.power.or(o.power);
        self.temperature = self.temperature.or(o.temperature);
    }
}

#[derive(Debug, Clone, Default)]
struct Session {
    start: Option<u32>,
    sport: Option<u8>,
    sub_sport: Option<u8>,
    totals: Totals,
}

#[derive(Debug, Default)]
struct Collector {
    file_type: Option<u8>,
    manufacturer: Option<u64>,
    product: Option<u64>,
    creator_name: Option<String>,
    creator: Option<(Option<u64>, Option<u64>)>,
    records: Vec<Record>,
    backwards: usize,
    /// Compressed speed/distance: last raw 12-bit distance and the running total (1/16 m).
    csd: Option<(u32, u64)>,
    timer_events: Vec<(u32, bool)>,
    sessions: Vec<Session>,
    laps: Vec<(Option<u32>, Totals)>,
    sport_msg: Option<(Option<u8>, Option<u8>, Option<String>)>,
    local_offset: Option<i64>,
}

fn totals_of(m: &Message<'_>, f: &[u8; 15]) -> Totals {
    // Field numbers in order: elapsed, timer, distance, calories, avg speed, max speed,
    // avg hr, max hr, avg cadence, avg power, max power, ascent, descent, enhanced avg
    // speed, enhanced max speed. (NP is session-only and read by the caller.)
    let get = |i: usize, scale: f64| m.scaled(f[i], scale, 0.0);
    Totals {
        elapsed_s: get(0, 1000.0),
        timer_s: get(1, 1000.0),
        moving_s: None,
        distance_m: get(2, 100.0),
        ascent_m: get(11, 1.0),
        descent_m: get(12, 1.0),
        avg_hr: get(6, 1.0),
        max_hr: get(7, 1.0),
        avg_speed_mps: get(13, 1000.0).or_else(|| get(4, 1000.0)),
        max_speed_mps: get(14, 1000.0).or_else(|| get(5, 1000.0)),
        avg_power_w: get(9, 1.0),
        max_power_w: get(10, 1.0),
        device_np_w: None,
        avg_cadence: get(8, 1.0),
        calories_kcal: get(3, 1.0),
    }
}

const SESSION_FIELDS: [u8; 15] = [7, 8, 9, 11, 14, 15, 16, 17, 18, 20, 21, 22, 23, 124, 125];
const LAP_FIELDS: [u8; 15] = [7, 8, 9, 11, 13, 14, 15, 16, 17, 19, 20, 21, 22, 110, 111];

impl Collector {
    fn message(&mut self, m: &Message<'_>) {
        match m.def.global {
            0 if self.file_type.is_none() => {
                self.file_type = m.u8(0);
                self.manufacturer = m.uint(1);
                self.product = m.uint(2);
            }
            12 => self.sport_msg = Some((m.u8(0), m.u8(1), m.string(3))),
            18 => {
                let mut totals = totals_of(m, &SESSION_FIELDS);
                totals.device_np_w = m.scaled(34, 1.0, 0.0);
                self.sessions.push(Session {
                    start: m.uint(2).and_then(|v| u32::try_from(v).ok()),
                    sport: m.u8(5),
                    sub_sport: m.u8(6),
                    totals,
                });
            }
            19 => self.laps.push((
                m.uint(2).and_then(|v| u32::try_from(v).ok()),
                totals_of(m, &LAP_FIELDS),
            )),
            20 => self.record(m),
            21 => {
                if let (Some(ts), Some(0), Some(kind)) = (m.timestamp, m.u8(0), m.u8(1)) {
                    match kind {
                        0 => self.timer_events.push((ts, true)),
                        1 | 4 | 8 | 9 => self.timer_events.push((ts, false)),
                        _ => {}
                    }
                }
            }
            23 if m.u8(0) == Some(0) || (m.u8(0).is_none() && self.creator.is_none()) => {
                self.creator = Some((m.uint(2), m.uint(4)));
                if let Some(name) = m.string(27) {
                    self.creator_name = Some(name);
                }
            }
            34 => {
                if let (Some(ts), Some(local)) = (m.timestamp, m.int(5)) {
                    self.local_offset = Some(local - i64::from(ts));
                }
            }
            _ => {}
        }
    }

    fn record(&mut self, m: &Message<'_>) {
        let Some(ts) = m.timestamp else { return };
        let mut r = Record {
            ts,
            lat: m.int(0),
            lon: m.int(1),
            altitude: m.scaled(78, 5.0, 500.0).or_else(|| m.scaled(2, 5.0, 500.0)),
            heart_rate: m.scaled(3, 1.0, 0.0),
            cadence: m
                .scaled(4, 1.0, 0.0)
                .map(|c| c + m.scaled(53, 128.0, 0.0).unwrap_or(0.0)),
            distance: m.scaled(5, 100.0, 0.0),
            speed: m
                .scaled(73, 1000.0, 0.0)
                .or_else(|| m.scaled(6, 1000.0, 0.0)),
            power: m.scaled(7, 1.0, 0.0),
            temperature: m.scaled(13, 1.0, 0.0),
        };
        if let Some((f, b)) = m.field(8)
            && f.size >= 3
        {
            let speed = u32::from(b[0]) | (u32::from(b[1] & 0x0F) << 8);
            let raw = (u32::from(b[1]) >> 4) | (u32::from(b[2]) << 4);
            let (last, total) = self.csd.unwrap_or((0, 0));
            let total = total + u64::from(raw.wrapping_sub(last) & 0xFFF);
            self.csd = Some((raw, total));
            r.speed = r.speed.or_else(|| Some(f64::from(speed) / 100.0));
            #[expect(clippy::cast_precision_loss, reason = "distances fit in 52 bits")]
            let d = total as f64 / 16.0;
            r.distance = r.distance.or(Some(d));
        }
        if r.is_empty() {
            return; // a timestamp without any value: nothing to keep
        }
        match self.records.last_mut() {
            Some(prev) if prev.ts == ts => {
                r.fill_from(prev);
                *prev = r;
            }
            Some(prev) if prev.ts > ts => self.backwards += 1,
            _ => self.records.push(r),
        }
    }

    fn finish(self) -> Result<ParsedActivity, ImportError> {
        if let Some(kind) = self.file_type.and_then(non_activity_kind) {
            return Err(ImportError::NotAnActivity(kind));
        }
        let Some(first) = self.records.first() else {
            return Err(ImportError::NoRecords("FIT"));
        };
        let mut warnings = Vec::new();
        if self.backwards > 0 {
            warnings.push(format!(
                "{} records went back in time and were skipped",
                self.backwards
            ));
        }
        let session_start = self.sessions.iter().filter_map(|s| s.start).min();
        let start_ts = session_start.map_or(first.ts, |s| s.min(first.ts));
        let start = fit_time(start_ts);
        let rel = |ts: u32| f64::from(ts) - f64::from(start_ts);

        let samples: Vec<Sample> = self
            .records
            .iter()
            .map(|r| Sample {
                t: rel(r.ts),
                #[expect(clippy::cast_precision_loss, reason = "semicircles are 32-bit")]
                position: match (r.lat, r.lon) {
                    (Some(la), Some(lo)) => {
                        Some((la as f64 * SEMICIRCLE_TO_DEG, lo as f64 * SEMICIRCLE_TO_DEG))
                            .filter(|(la, lo)| la.abs() <= 90.0 && lo.abs() <= 180.0)
                    }
                    _ => None,
                },
                altitude: r.altitude,
                distance: r.distance,
                speed: r.speed,
                heart_rate: r.heart_rate,
                cadence: r.cadence,
                power: r.power,
                temperature: r.temperature,
            })
            .collect();
        let t: Vec<f64> = samples.iter().map(|s| s.t).collect();
        let segments = if self.timer_events.is_empty() {
            segments::without_events(&t, Vec::new())
        } else {
            let mut intervals = Vec::new();
            // A file whose first timer event is a stop had its timer running from the start.
            let mut running = self.timer_events.first().filter(|e| !e.1).map(|_| start_ts);
            for &(ts, start) in &self.timer_events {
                match (start, running) {
                    (true, None) => running = Some(ts),
                    (false, Some(s)) => {
                        intervals.push((rel(s), rel(ts)));
                        running = None;
                    }
                    _ => {}
                }
            }
            if let Some(s) = running {
                intervals.push((rel(s), t.last().copied().unwrap_or(0.0)));
            }
            segments::from_intervals(&t, intervals)
        };
        let streams = Streams::from_samples(&samples, segments);

        let derived = Totals::from_streams(&streams);
        let longest = self.sessions.iter().max_by(|a, b| {
            a.totals
                .timer_s
                .unwrap_or(0.0)
                .total_cmp(&b.totals.timer_s.unwrap_or(0.0))
        });
        let (sport_msg_sport, sport_msg_sub, sport_name) =
            self.sport_msg.clone().unwrap_or_default();
        let sport_code = longest.and_then(|s| s.sport).or(sport_msg_sport);
        let sub_code = longest.and_then(|s| s.sub_sport).or(sport_msg_sub);
        let totals = if self.sessions.len() == 1 {
            let mut own = self.sessions[0].totals;
            // Moving time is derived (at most the timer time); everything the device wrote wins.
            own.moving_s = derived
                .moving_s
                .map(|m| own.timer_s.map_or(m, |t| m.min(t)));
            own.or(derived)
        } else {
            if self.sessions.len() > 1 {
                warnings.push(format!(
                    "the file holds {} sessions (multisport?); they were imported as one {} activity, the sport of the longest session",
                    self.sessions.len(),
                    Sport::from_fit(sport_code.unwrap_or(0))
                ));
            }
            let calories: f64 = self
                .sessions
                .iter()
                .filter_map(|s| s.totals.calories_kcal)
                .sum();
            Totals {
                calories_kcal: (calories > 0.0).then_some(calories),
                ..derived
            }
        };
        let laps = self
            .laps
            .iter()
            .map(|(st, totals)| Lap {
                start_t: st.map_or(0.0, rel),
                totals: *totals,
            })
            .collect();
        let utc_offset_s = self
            .local_offset
            .filter(|o| o.abs() <= 18 * 3600)
            .and_then(|o| i32::try_from(o).ok());
        if start_ts < 0x1000_0000 {
            warnings.push(
                "the device's clock was not set: the start time is relative, not a real date"
                    .to_owned(),
            );
        }
        let (man, prod) = self.creator.unwrap_or((self.manufacturer, self.product));
        Ok(ParsedActivity {
            format: FileFormat::Fit,
            sport: Sport::from_fit(sport_code.unwrap_or(0)),
            sub_sport: SubSport::from_fit(sub_code.unwrap_or(0)),
            name: sport_name,
            start,
            utc_offset_s,
            device: device_name(
                man.or(self.manufacturer),
                prod.or(self.product),
                self.creator_name,
            ),
            totals,
            laps,
            streams,
            warnings,
        })
    }
}

/// UTC instant of a FIT timestamp.
#[must_use]
pub fn fit_time(ts: u32) -> DateTime<Utc> {
    DateTime::<Utc>::UNIX_EPOCH + TimeDelta::seconds(FIT_EPOCH_UNIX + i64::from(ts))
}

/// What a non-activity FIT file holds, by its `file_id.type`; `None` for activities and
/// unknown types (which are tried as activities).
const fn non_activity_kind(file_type: u8) -> Option<&'static str> {
    Some(match file_type {
        1 => "device information",
        2 => "device settings",
        3 => "sport settings (zones)",
        5 => "a workout plan",
        6 => "a course (a planned route)",
        7 => "a training schedule",
        9 => "weight measurements",
        10 => "lifetime totals",
        11 => "goals",
        14 => "blood pressure readings",
        15 | 32 => "all-day monitoring data (steps, heart rate)",
        20 => "an activity summary without recorded data",
        28 => "daily monitoring summaries",
        34 => "a segment",
        35 => "a segment list",
        40 => "data-field settings",
        _ => return None,
    })
}

fn device_name(
    manufacturer: Option<u64>,
    product: Option<u64>,
    product_name: Option<String>,
) -> Option<String> {
    let maker = match manufacturer? {
        1 => "Garmin",
        13 | 15 => "Dynastream",
        23 => "Suunto",
        32 => "Wahoo",
        38 => "Polar",
        70 => "Sigma",
        89 => "Tacx",
        255 => "Development",
        260 => "Zwift",
        263 => "Favero",
        265 => "Strava",
        267 => "Bryton",
        289 => "Hammerhead",
        294 => "Coros",
        _ => return product_name,
    };
    if let Some(name) = product_name {
        return Some(format!("{maker} {name}"));
    }
    let model = match (manufacturer, product) {
        (Some(1), Some(p)) => match p {
            1169 => Some("Edge 800"),
            1561 => Some("Edge 510"),
            1567 => Some("Edge 810"),
            1967 => Some("fēnix 2"),
            2530 => Some("Edge 820"),
            2697 => Some("fēnix 5"),
            2713 => Some("Edge 1030"),
            3121 => Some("Edge 530"),
            3122 => Some("Edge 830"),
            _ => None,
        },
        _ => None,
    };
    Some(match (model, product) {
        (Some(m), _) => format!("{maker} {m}"),
        (None, Some(p)) => format!("{maker} (product {p})"),
        (None, None) => maker.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc_of_data_followed_by_its_crc_is_zero() {
        let data = b"123456789";
        let crc = crc16(0, data);
        let mut all = data.to_vec();
        all.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(crc16(0, &all), 0);
    }

    #[test]
    fn fit_epoch() {
        assert_eq!(fit_time(0).to_rfc3339(), "1989-12-31T00:00:00+00:00");
    }

    #[test]
    fn short_input_is_truncated_not_a_panic() {
        for n in 0..20 {
            let mut bytes = vec![14u8, 0x10, 0, 0, 100, 0, 0, 0, b'.', b'F', b'I', b'T', 0, 0];
            bytes.truncate(n);
            assert!(parse(&bytes).is_err());
        }
    }
}
