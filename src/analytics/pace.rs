//! Running and swimming: Minetti grade cost, grade-adjusted speed, normalized graded
//! speed, rTSS, sTSS, and running best efforts.
//!
//! # Conventions
//!
//! - Everything is in **speeds (m/s)**, never paces; input on the 1 Hz recording clock.
//! - **Minetti 2002**: `C(i) = 155.4i⁵ − 30.4i⁴ − 43.3i³ + 46.3i² + 19.5i + 3.6` J/kg/m,
//!   grade `i` as a fraction, clamped to ±0.45 (the range Minetti measured); the speed
//!   factor is `C(i) / 3.6` (1 on the flat).
//! - **Elevation smoothing** ([`smooth_altitude`]): a centred moving mean over ±15 s
//!   (31 recording seconds, fewer at the ends), unknown values left out. The grade at a
//!   second is the smoothed rise over the distance covered between 5 s before and 5 s
//!   after it; when less than 5 m are covered there (standing, treadmill) the grade
//!   is 0. In the first and last 20 s the windows are cut short, which flattens the
//!   grade there a little.
//! - **Grade-adjusted speed** = speed × `C(grade)/3.6`. Speed is the speed channel,
//!   or else the distance covered per second. Unknown speed is 0.
//! - **Normalized graded speed** (NGS): the NP algorithm on grade-adjusted speed (30 s
//!   rolling mean over full windows, 4th-power mean, 4th root;
//!   [`super::power::normalized`]). For an even effort it equals the mean.
//! - **rTSS** = hours × IF² × 100, IF = NGS / threshold speed, hours of recording.
//! - **sTSS** = hours × IF³ × 100, IF = (distance / moving time) / threshold swim speed,
//!   hours of **moving** time.
//! - **Best efforts** (running only — any other sport gives none): fastest time to
//!   cover each distance, on the **elapsed** clock (a stop inside an effort counts; a
//!   best effort is never flattered by a pause). Distance is piecewise linear between
//!   samples; the scan looks at every window with one end on a sample and the other
//!   interpolated (two two-pointer passes), which finds the exact optimum of that
//!   model. A longer distance can legitimately have a faster pace than a shorter one
//!   when it is not a whole multiple of it (Lévy's universal chord theorem: e.g. a
//!   mile whose slow stretch lies inside every 1 km window); for `D` and `k·D` it
//!   cannot.

use super::power::{finite_mean, normalized};
use crate::domain::Sport;

/// Largest absolute grade used in the cost formula.
pub const MAX_GRADE: f64 = 0.45;

/// Minetti's energy cost of running, J/kg/m, at `grade` (fraction, clamped ±0.45).
#[must_use]
pub fn minetti_cost(grade: f64) -> f64 {
    let i = if grade.is_finite() {
        grade.clamp(-MAX_GRADE, MAX_GRADE)
    } else {
        0.0
    };
    // Horner: ((((155.4 i − 30.4) i − 43.3) i + 46.3) i + 19.5) i + 3.6
    155.4f64
        .mul_add(i, -30.4)
        .mul_add(i, -43.3)
        .mul_add(i, 46.3)
        .mul_add(i, 19.5)
        .mul_add(i, 3.6)
}

/// The grade-adjustment factor `C(grade) / 3.6`.
#[must_use]
pub fn grade_factor(grade: f64) -> f64 {
    minetti_cost(grade) / 3.6
}

/// Half-width of the altitude smoothing window, seconds.
pub const SMOOTH_HALF_S: usize = 15;
/// Half-width of the grade window, seconds.
pub const GRADE_HALF_S: usize = 5;
/// Least distance over the grade window for a grade, metres.
pub const GRADE_MIN_DISTANCE_M: f64 = 5.0;

#[expect(
    clippy::cast_precision_loss,
    reason = "sample counts are far below 2^52"
)]
const fn as_f64(n: usize) -> f64 {
    n as f64
}

