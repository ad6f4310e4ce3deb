//! Per-sample data of an activity ([`Streams`]), when the timer ran ([`Segment`]),
//! and their compact binary form for storage ([`Streams::encode`] / [`Streams::decode`]).
//!
//! # Conventions
//!
//! - **Time base**: `t[i]` is seconds since [`ParsedActivity::start`](super::ParsedActivity)
//!   (UTC), `f64`, strictly increasing. Samples are as recorded (not resampled): 1 Hz for
//!   most devices, irregular with "smart recording" or GPX. Resampling to 1 Hz within
//!   segments is the analytics layer's job (see `ANALYTICS.md`, "Inputs").
//! - **Channels** are columns over the same samples: each is `None` when the file never
//!   carries it (an indoor ride has no `lat`/`lon`), otherwise a `Vec` of the same length
//!   as `t` in which **NaN marks a sample without a value** (a dropout). `lat`/`lon` are
//!   both present or both absent, and NaN together.
//! - **Units**: degrees (WGS84) for `lat`/`lon`; metres for `altitude` and the cumulative
//!   `distance`; m/s for `speed`; beats/min; rpm (steps per minute per leg for running,
//!   as FIT records it); watts; °C.
//! - **Pauses**: [`Streams::segments`] lists the closed intervals `[start_t, end_t]` during
//!   which the device's timer ran, in order and not overlapping. Samples outside every
//!   segment were recorded while paused (some devices do) and must not count toward
//!   recording time. Elapsed time is `t.last() - t.first()`; timer time is the sum of the
//!   segments' lengths.

use std::io::{Read, Write};

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;

/// An interval during which the device's timer was running, in seconds since the start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// First second of the interval (seconds since the activity start).
    pub start_t: f64,
    /// Last second of the interval, `>= start_t`.
    pub end_t: f64,
}

impl Segment {
    /// Length in seconds.
    #[must_use]
    pub fn duration(&self) -> f64 {
        self.end_t - self.start_t
    }

    /// Whether `t` lies within the interval (both ends included).
    #[must_use]
    pub fn contains(&self, t: f64) -> bool {
        t >= self.start_t && t <= self.end_t
    }
}

/// Column-oriented samples of one activity. See the module docs for units and gaps.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Streams {
    /// Seconds since the activity start, strictly increasing.
    pub t: Vec<f64>,
    /// Latitude, degrees.
    pub lat: Option<Vec<f64>>,
    /// Longitude, degrees.
    pub lon: Option<Vec<f64>>,
    /// Altitude above sea level, metres.
    pub altitude: Option<Vec<f32>>,
    /// Cumulative distance from the start, metres.
    pub distance: Option<Vec<f64>>,
    /// Speed, m/s.
    pub speed: Option<Vec<f32>>,
    /// Heart rate, beats per minute.
    pub heart_rate: Option<Vec<f32>>,
    /// Cadence, rpm (running: per leg, as FIT records it).
    pub cadence: Option<Vec<f32>>,
    /// Power, watts.
    pub power: Option<Vec<f32>>,
    /// Temperature, °C.
    pub temperature: Option<Vec<f32>>,
    /// When the timer ran.
    pub segments: Vec<Segment>,
}

/// One sample as a parser sees it, before it becomes a row of [`Streams`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sample {
    /// Seconds since the activity start.
    pub t: f64,
    /// Latitude and longitude in degrees, both or neither.
    pub position: Option<(f64, f64)>,
    /// Metres.
    pub altitude: Option<f64>,
    /// Cumulative metres.
    pub distance: Option<f64>,
    /// m/s.
    pub speed: Option<f64>,
    /// Beats per minute.
    pub heart_rate: Option<f64>,
    /// rpm.
    pub cadence: Option<f64>,
    /// Watts.
    pub power: Option<f64>,
    /// °C.
    pub temperature: Option<f64>,
}

/// Streams whose shape breaks the invariants (channel lengths, time order, encoding).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamsError {
    /// A channel's length differs from the number of timestamps.
    #[error("channel {channel} has {len} values for {samples} samples")]
    Length {
        /// Channel name.
        channel: &'static str,
        /// Its length.
        len: usize,
        /// Number of timestamps.
        samples: usize,
    },
    /// Timestamps go backwards, repeat, or are not finite.
    #[error("timestamps are not strictly increasing at sample {0}")]
    TimeOrder(usize),
    /// Stored bytes are not a valid encoding.
    #[error("stored streams are corrupt: {0}")]
    Corrupt(&'static str),
}

/// Most samples [`Streams::decode`] accepts (a week at 1 Hz is 604,800).
pub const MAX_ENCODED_SAMPLES: usize = 20_000_000;

const MAGIC: &[u8; 4] = b"PST1";

