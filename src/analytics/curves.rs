//! Mean-max curves, critical power and W′ (Monod & Scherrer), and W′bal (Skiba 2012).
//!
//! # Conventions
//!
//! - Input of [`mean_max`] is a 1 Hz series on the **elapsed clock**
//!   ([`super::resample::elapsed_clock`]): paused seconds are zeros, so no window joins
//!   two efforts across a stop. Unknown and negative values count as 0.
//! - The curve is evaluated on a duration ladder ([`DURATION_LADDER`], 1 s … 5 h) with
//!   prefix sums: O(n) per duration. Durations longer than the series are left out.
//! - The exact mean-max curve is **not** always non-increasing: for `[1, 0, 1]` the best
//!   2 s mean is 0.5 and the best 3 s mean 0.67. What always holds is that the best mean
//!   over `k·d` seconds is at most the best over `d` seconds (a `k·d` window is `k`
//!   disjoint `d` windows). Values are reported as computed, not smoothed into a
//!   monotone envelope.
//! - **Critical power**: least-squares line `work = CP·t + W′` through the points of a
//!   mean-max curve with 120 s ≤ t ≤ 1200 s (work = mean power × t); at least two
//!   distinct durations are needed.
//! - **W′bal** (Skiba 2012, integral form): `W′bal(t) = W′ − Σ_{u ≤ t} W′exp(u) ·
//!   e^(−(t − u)/τ)` with `W′exp(u) = max(0, P(u) − CP)` joules per second and
//!   `τ = 546 · e^(−0.01 · D_CP) + 316`, `D_CP = CP − P_below`, `P_below` the mean of the
//!   seconds below CP over the whole series. Computed in O(n) by the recursion
//!   `S_t = S_{t−1} · e^(−1/τ) + W′exp(t)`. Input on the elapsed clock: recovery goes on
//!   while paused (0 W).

/// Durations of the mean-max ladder, seconds (1 s … 5 h).
pub const DURATION_LADDER: [usize; 30] = [
    1, 2, 3, 5, 10, 15, 20, 30, 45, 60, 90, 120, 150, 180, 240, 300, 420, 600, 900, 1200, 1800,
    2400, 3600, 5400, 7200, 9000, 10800, 12600, 14400, 18000,
];

#[expect(
    clippy::cast_precision_loss,
    reason = "sample counts are far below 2^52"
)]
const fn as_f64(n: usize) -> f64 {
    n as f64
}

/// A point of a mean-max curve: the best mean over `duration_s` seconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanMax {
    /// Window length, seconds.
    pub duration_s: usize,
    /// Best mean over any window of that length.
    pub value: f64,
    /// Index of the first second of the best window.
    pub start: usize,
}

/// Prefix sums with unknown and negative values as 0: `p[i]` = sum of the first `i`.
#[must_use]
pub fn prefix_sums(values: &[f64]) -> Vec<f64> {
    let mut p = Vec::with_capacity(values.len() + 1);
    let mut acc = 0.0;
    p.push(acc);
    for &v in values {
        acc += if v.is_finite() { v.max(0.0) } else { 0.0 };
        p.push(acc);
    }
    p
}

/// Best mean over a window of `d` seconds from prefix sums; `None` when `d` is 0 or
/// longer than the series.
#[must_use]
pub fn best_mean(prefix: &[f64], d: usize) -> Option<MeanMax> {
    if d == 0 {
        return None;
    }
    let mut best: Option<(f64, usize)> = None;
    for (start, (lo, hi)) in prefix.iter().zip(prefix.iter().skip(d)).enumerate() {
        let sum = hi - lo;
        if best.is_none_or(|(b, _)| sum > b) {
            best = Some((sum, start));
        }
    }
    best.map(|(sum, start)| MeanMax {
        duration_s: d,
        value: sum / as_f64(d),
        start,
    })
}

/// Mean-max curve of a 1 Hz elapsed-clock series over `durations`.
#[must_use]
pub fn mean_max(values: &[f64], durations: &[usize]) -> Vec<MeanMax> {
    let prefix = prefix_sums(values);
    durations
        .iter()
        .filter_map(|&d| best_mean(&prefix, d))
        .collect()
}