/// Centred moving mean of the finite values within ±`half` rows; `NaN` where the window
/// has none.
#[must_use]
pub fn smooth_altitude(altitude: &[f64], half: usize) -> Vec<f64> {
    let n = altitude.len();
    let mut sum = vec![0.0; n + 1];
    let mut cnt = vec![0usize; n + 1];
    for (i, &a) in altitude.iter().enumerate() {
        let ok = a.is_finite();
        if let (Some(&s), Some(&c)) = (sum.get(i), cnt.get(i)) {
            if let Some(x) = sum.get_mut(i + 1) {
                *x = s + if ok { a } else { 0.0 };
            }
            if let Some(x) = cnt.get_mut(i + 1) {
                *x = c + usize::from(ok);
            }
        }
    }
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(half);
            let hi = (i + half + 1).min(n);
            match (sum.get(lo), sum.get(hi), cnt.get(lo), cnt.get(hi)) {
                (Some(s0), Some(s1), Some(c0), Some(c1)) if c1 > c0 => (s1 - s0) / as_f64(c1 - c0),
                _ => f64::NAN,
            }
        })
        .collect()
}

/// Grade at each second from smoothed altitude and cumulative distance (see module docs).
#[must_use]
pub fn grades(distance: &[f64], smoothed_altitude: &[f64]) -> Vec<f64> {
    let n = distance.len().min(smoothed_altitude.len());
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(GRADE_HALF_S);
            let hi = (i + GRADE_HALF_S).min(n - 1);
            match (
                distance.get(lo),
                distance.get(hi),
                smoothed_altitude.get(lo),
                smoothed_altitude.get(hi),
            ) {
                (Some(d0), Some(d1), Some(a0), Some(a1)) => {
                    let dd = d1 - d0;
                    let g = (a1 - a0) / dd;
                    if dd >= GRADE_MIN_DISTANCE_M && g.is_finite() {
                        g.clamp(-MAX_GRADE, MAX_GRADE)
                    } else {
                        0.0
                    }
                }
                _ => 0.0,
            }
        })
        .collect()
}

/// Speed per second: the speed channel, or else the distance covered since the
/// previous second; unknown as 0.
#[must_use]
pub fn speed_series(speed: Option<&[f64]>, distance: Option<&[f64]>) -> Vec<f64> {
    let clean = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    match (speed, distance) {
        (Some(s), _) => s.iter().map(|&v| clean(v)).collect(),
        (None, Some(d)) => std::iter::once(0.0)
            .chain(d.windows(2).map(|w| clean(w[1] - w[0])))
            .take(d.len())
            .collect(),
        (None, None) => Vec::new(),
    }
}

/// Grade-adjusted speed per second. Without altitude or distance, the speed itself.
#[must_use]
pub fn grade_adjusted_speed(
    speed: &[f64],
    distance: Option<&[f64]>,
    altitude: Option<&[f64]>,
) -> Vec<f64> {
    let (Some(d), Some(a)) = (distance, altitude) else {
        return speed.to_vec();
    };
    let g = grades(d, &smooth_altitude(a, SMOOTH_HALF_S));
    speed
        .iter()
        .enumerate()
        .map(|(i, &v)| v * grade_factor(g.get(i).copied().unwrap_or(0.0)))
        .collect()
}

/// Normalized graded speed, m/s; `None` below 30 s.
#[must_use]
pub fn normalized_graded_speed(grade_adjusted: &[f64]) -> Option<f64> {
    normalized(grade_adjusted, super::power::NP_WINDOW_S)
}

/// rTSS: `hours × (NGS / threshold speed)² × 100`.
#[must_use]
pub fn rtss(recording_seconds: f64, ngs: f64, threshold_speed: f64) -> f64 {
    let intensity = ngs / threshold_speed;
    recording_seconds / 3600.0 * intensity * intensity * 100.0
}