#[expect(
    clippy::cast_possible_truncation,
    reason = "f32 channels are stored as f32 on purpose"
)]
fn to_f32(v: Option<f64>) -> f32 {
    v.map_or(f32::NAN, |x| x as f32)
}

impl Streams {
    /// Builds column streams from samples. A channel that no sample carries is `None`.
    /// Samples must already be in strictly increasing time order (parsers ensure it).
    #[must_use]
    pub fn from_samples(samples: &[Sample], segments: Vec<Segment>) -> Self {
        fn column<T: Copy>(
            samples: &[Sample],
            get: impl Fn(&Sample) -> Option<f64>,
            conv: impl Fn(Option<f64>) -> T,
        ) -> Option<Vec<T>> {
            if samples.iter().any(|s| get(s).is_some_and(f64::is_finite)) {
                Some(
                    samples
                        .iter()
                        .map(|s| conv(get(s).filter(|v| v.is_finite())))
                        .collect(),
                )
            } else {
                None
            }
        }
        let f64c = |v: Option<f64>| v.unwrap_or(f64::NAN);
        Self {
            t: samples.iter().map(|s| s.t).collect(),
            lat: column(samples, |s| s.position.map(|p| p.0), f64c),
            lon: column(samples, |s| s.position.map(|p| p.1), f64c),
            altitude: column(samples, |s| s.altitude, to_f32),
            distance: column(samples, |s| s.distance, f64c),
            speed: column(samples, |s| s.speed, to_f32),
            heart_rate: column(samples, |s| s.heart_rate, to_f32),
            cadence: column(samples, |s| s.cadence, to_f32),
            power: column(samples, |s| s.power, to_f32),
            temperature: column(samples, |s| s.temperature, to_f32),
            segments,
        }
    }