/// Pointwise maximum of several curves (e.g. all activities of a date range): for each
/// duration, the best value of any curve that has it.
#[must_use]
pub fn max_curve<'a>(curves: impl IntoIterator<Item = &'a [MeanMax]>) -> Vec<MeanMax> {
    let mut out: Vec<MeanMax> = Vec::new();
    for curve in curves {
        for p in curve {
            match out.iter_mut().find(|q| q.duration_s == p.duration_s) {
                Some(q) if p.value > q.value => *q = *p,
                Some(_) => {}
                None => out.push(*p),
            }
        }
    }
    out.sort_by_key(|p| p.duration_s);
    out
}

/// Critical power and W′ from a power-duration fit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpFit {
    /// Critical power, watts (slope of work over time).
    pub cp: f64,
    /// W′, joules (intercept).
    pub w_prime: f64,
    /// Coefficient of determination of the work–time line.
    pub r2: f64,
    /// Number of efforts used.
    pub points: usize,
}

/// Shortest effort used by [`critical_power`], seconds.
pub const CP_MIN_S: usize = 120;
/// Longest effort used by [`critical_power`], seconds.
pub const CP_MAX_S: usize = 1200;

/// Fits `work = CP·t + W′` on the curve's efforts between 2 and 20 min. `None` with
/// fewer than two distinct durations there.
#[must_use]
pub fn critical_power(curve: &[MeanMax]) -> Option<CpFit> {
    let pts: Vec<(f64, f64)> = curve
        .iter()
        .filter(|p| (CP_MIN_S..=CP_MAX_S).contains(&p.duration_s) && p.value.is_finite())
        .map(|p| {
            let t = as_f64(p.duration_s);
            (t, p.value * t)
        })
        .collect();
    let n = as_f64(pts.len());
    if pts.len() < 2 {
        return None;
    }
    let mt = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let mw = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let stt: f64 = pts.iter().map(|p| (p.0 - mt).powi(2)).sum();
    let stw: f64 = pts.iter().map(|p| (p.0 - mt) * (p.1 - mw)).sum();
    let sww: f64 = pts.iter().map(|p| (p.1 - mw).powi(2)).sum();
    if stt <= 0.0 {
        return None;
    }
    let cp = stw / stt;
    let w_prime = cp.mul_add(-mt, mw);
    let r2 = if sww > 0.0 {
        stw.powi(2) / (stt * sww)
    } else {
        1.0
    };
    Some(CpFit {
        cp,
        w_prime,
        r2,
        points: pts.len(),
    })
}

/// Skiba's recovery time constant, seconds: `546 · e^(−0.01 · D_CP) + 316`.
#[must_use]
pub fn skiba_tau(cp: f64, p_below: f64) -> f64 {
    546.0f64.mul_add((-0.01 * (cp - p_below)).exp(), 316.0)
}