/// sTSS: `hours × IF³ × 100`, IF = (distance / moving time) / threshold swim speed.
#[must_use]
pub fn stss(distance_m: f64, moving_seconds: f64, threshold_swim_speed: f64) -> Option<f64> {
    (moving_seconds > 0.0 && threshold_swim_speed > 0.0).then(|| {
        let intensity = distance_m / moving_seconds / threshold_swim_speed;
        moving_seconds / 3600.0 * intensity.powi(3) * 100.0
    })
}

/// Running efficiency factor: NGS (m/s) / average heart rate.
#[must_use]
pub fn efficiency_factor(grade_adjusted: &[f64], heart_rate: &[f64]) -> Option<f64> {
    let ngs = normalized_graded_speed(grade_adjusted)?;
    let hr = finite_mean(heart_rate).filter(|&h| h > 0.0)?;
    Some(ngs / hr)
}

/// Pace:HR decoupling of a run: halves by recording time, EF = NGS / HR per half.
#[must_use]
pub fn speed_hr_decoupling(grade_adjusted: &[f64], heart_rate: &[f64]) -> Option<f64> {
    // The same computation as Pa:HR with NGS in place of NP.
    super::power::power_hr_decoupling(grade_adjusted, heart_rate)
}

/// Standard running best-effort distances, metres: 400 m, 1 km, 1 mile, 5 km, 10 km,
/// half marathon, marathon.
pub const BEST_EFFORT_DISTANCES: [f64; 7] = [
    400.0, 1000.0, 1609.344, 5000.0, 10_000.0, 21_097.5, 42_195.0,
];

/// The fastest cover of one distance.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BestEffort {
    /// Distance, metres.
    pub distance_m: f64,
    /// Time, seconds.
    pub time_s: f64,
    /// Start, seconds since the activity start (interpolated).
    pub start_t: f64,
}

impl BestEffort {
    /// Mean speed, m/s.
    #[must_use]
    pub fn speed(&self) -> f64 {
        self.distance_m / self.time_s
    }
}

/// Best efforts of an activity over `distances`, only when `sport` is running.
///
/// `t` and `distance` are the rows' times and cumulative distances (e.g. the recording
/// clock's [`super::resample::Resampled::t`] and distance); rows with unknown distance
/// are skipped. Distances not covered are left out.
#[must_use]
pub fn best_efforts(
    sport: Sport,
    t: &[f64],
    distance: &[f64],
    distances: &[f64],
) -> Vec<BestEffort> {
    if sport != Sport::Running {
        return Vec::new();
    }
    let mut pts: Vec<(f64, f64)> = Vec::with_capacity(t.len());
    let mut high = f64::NEG_INFINITY;
    for (&ti, &di) in t.iter().zip(distance) {
        if ti.is_finite() && di.is_finite() {
            high = high.max(di);
            pts.push((ti, high));
        }
    }
    distances
        .iter()
        .filter_map(|&d| best_effort(&pts, d))
        .collect()
}

/// Fastest cover of `target` metres over (time, non-decreasing distance) points.
fn best_effort(pts: &[(f64, f64)], target: f64) -> Option<BestEffort> {
    if target.is_nan() || target <= 0.0 {
        return None;
    }
    let mut best: Option<BestEffort> = None;
    let mut consider = |start: f64, end: f64| {
        let time = end - start;
        if best.is_none_or(|b| time < b.time_s) {
            best = Some(BestEffort {
                distance_m: target,
                time_s: time,
                start_t: start,
            });
        }
    };
    // Windows ending on a sample, start interpolated (latest departure).
    let mut i = 0;
    for (j, &(tj, dj)) in pts.iter().enumerate() {
        while i + 1 < j && pts.get(i + 1).is_some_and(|p| dj - p.1 >= target) {
            i += 1;
        }
        if let (Some(&(t0, d0)), Some(&(t1, d1))) = (pts.get(i), pts.get(i + 1))
            && i < j
            && dj - d0 >= target
            && d1 > d0
        {
            let start = (t1 - t0).mul_add(((dj - target - d0) / (d1 - d0)).clamp(0.0, 1.0), t0);
            consider(start, tj);
        }
    }
    // Windows starting on a sample, end interpolated (earliest arrival).
    let mut j = 0;
    for (i, &(ti, di)) in pts.iter().enumerate() {
        j = j.max(i + 1);
        while pts.get(j).is_some_and(|p| p.1 - di < target) {
            j += 1;
        }
        if let (Some(&(t0, d0)), Some(&(t1, d1))) = (pts.get(j - 1), pts.get(j))
            && d1 > d0
        {
            let end = (t1 - t0).mul_add(((di + target - d0) / (d1 - d0)).clamp(0.0, 1.0), t0);
            consider(ti, end);
        }
    }
    best
}

