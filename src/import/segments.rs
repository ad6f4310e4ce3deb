//! Recording segments from explicit intervals and from gaps in the samples.
//!
//! Segment bounds never reach beyond the first and last sample (a timer started five
//! seconds before the first record gives a segment from that record), so the segments'
//! total can be a few seconds below the device's own timer time.
//!
//! Rule (from `ANALYTICS.md`, "Inputs"): the timer is stopped between a FIT stop and the
//! next start event; in files without timer events (GPX, TCX, some FIT files) a gap
//! longer than [`PAUSE_GAP_S`] between two samples is a pause. For sparse recordings (a
//! GPX written every 15 s) a fixed 10 s would turn every step into a pause, so the gap
//! that counts is `max(10 s, 4 × the median sampling interval)`; for 1 Hz data that is
//! exactly 10 s.

use crate::domain::Segment;

/// A gap longer than this, seconds, between samples of a 1 Hz recording is a pause.
pub const PAUSE_GAP_S: f64 = 10.0;

/// The pause threshold for these timestamps: `max(PAUSE_GAP_S, 4 × median interval)`.
#[must_use]
pub fn pause_gap(t: &[f64]) -> f64 {
    let mut dts: Vec<f64> = t
        .windows(2)
        .map(|w| w[1] - w[0])
        .filter(|d| d.is_finite())
        .collect();
    if dts.is_empty() {
        return PAUSE_GAP_S;
    }
    let mid = dts.len() / 2;
    let (_, median, _) = dts.select_nth_unstable_by(mid, f64::total_cmp);
    PAUSE_GAP_S.max(4.0 * *median)
}

/// Segments from intervals during which the timer ran (`(start, end)`, seconds, any order,
/// possibly overlapping): merged, clipped to the samples' time range, and dropped when no
/// sample lies inside.
#[must_use]
pub fn from_intervals(t: &[f64], mut intervals: Vec<(f64, f64)>) -> Vec<Segment> {
    let (Some(&first), Some(&last)) = (t.first(), t.last()) else {
        return Vec::new();
    };
    intervals.retain(|(a, b)| a.is_finite() && b.is_finite() && b >= a);
    intervals.sort_by(|x, y| x.0.total_cmp(&y.0));
    let mut merged: Vec<(f64, f64)> = Vec::with_capacity(intervals.len());
    for (a, b) in intervals {
        match merged.last_mut() {
            Some(prev) if a <= prev.1 => prev.1 = prev.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    merged
        .into_iter()
        .filter_map(|(a, b)| {
            let (a, b) = (a.max(first), b.min(last));
            let i = t.partition_point(|&x| x < a);
            (i < t.len() && t[i] <= b).then_some(Segment {
                start_t: a,
                end_t: b,
            })
        })
        .collect()
}

/// Splits each segment wherever two consecutive samples inside it are more than `max_gap`
/// seconds apart: the piece before ends at the earlier sample, the piece after starts at
/// the later one.
#[must_use]
pub fn split_at_gaps(t: &[f64], segments: &[Segment], max_gap: f64) -> Vec<Segment> {
    let mut out = Vec::with_capacity(segments.len());
    for seg in segments {
        let lo = t.partition_point(|&x| x < seg.start_t);
        let hi = t.partition_point(|&x| x <= seg.end_t);
        let mut start = seg.start_t;
        for i in (lo + 1)..hi {
            if t[i] - t[i - 1] > max_gap {
                out.push(Segment {
                    start_t: start,
                    end_t: t[i - 1],
                });
                start = t[i];
            }
        }
        out.push(Segment {
            start_t: start,
            end_t: seg.end_t,
        });
    }
    out
}

/// Segments for a file without timer events: the given intervals (or the whole recording
/// when there are none) split at gaps longer than [`pause_gap`].
#[must_use]
pub fn without_events(t: &[f64], intervals: Vec<(f64, f64)>) -> Vec<Segment> {
    let intervals = if intervals.is_empty() {
        match (t.first(), t.last()) {
            (Some(&a), Some(&b)) => vec![(a, b)],
            _ => Vec::new(),
        }
    } else {
        intervals
    };
    split_at_gaps(t, &from_intervals(t, intervals), pause_gap(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_over_ten_seconds_is_a_pause_at_1hz() {
        let t: Vec<f64> = (0..=20).chain(40..=60).map(f64::from).collect();
        let segs = without_events(&t, Vec::new());
        assert_eq!(
            segs,
            vec![
                Segment {
                    start_t: 0.0,
                    end_t: 20.0
                },
                Segment {
                    start_t: 40.0,
                    end_t: 60.0
                }
            ]
        );
    }

    #[test]
    fn sparse_recordings_are_not_cut_into_pieces() {
        let t: Vec<f64> = (0..20).map(|i| f64::from(i) * 15.0).collect();
        assert_eq!(without_events(&t, Vec::new()).len(), 1);
    }

    #[test]
    fn intervals_are_merged_and_clipped() {
        let t = [5.0, 6.0, 7.0, 30.0];
        let segs = from_intervals(&t, vec![(0.0, 6.0), (5.5, 7.0), (10.0, 20.0), (25.0, 99.0)]);
        assert_eq!(
            segs,
            vec![
                Segment {
                    start_t: 5.0,
                    end_t: 7.0
                },
                Segment {
                    start_t: 25.0,
                    end_t: 30.0
                }
            ]
        );
    }
}
