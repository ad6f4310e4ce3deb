//! Streams → 1 Hz series on the **recording clock** (paused time removed) and on the
//! **elapsed clock** (paused time as zeros), per `ANALYTICS.md`, "Inputs".
//!
//! # Conventions
//!
//! - **Grid.** Rows are the whole seconds `s` of the activity clock (seconds since the
//!   start, the `t` of [`Streams`]) that lie inside a recording [`Segment`] and between its
//!   first and last sample: `ceil(first) ≤ s ≤ floor(last)`. A row stands for one second of
//!   recording, so **recording seconds = number of rows** (a 1 Hz ride recorded at
//!   `t = 0, 1, …, 3599` has 3600 rows = 3600 s, like the devices' timer time).
//! - **Gaps in the samples.** Between two consecutive samples of a segment more than
//!   the fill limit apart, the seconds strictly between them are **removed** (a stop
//!   without events, `ANALYTICS.md`); shorter gaps are filled. The fill limit is the
//!   importer's pause rule ([`crate::import::segments::pause_gap`]):
//!   `max(10 s, 4 × the median sampling interval)` — exactly [`MAX_FILL_GAP_S`] = 10 s
//!   for 1 Hz and smart-recording files, wider for sparse GPX tracks (one point every
//!   15 s would otherwise lose all its time).
//! - **Channel values** at a row: the sample's value when a sample lies exactly on the
//!   second, otherwise linear interpolation between the nearest finite samples of the
//!   same segment on either side when they are at most the fill limit apart; otherwise `NaN`
//!   (unknown). Interpolation never crosses a pause (segments are resampled separately).
//! - **Elapsed clock** ([`elapsed_clock`]): every second from the first to the last row;
//!   seconds that are not rows (paused, removed) and unknown values are `0.0`. Used by
//!   mean-max curves so no window joins two efforts across a stop.

use crate::domain::activity::haversine_m;
use crate::domain::{Segment, Streams};

/// Longest gap between samples (seconds) filled by linear interpolation in 1 Hz data.
pub const MAX_FILL_GAP_S: f64 = 10.0;

/// Channels of one activity on the 1 Hz recording clock. Each channel has one value per
/// row of [`Resampled::t`], `NaN` where unknown (see the module docs).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Resampled {
    /// Whole seconds since the activity start of each row, strictly increasing.
    pub t: Vec<f64>,
    /// Watts.
    pub power: Option<Vec<f64>>,
    /// Beats per minute.
    pub heart_rate: Option<Vec<f64>>,
    /// m/s.
    pub speed: Option<Vec<f64>>,
    /// Cumulative metres.
    pub distance: Option<Vec<f64>>,
    /// Metres above sea level.
    pub altitude: Option<Vec<f64>>,
    /// rpm.
    pub cadence: Option<Vec<f64>>,
}

impl Resampled {
    /// Recording (timer) seconds: the number of rows.
    #[must_use]
    pub const fn recording_seconds(&self) -> usize {
        self.t.len()
    }
}

/// For each segment, the range of sample indices inside it.
fn segment_ranges(t: &[f64], segments: &[Segment]) -> Vec<(usize, usize)> {
    let mut out = Vec::with_capacity(segments.len());
    let mut i = 0;
    for seg in segments {
        while t.get(i).is_some_and(|&x| x < seg.start_t) {
            i += 1;
        }
        let start = i;
        while t.get(i).is_some_and(|&x| x <= seg.end_t) {
            i += 1;
        }
        if i > start {
            out.push((start, i));
        }
    }
    out
}

/// The whole seconds of the recording grid (see the module docs); gaps between samples
/// longer than `max_gap` seconds are removed.
#[must_use]
#[expect(
    clippy::float_cmp,
    clippy::while_float,
    reason = "whole seconds are exact in f64; a sample on a whole second is meant exactly"
)]
pub fn recording_grid(t: &[f64], segments: &[Segment], max_gap: f64) -> Vec<f64> {
    let mut grid = Vec::new();
    for (a, b) in segment_ranges(t, segments) {
        let Some(seg) = t.get(a..b) else { continue };
        let Some(&first) = seg.first() else { continue };
        let mut s = first.ceil();
        if first == s {
            grid.push(s);
            s += 1.0;
        }
        for w in seg.windows(2) {
            let (lo, hi) = (w[0], w[1]);
            let keep = hi - lo <= max_gap;
            while s <= hi {
                if keep || s == hi {
                    grid.push(s);
                }
                s += 1.0;
            }
        }
    }
    grid
}