#[cfg(test)]
#[allow(
    clippy::float_cmp,
    clippy::suboptimal_flops,
    clippy::cast_precision_loss,
    reason = "test arithmetic written as on paper"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn minetti_by_hand() {
        // Flat: 3.6 J/kg/m, factor 1.
        assert!((minetti_cost(0.0) - 3.6).abs() < 1e-12);
        assert!((grade_factor(0.0) - 1.0).abs() < 1e-12);
        // 10 % up: 155.4e-5 − 30.4e-4 − 43.3e-3 + 46.3e-2 + 1.95 + 3.6
        // = 0.001 554 − 0.003 04 − 0.0433 + 0.463 + 1.95 + 3.6 = 5.968 214.
        assert!((minetti_cost(0.1) - 5.968_214).abs() < 1e-9);
        // 10 % down: −0.001 554 − 0.003 04 + 0.0433 + 0.463 − 1.95 + 3.6 = 2.151 706.
        assert!((minetti_cost(-0.1) - 2.151_706).abs() < 1e-9);
        // Clamped beyond ±45 %.
        assert_eq!(minetti_cost(0.9), minetti_cost(0.45));
    }

    #[test]
    fn grade_adjusted_speed_on_a_steady_climb() {
        // 3 m/s on a constant 10 % slope: GAS = 3 × 5.968 214 / 3.6 = 4.973 51 m/s.
        let n = 300;
        let d: Vec<f64> = (0..n).map(|i| 3.0 * i as f64).collect();
        let a: Vec<f64> = d.iter().map(|x| 100.0 + 0.1 * x).collect();
        let v = vec![3.0; n];
        let gas = grade_adjusted_speed(&v, Some(&d), Some(&a));
        // Away from the ends (where the smoothing window is cut short and flattens
        // the slope) the grade is exact.
        assert!(
            gas[20..280]
                .iter()
                .all(|g| (g - 3.0 * 5.968_214 / 3.6).abs() < 1e-9)
        );
        assert!(gas.iter().all(|&g| (3.0..=4.98).contains(&g)));
        let ngs = normalized_graded_speed(&gas[20..280]).unwrap();
        assert!((ngs - 4.973_511_666).abs() < 1e-6);
        // Standing still: no grade.
        let still = vec![0.0; 30];
        assert!(grades(&still, &still).iter().all(|&g| g == 0.0));
    }

    #[test]
    fn rtss_and_stss_by_hand() {
        // 1 h at threshold: 100. 30 min at NGS 3.6 m/s, threshold 4 m/s: IF 0.9,
        // rTSS = 0.5 × 0.81 × 100 = 40.5.
        assert!((rtss(3600.0, 4.0, 4.0) - 100.0).abs() < 1e-9);
        assert!((rtss(1800.0, 3.6, 4.0) - 40.5).abs() < 1e-9);
        // Swim 2000 m in 40 min moving, threshold 1.0 m/s: speed 0.8333, IF³ = 0.5787,
        // sTSS = (2/3) h × 0.5787 × 100 = 38.58.
        let s = stss(2000.0, 2400.0, 1.0).unwrap();
        assert!((s - (2.0 / 3.0) * (2000.0f64 / 2400.0).powi(3) * 100.0).abs() < 1e-9);
        assert!((s - 38.58).abs() < 0.01);
        assert_eq!(stss(100.0, 0.0, 1.0), None);
    }

    #[test]
    fn best_efforts_by_hand() {
        // 10 s at 2 m/s (20 m) then 10 s at 5 m/s (50 m), samples each second.
        let t: Vec<f64> = (0..=20).map(f64::from).collect();
        let d: Vec<f64> = t
            .iter()
            .map(|&s| {
                if s <= 10.0 {
                    2.0 * s
                } else {
                    20.0 + 5.0 * (s - 10.0)
                }
            })
            .collect();
        // 50 m: all in the fast part, 10 s. 60 m: 50 m fast + 10 m slow = 10 + 5 = 15 s.
        let e = best_efforts(Sport::Running, &t, &d, &[50.0, 60.0, 100.0]);
        assert_eq!(e.len(), 2);
        assert!((e[0].time_s - 10.0).abs() < 1e-9);
        assert!((e[1].time_s - 15.0).abs() < 1e-9, "{:?}", e[1]);
        assert!((e[1].start_t - 5.0).abs() < 1e-9);
        // 7 m: 1.4 s at 5 m/s, with the window ending between samples.
        let e = best_efforts(Sport::Running, &t, &d, &[7.0]);
        assert!((e[0].time_s - 1.4).abs() < 1e-9, "{:?}", e[0]);
        // Not a run: nothing.
        assert!(best_efforts(Sport::Walking, &t, &d, &[50.0]).is_empty());
    }

    #[test]
    fn chord_theorem_counterexample() {
        // 1000 m fast then 1 m slow… a 1-mile run with a slow stretch between 609 m and
        // 1000 m: every 1 km window contains it, so the best 1 km is slower in pace than
        // the mile itself. (Why the property test uses whole multiples.)
        let mut t = vec![0.0];
        let mut d = vec![0.0];
        let mut push = |dd: f64, dt: f64| {
            t.push(t.last().unwrap() + dt);
            d.push(d.last().unwrap() + dd);
        };
        push(609.344, 60.0); // fast: ~10 m/s
        push(390.656, 600.0); // slow
        push(609.344, 60.0);
        let e = best_efforts(Sport::Running, &t, &d, &[1000.0, 1609.344]);
        assert!(e[1].time_s / 1609.344 < e[0].time_s / 1000.0);
    }

    proptest! {
        /// A k·D best effort is never at a faster pace than the D best effort.
        #[test]
        fn longer_multiple_never_faster(
            steps in prop::collection::vec(0.0f64..8.0, 2..600),
            d in 5.0f64..200.0,
            k in 2usize..5,
        ) {
            let t: Vec<f64> = (0..steps.len()).map(|i| i as f64).collect();
            let dist: Vec<f64> = steps.iter().scan(0.0, |acc, s| { *acc += s; Some(*acc) }).collect();
            let e = best_efforts(Sport::Running, &t, &dist, &[d, k as f64 * d]);
            if e.len() == 2 {
                prop_assert!(e[1].time_s / e[1].distance_m >= e[0].time_s / e[0].distance_m - 1e-9);
            }
        }

        /// On the standard ladder, the pace over 5 km never beats 1 km… only whole
        /// multiples are guaranteed: 5 km vs 1 km, 10 km vs 5 km, marathon vs half.
        #[test]
        fn ladder_multiples(steps in prop::collection::vec(1.0f64..6.0, 4000..6000)) {
            let t: Vec<f64> = (0..steps.len()).map(|i| i as f64).collect();
            let dist: Vec<f64> = steps.iter().scan(0.0, |acc, s| { *acc += s; Some(*acc) }).collect();
            let e = best_efforts(Sport::Running, &t, &dist, &[1000.0, 5000.0, 10_000.0]);
            for w in e.windows(2) {
                prop_assert!(w[1].time_s / w[1].distance_m >= w[0].time_s / w[0].distance_m - 1e-9);
            }
        }
    }
}