    /// Number of samples.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.t.len()
    }

    /// Whether there are no samples.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.t.is_empty()
    }

    /// Whether the activity has positions.
    #[must_use]
    pub const fn has_gps(&self) -> bool {
        self.lat.is_some() && self.lon.is_some()
    }

    /// Seconds from the first to the last sample.
    #[must_use]
    pub fn elapsed(&self) -> f64 {
        match (self.t.first(), self.t.last()) {
            (Some(a), Some(b)) => b - a,
            _ => 0.0,
        }
    }

    /// Sum of the segments' lengths: seconds the timer ran.
    #[must_use]
    pub fn timer_time(&self) -> f64 {
        self.segments.iter().map(Segment::duration).sum()
    }

    /// For each sample, the index of the segment that contains it (`None`: recorded while
    /// paused). Linear time: samples and segments are both in time order.
    #[must_use]
    pub fn segment_of_samples(&self) -> Vec<Option<usize>> {
        let mut out = Vec::with_capacity(self.t.len());
        let mut k = 0;
        for &t in &self.t {
            while k < self.segments.len() && self.segments[k].end_t < t {
                k += 1;
            }
            out.push(self.segments.get(k).filter(|g| g.contains(t)).map(|_| k));
        }
        out
    }

    /// Checks the invariants stated in the module docs.
    ///
    /// # Errors
    /// The first broken invariant.
    pub fn validate(&self) -> Result<(), StreamsError> {
        let n = self.t.len();
        let check = |channel: &'static str, len: Option<usize>| match len {
            Some(len) if len != n => Err(StreamsError::Length {
                channel,
                len,
                samples: n,
            }),
            _ => Ok(()),
        };
        check("lat", self.lat.as_ref().map(Vec::len))?;
        check("lon", self.lon.as_ref().map(Vec::len))?;
        check("altitude", self.altitude.as_ref().map(Vec::len))?;
        check("distance", self.distance.as_ref().map(Vec::len))?;
        check("speed", self.speed.as_ref().map(Vec::len))?;
        check("heart_rate", self.heart_rate.as_ref().map(Vec::len))?;
        check("cadence", self.cadence.as_ref().map(Vec::len))?;
        check("power", self.power.as_ref().map(Vec::len))?;
        check("temperature", self.temperature.as_ref().map(Vec::len))?;
        if self.lat.is_some() != self.lon.is_some() {
            return Err(StreamsError::Length {
                channel: "lon",
                len: 0,
                samples: n,
            });
        }
        for (i, w) in self.t.windows(2).enumerate() {
            if w[1].partial_cmp(&w[0]) != Some(std::cmp::Ordering::Greater) {
                return Err(StreamsError::TimeOrder(i + 1));
            }
        }
        if self.t.first().is_some_and(|t| !t.is_finite()) {
            return Err(StreamsError::TimeOrder(0));
        }
        Ok(())
    }

    /// The compact storage form: `PST1`, then a raw-deflate stream of
    /// `u32 samples, u16 channel mask, u32 segments, segments as (f64, f64)`, then `t`
    /// and each present channel in field order (`f64` for `t`, `lat`, `lon`, `distance`;
    /// `f32` for the rest), little-endian, each value xor-ed with the previous one and the
    /// bytes of each array transposed into planes (all first bytes, then all second
    /// bytes, …) so that deflate finds the repetition. Lossless: `decode(encode(s)) == s` bit for bit, NaN gaps included.
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let n = self.t.len();
        let mut raw = Vec::with_capacity(16 + n * 40);
        raw.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
        raw.extend_from_slice(&self.channel_mask().to_le_bytes());
        raw.extend_from_slice(
            &u32::try_from(self.segments.len())
                .unwrap_or(u32::MAX)
                .to_le_bytes(),
        );
        for s in &self.segments {
            raw.extend_from_slice(&s.start_t.to_le_bytes());
            raw.extend_from_slice(&s.end_t.to_le_bytes());
        }
        put_planes(&mut raw, &self.t.iter().map(|v| v.to_le_bytes()));
        for ch in [&self.lat, &self.lon].into_iter().flatten() {
            put_planes(&mut raw, &ch.iter().map(|v| v.to_le_bytes()));
        }
        if let Some(ch) = &self.altitude {
            put_planes(&mut raw, &ch.iter().map(|v| v.to_le_bytes()));
        }
        if let Some(ch) = &self.distance {
            put_planes(&mut raw, &ch.iter().map(|v| v.to_le_bytes()));
        }
        for ch in [
            &self.speed,
            &self.heart_rate,
            &self.cadence,
            &self.power,
            &self.temperature,
        ]
        .into_iter()
        .flatten()
        {
            put_planes(&mut raw, &ch.iter().map(|v| v.to_le_bytes()));
        }
        let mut out = MAGIC.to_vec();
        // Level 3: imports are bound by this step; after the byte-plane split the
        // default level 6 saves little space for about twice the time.
        let mut enc = DeflateEncoder::new(&mut out, Compression::new(3));
        // Writing into a Vec cannot fail.
        let _ = enc.write_all(&raw);
        let _ = enc.finish();
        out
    }

    /// Reads the form written by [`Streams::encode`], bounded to [`MAX_ENCODED_SAMPLES`].
    ///
    /// # Errors
    /// [`StreamsError::Corrupt`] when the bytes are not such an encoding, or any
    /// invariant error of [`Streams::validate`].
    pub fn decode(bytes: &[u8]) -> Result<Self, StreamsError> {
        let body = bytes
            .strip_prefix(MAGIC)
            .ok_or(StreamsError::Corrupt("bad magic"))?;
        let limit = u64::try_from(MAX_ENCODED_SAMPLES * 80 + 1024).unwrap_or(u64::MAX);
        let mut raw = Vec::new();
        DeflateDecoder::new(body)
            .take(limit)
            .read_to_end(&mut raw)
            .map_err(|_| StreamsError::Corrupt("bad deflate data"))?;
        let mut r = Cursor { buf: &raw, pos: 0 };
        let n = r.u32()? as usize;
        let mask = r.u16()?;
        let nseg = r.u32()? as usize;
        if n > MAX_ENCODED_SAMPLES || nseg > MAX_ENCODED_SAMPLES {
            return Err(StreamsError::Corrupt("too many samples"));
        }
        let mut segments = Vec::with_capacity(nseg.min(r.remaining() / 16));
        for _ in 0..nseg {
            let start_t = f64::from_le_bytes(r.array()?);
            let end_t = f64::from_le_bytes(r.array()?);
            segments.push(Segment { start_t, end_t });
        }
        let t = r.planes(n, f64::from_le_bytes)?;
        let has = |bit: u16| mask & (1 << bit) != 0;
        let f64ch = |r: &mut Cursor<'_>, bit| {
            if has(bit) {
                r.planes(n, f64::from_le_bytes).map(Some)
            } else {
                Ok(None)
            }
        };
        let lat = f64ch(&mut r, 0)?;
        let lon = f64ch(&mut r, 1)?;
        let altitude = if has(2) {
            Some(r.planes(n, f32::from_le_bytes)?)
        } else {
            None
        };
        let distance = f64ch(&mut r, 3)?;
        let mut f32ch = |bit| {
            if has(bit) {
                r.planes(n, f32::from_le_bytes).map(Some)
            } else {
                Ok(None)
            }
        };
        let speed = f32ch(4)?;
        let heart_rate = f32ch(5)?;
        let cadence = f32ch(6)?;
        let power = f32ch(7)?;
        let temperature = f32ch(8)?;
        if r.remaining() != 0 {
            return Err(StreamsError::Corrupt("trailing bytes"));
        }
        let streams = Self {
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
        streams.validate()?;
        Ok(streams)
    }

    fn channel_mask(&self) -> u16 {
        [
            self.lat.is_some(),
            self.lon.is_some(),
            self.altitude.is_some(),
            self.distance.is_some(),
            self.speed.is_some(),
            self.heart_rate.is_some(),
            self.cadence.is_some(),
            self.power.is_some(),
            self.temperature.is_some(),
        ]
        .iter()
        .enumerate()
        .fold(
            0,
            |mask, (bit, &present)| if present { mask | (1 << bit) } else { mask },
        )
    }
}