/// W′bal of a 1 Hz elapsed-clock power series, joules, one value per second.
#[must_use]
pub fn w_prime_balance(power: &[f64], cp: f64, w_prime: f64) -> Vec<f64> {
    let clean = |v: f64| if v.is_finite() { v.max(0.0) } else { 0.0 };
    let (sum, n) = power
        .iter()
        .map(|&v| clean(v))
        .filter(|&v| v < cp)
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    let p_below = if n > 0 { sum / as_f64(n) } else { 0.0 };
    let decay = (-1.0 / skiba_tau(cp, p_below)).exp();
    let mut spent = 0.0_f64;
    power
        .iter()
        .map(|&v| {
            spent = spent.mul_add(decay, (clean(v) - cp).max(0.0));
            w_prime - spent
        })
        .collect()
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
    fn mean_max_by_hand() {
        // [100, 300, 200, 0, 400]: best 1 s = 400 (index 4); best 2 s = (300+200)/2 = 250
        // (index 1); best 3 s = max(600, 500, 600)/3 = 200 (index 0, first wins);
        // best 5 s = 1000/5 = 200. No 6 s point.
        let c = mean_max(&[100.0, 300.0, 200.0, 0.0, 400.0], &[1, 2, 3, 5, 6]);
        let got: Vec<(usize, f64, usize)> =
            c.iter().map(|p| (p.duration_s, p.value, p.start)).collect();
        assert_eq!(
            got,
            vec![(1, 400.0, 4), (2, 250.0, 1), (3, 200.0, 0), (5, 200.0, 0)]
        );
    }

    #[test]
    fn exact_curve_need_not_be_monotone() {
        let c = mean_max(&[1.0, 0.0, 1.0], &[2, 3]);
        assert!(c[1].value > c[0].value);
    }

    #[test]
    fn max_over_curves() {
        let a = mean_max(&[300.0, 100.0], &[1, 2]);
        let b = mean_max(&[250.0, 250.0, 250.0], &[1, 2, 3]);
        let m = max_curve([a.as_slice(), b.as_slice()]);
        let v: Vec<(usize, f64)> = m.iter().map(|p| (p.duration_s, p.value)).collect();
        assert_eq!(v, vec![(1, 300.0), (2, 250.0), (3, 250.0)]);
    }

    #[test]
    fn cp_fit_by_hand() {
        // Efforts exactly on CP = 250 W, W′ = 20 kJ: P(t) = 250 + 20000/t.
        // 180 s: 361.11 W; 300 s: 316.67 W; 720 s: 277.78 W; 1200 s: 266.67 W.
        // Outside 2–20 min (60 s at 500 W) is ignored.
        let curve: Vec<MeanMax> = [60usize, 180, 300, 720, 1200]
            .iter()
            .map(|&d| MeanMax {
                duration_s: d,
                value: if d == 60 {
                    500.0
                } else {
                    250.0 + 20_000.0 / d as f64
                },
                start: 0,
            })
            .collect();
        let fit = critical_power(&curve).unwrap();
        assert!((fit.cp - 250.0).abs() < 1e-9, "{fit:?}");
        assert!((fit.w_prime - 20_000.0).abs() < 1e-6);
        assert!((fit.r2 - 1.0).abs() < 1e-12);
        assert_eq!(fit.points, 4);
        assert_eq!(critical_power(&curve[..2]), None);
    }

    #[test]
    fn w_prime_balance_by_hand() {
        // CP 250, W′ 20 kJ. 60 s at 350 W spends 100 J/s; then 60 s at 150 W.
        // P_below = 150 (the mean of the seconds below CP), D_CP = 100,
        // τ = 546 e^(−1) + 316 = 200.86 + 316 = 516.86 s. With decay q = e^(−1/τ) each
        // second: S_60 = 100 × (1 − q^60)/(1 − q); after 60 s of recovery S_120 = S_60 × q^60.
        let mut p = vec![350.0; 60];
        p.extend([150.0; 60]);
        let tau = skiba_tau(250.0, 150.0);
        assert!((tau - (546.0 * (-1.0f64).exp() + 316.0)).abs() < 1e-9);
        assert!((tau - 516.86).abs() < 0.01);
        let w = w_prime_balance(&p, 250.0, 20_000.0);
        let q = (-1.0 / tau).exp();
        let s60 = 100.0 * (1.0 - q.powi(60)) / (1.0 - q);
        assert!((w[59] - (20_000.0 - s60)).abs() < 1e-6);
        assert!((w[119] - (20_000.0 - s60 * q.powi(60))).abs() < 1e-6);
        // ≈ 14 330 J left after the effort (5 670 J spent: less than 6 000, as the
        // integral form recovers during it too), ≈ 14 951 J after a minute easy.
        assert!((w[59] - 14_329.68).abs() < 0.01, "{}", w[59]);
        assert!((w[119] - 14_951.15).abs() < 0.01, "{}", w[119]);
        assert!(w[119] > w[59]);
    }

    proptest! {
        /// The best mean over k·d seconds never beats the best over d seconds.
        #[test]
        fn longer_multiples_are_not_better(
            v in prop::collection::vec(0.0f64..1500.0, 1..400),
            d in 1usize..60,
            k in 2usize..6,
        ) {
            let c = mean_max(&v, &[d, k * d]);
            if c.len() == 2 {
                prop_assert!(c[1].value <= c[0].value + 1e-9);
            }
        }

        /// A fading effort (values in decreasing order) gives a non-increasing curve over
        /// the whole ladder.
        #[test]
        fn ladder_curve_is_non_increasing_for_sorted_efforts(
            mut v in prop::collection::vec(0.0f64..1500.0, 1..4000),
        ) {
            v.sort_by(|a, b| b.total_cmp(a));
            let c = mean_max(&v, &DURATION_LADDER);
            for w in c.windows(2) {
                prop_assert!(w[1].value <= w[0].value + 1e-9);
            }
        }
    }
}