/// One channel on the grid from [`recording_grid`], `NaN` where unknown; interpolation
/// spans at most `max_gap` seconds.
#[must_use]
#[expect(
    clippy::float_cmp,
    reason = "a sample exactly on a whole second takes its own value"
)]
pub fn resample_channel<T: Copy + Into<f64>>(
    t: &[f64],
    values: &[T],
    segments: &[Segment],
    grid: &[f64],
    max_gap: f64,
) -> Vec<f64> {
    let mut out = Vec::with_capacity(grid.len());
    let mut g = 0;
    for (a, b) in segment_ranges(t, segments) {
        // Finite samples of this segment, as (time, value).
        let pts: Vec<(f64, f64)> = (a..b)
            .filter_map(|i| {
                let v: f64 = (*values.get(i)?).into();
                Some((*t.get(i)?, v)).filter(|_| v.is_finite())
            })
            .collect();
        let (Some(&seg_first), Some(&seg_last)) = (t.get(a), t.get(b - 1)) else {
            continue;
        };
        let mut k = 0;
        while let Some(&s) = grid.get(g) {
            if s > seg_last {
                break;
            }
            g += 1;
            if s < seg_first {
                continue;
            }
            while pts.get(k + 1).is_some_and(|p| p.0 <= s) {
                k += 1;
            }
            let v = match (pts.get(k), pts.get(k + 1)) {
                (Some(&(t0, v0)), _) if t0 == s => v0,
                (Some(&(t0, v0)), Some(&(t1, v1))) if t0 < s && t1 - t0 <= max_gap => {
                    v0 + (v1 - v0) * (s - t0) / (t1 - t0)
                }
                _ => f64::NAN,
            };
            out.push(v);
        }
    }
    // Rows of the grid outside every segment (not produced by `recording_grid`).
    out.resize(grid.len(), f64::NAN);
    out
}

/// All channels of `streams` on the 1 Hz recording clock.
#[must_use]
pub fn recording(streams: &Streams) -> Resampled {
    let t = &streams.t;
    let seg = &streams.segments;
    let gap = crate::import::segments::pause_gap(t);
    let grid = recording_grid(t, seg, gap);
    let ch32 = |v: &Option<Vec<f32>>| v.as_ref().map(|v| resample_channel(t, v, seg, &grid, gap));
    Resampled {
        power: ch32(&streams.power),
        heart_rate: ch32(&streams.heart_rate),
        speed: ch32(&streams.speed),
        distance: streams
            .distance
            .clone()
            .or_else(|| distance_from_positions(streams))
            .map(|v| resample_channel(t, &v, seg, &grid, gap)),
        altitude: ch32(&streams.altitude),
        cadence: ch32(&streams.cadence),
        t: grid,
    }
}

/// Cumulative distance from positions (haversine), for files without a distance channel.
///
/// Steps count only between consecutive samples of the same segment with
/// positions (no distance accrues while paused). `None` without positions.
#[must_use]
pub fn distance_from_positions(streams: &Streams) -> Option<Vec<f64>> {
    let (lat, lon) = (streams.lat.as_ref()?, streams.lon.as_ref()?);
    let seg_of = streams.segment_of_samples();
    let mut out = Vec::with_capacity(lat.len());
    let mut total = 0.0;
    let mut prev: Option<(f64, f64, Option<usize>)> = None;
    for ((&la, &lo), &k) in lat.iter().zip(lon).zip(&seg_of) {
        if !(la.is_finite() && lo.is_finite()) {
            out.push(f64::NAN);
            continue;
        }
        if let Some((pla, plo, pk)) = prev
            && pk.is_some()
            && pk == k
        {
            total += haversine_m(pla, plo, la, lo);
        }
        prev = Some((la, lo, k));
        out.push(total);
    }
    Some(out)
}