/// Appends fixed-size little-endian values, each xor-ed with the previous one (slowly
/// changing floats then share their high bytes, which become zeros), transposed into
/// byte planes.
fn put_planes<const W: usize>(
    out: &mut Vec<u8>,
    values: &(impl ExactSizeIterator<Item = [u8; W]> + Clone),
) {
    let mut xored = Vec::with_capacity(values.len());
    let mut prev = [0u8; W];
    for v in values.clone() {
        let mut x = v;
        for (b, p) in x.iter_mut().zip(prev) {
            *b ^= p;
        }
        xored.push(x);
        prev = v;
    }
    for plane in 0..W {
        out.extend(xored.iter().map(|b| b[plane]));
    }
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    const fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn take(&mut self, len: usize) -> Result<&[u8], StreamsError> {
        let end = self
            .pos
            .checked_add(len)
            .ok_or(StreamsError::Corrupt("length overflow"))?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(StreamsError::Corrupt("truncated"))?;
        self.pos = end;
        Ok(out)
    }

    fn array<const W: usize>(&mut self) -> Result<[u8; W], StreamsError> {
        let mut a = [0; W];
        a.copy_from_slice(self.take(W)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, StreamsError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, StreamsError> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    fn planes<const W: usize, T>(
        &mut self,
        n: usize,
        from: impl Fn([u8; W]) -> T,
    ) -> Result<Vec<T>, StreamsError> {
        let bytes = self.take(
            n.checked_mul(W)
                .ok_or(StreamsError::Corrupt("length overflow"))?,
        )?;
        let mut prev = [0u8; W];
        Ok((0..n)
            .map(|i| {
                let mut b = [0; W];
                for (plane, byte) in b.iter_mut().enumerate() {
                    *byte = bytes[plane * n + i] ^ prev[plane];
                }
                prev = b;
                from(b)
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample_streams() -> Streams {
        let samples: Vec<Sample> = (0..500)
            .map(|i| {
                let t = f64::from(i);
                Sample {
                    t,
                    position: (i % 50 != 7)
                        .then_some((t.mul_add(1e-5, 46.0), t.mul_add(-1e-5, 14.5))),
                    altitude: Some((t / 10.0).sin().mul_add(5.0, 300.0)),
                    distance: Some(t * 3.1),
                    heart_rate: (i % 100 != 3).then_some(120.0 + t / 10.0),
                    power: Some(200.0),
                    ..Sample::default()
                }
            })
            .collect();
        Streams::from_samples(
            &samples,
            vec![
                Segment {
                    start_t: 0.0,
                    end_t: 200.0,
                },
                Segment {
                    start_t: 260.0,
                    end_t: 499.0,
                },
            ],
        )
    }

    #[test]
    fn channels_never_seen_are_absent_and_gaps_are_nan() {
        let s = sample_streams();
        assert!(s.speed.is_none() && s.cadence.is_none());
        assert!(s.lat.as_ref().unwrap()[7].is_nan());
        assert!(s.heart_rate.as_ref().unwrap()[3].is_nan());
        assert!(s.validate().is_ok());
        assert!((s.timer_time() - 439.0).abs() < 1e-9);
    }

    #[test]
    fn encoding_round_trips_bit_for_bit() {
        let s = sample_streams();
        let bytes = s.encode();
        let back = Streams::decode(&bytes).unwrap();
        // NaN != NaN, so compare the encodings and the NaN positions.
        assert_eq!(back.encode(), bytes);
        assert_eq!(back.t, s.t);
        assert_eq!(back.segments, s.segments);
        assert!(back.lat.as_ref().unwrap()[7].is_nan());
        assert_eq!(back.distance, s.distance);
        assert!(
            bytes.len() * 4 < s.len() * 44, // 44 bytes a sample raw (4 f64 + 3 f32 channels)
            "{} bytes for {} samples",
            bytes.len(),
            s.len()
        );
    }

    #[test]
    fn empty_streams_round_trip() {
        let s = Streams::default();
        assert_eq!(Streams::decode(&s.encode()).unwrap(), s);
    }

    #[test]
    fn corrupt_encodings_are_errors() {
        let bytes = sample_streams().encode();
        assert!(Streams::decode(b"").is_err());
        assert!(Streams::decode(&bytes[..bytes.len() / 2]).is_err());
        let mut flipped = bytes;
        flipped[10] ^= 0x55;
        let _ = Streams::decode(&flipped); // must not panic
    }
}