/// A recording-clock channel laid on the elapsed clock: one value per second from the
/// first row to the last, `0.0` for paused seconds and unknown values.
#[must_use]
pub fn elapsed_clock(t: &[f64], values: &[f64]) -> Vec<f64> {
    let Some(&t0) = t.first() else {
        return Vec::new();
    };
    let len = t.last().map_or(0, |&last| seconds_between(t0, last) + 1);
    let mut out = vec![0.0; len];
    for (&s, &v) in t.iter().zip(values) {
        if let Some(slot) = out.get_mut(seconds_between(t0, s)) {
            *slot = if v.is_finite() { v } else { 0.0 };
        }
    }
    out
}

#[expect(
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    reason = "whole, non-negative second counts of one activity"
)]
fn seconds_between(a: f64, b: f64) -> usize {
    (b - a).max(0.0).round() as usize
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "exact values by construction")]
mod tests {
    use super::*;

    fn seg(a: f64, b: f64) -> Segment {
        Segment {
            start_t: a,
            end_t: b,
        }
    }

    #[test]
    fn short_gaps_are_interpolated_and_long_ones_removed() {
        // Samples at 0, 1, 4 (gap 3 s: filled) and 20 (gap 16 s: removed), one segment.
        let t = [0.0, 1.0, 4.0, 20.0, 21.0];
        let p: [f32; 5] = [100.0, 100.0, 160.0, 50.0, 50.0];
        let segs = [seg(0.0, 21.0)];
        let grid = recording_grid(&t, &segs, MAX_FILL_GAP_S);
        assert_eq!(grid, vec![0.0, 1.0, 2.0, 3.0, 4.0, 20.0, 21.0]);
        let v = resample_channel(&t, &p, &segs, &grid, MAX_FILL_GAP_S);
        // 2 s: 100 + 60 × 1/3 = 120; 3 s: 100 + 60 × 2/3 = 140.
        assert_eq!(v, vec![100.0, 100.0, 120.0, 140.0, 160.0, 50.0, 50.0]);
    }

    #[test]
    fn pauses_are_removed_not_zero_filled() {
        let t: Vec<f64> = (0..=20).map(f64::from).collect();
        let p: Vec<f32> = vec![200.0; 21];
        // Timer stopped between 5 and 15 (samples recorded while paused are dropped).
        let segs = [seg(0.0, 5.0), seg(15.0, 20.0)];
        let grid = recording_grid(&t, &segs, MAX_FILL_GAP_S);
        assert_eq!(grid.len(), 12);
        let v = resample_channel(&t, &p, &segs, &grid, MAX_FILL_GAP_S);
        assert!(v.iter().all(|&x| (x - 200.0).abs() < 1e-12));
        let e = elapsed_clock(&grid, &v);
        assert_eq!(e.len(), 21);
        assert_eq!(e.iter().filter(|&&x| x == 0.0).count(), 9);
    }

    #[test]
    fn nan_dropouts_are_filled_when_short_and_unknown_when_long() {
        let t: Vec<f64> = (0..30).map(f64::from).collect();
        let mut hr: Vec<f32> = vec![120.0; 30];
        hr[3] = f32::NAN; // 1 s dropout: filled
        for x in hr.iter_mut().take(26).skip(10) {
            *x = f32::NAN; // 16 s dropout: unknown
        }
        let segs = [seg(0.0, 29.0)];
        let grid = recording_grid(&t, &segs, MAX_FILL_GAP_S);
        assert_eq!(grid.len(), 30);
        let v = resample_channel(&t, &hr, &segs, &grid, MAX_FILL_GAP_S);
        assert!((v[3] - 120.0).abs() < 1e-12);
        assert!(v[10..26].iter().all(|x| x.is_nan()));
        assert!((v[26] - 120.0).abs() < 1e-12);
    }

    #[test]
    fn irregular_times_land_on_whole_seconds() {
        let t = [0.5, 2.5];
        let p: [f32; 2] = [100.0, 200.0];
        let segs = [seg(0.5, 2.5)];
        let grid = recording_grid(&t, &segs, MAX_FILL_GAP_S);
        assert_eq!(grid, vec![1.0, 2.0]);
        let v = resample_channel(&t, &p, &segs, &grid, MAX_FILL_GAP_S);
        assert_eq!(v, vec![125.0, 175.0]);
    }
}
