//! Power metrics of one activity: Normalized Power, IF, VI, power TSS, efficiency factor
//! and aerobic decoupling (Pa:HR).
//!
//! # Conventions
//!
//! - Input is power on the **1 Hz recording clock** ([`super::resample::recording`]):
//!   one value per recording second, pauses removed. Unknown values (`NaN`, a power
//!   meter that reported nothing for more than 10 s while the timer ran) count as
//!   **0 W**, as the devices do for coasting with no pedal data; negative values too.
//! - **NP, Coggan's convention**: 30 s rolling means are taken only over full windows
//!   (the first one ends at the 30th second: `n − 29` means for `n` seconds), raised to
//!   the 4th power, averaged, 4th root. GoldenCheetah instead zero-pads the first 29
//!   windows; we do not. Fewer than 30 s of recording: no NP (`None`).
//! - **Average power** is the mean over all recording seconds, zeros included.
//! - **TSS** = `s × NP × IF / (FTP × 3600) × 100` with `s` the recording seconds
//!   (the series length) — equal to `hours × IF² × 100`.
//! - **Efficiency factor** = NP / average heart rate (finite heart-rate values only).
//! - **Aerobic decoupling** splits the recording seconds in two halves of equal length
//!   (the first half gets `n / 2` rows) and returns `(EF₁ − EF₂) / EF₁`, each EF with the
//!   half's own NP; positive means heart rate drifted up relative to power.

/// Rolling-window length of Normalized Power, seconds.
pub const NP_WINDOW_S: usize = 30;

/// Unknown and negative values as 0.
const fn clean(v: f64) -> f64 {
    if v.is_finite() { v.max(0.0) } else { 0.0 }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "sample counts are far below 2^52"
)]
const fn as_f64(n: usize) -> f64 {
    n as f64
}

/// Mean of the values, unknown values as 0. `None` for an empty slice.
#[must_use]
pub fn average_power(power: &[f64]) -> Option<f64> {
    (!power.is_empty()).then(|| power.iter().map(|&v| clean(v)).sum::<f64>() / as_f64(power.len()))
}

/// Normalized Power (Coggan) of a 1 Hz recording-clock series; `None` below 30 s.
#[must_use]
pub fn normalized_power(power: &[f64]) -> Option<f64> {
    normalized(power, NP_WINDOW_S)
}

/// The NP algorithm with a `window`-second rolling mean: full windows only, 4th-power
/// mean, 4th root. Also used for normalized graded speed.
#[must_use]
pub fn normalized(values: &[f64], window: usize) -> Option<f64> {
    if window == 0 || values.len() < window {
        return None;
    }
    let w = as_f64(window);
    let mut sum: f64 = values.iter().take(window).map(|&v| clean(v)).sum();
    let mut acc = (sum / w).powi(4);
    for (out, inn) in values.iter().zip(values.iter().skip(window)) {
        sum += clean(*inn) - clean(*out);
        acc += (sum / w).max(0.0).powi(4);
    }
    let count = as_f64(values.len() - window + 1);
    Some((acc / count).powf(0.25))
}

/// Intensity Factor: NP / FTP.
#[must_use]
pub fn intensity_factor(np: f64, ftp: f64) -> f64 {
    np / ftp
}

/// Variability Index: NP / average power.
#[must_use]
pub fn variability_index(np: f64, average_power: f64) -> f64 {
    np / average_power
}

/// Power Training Stress Score: `(s × NP × IF) / (FTP × 3600) × 100`.
#[must_use]
pub fn power_tss(recording_seconds: f64, np: f64, ftp: f64) -> f64 {
    let intensity = intensity_factor(np, ftp);
    recording_seconds * np * intensity / (ftp * 3600.0) * 100.0
}

/// Mean of the finite values; `None` when there are none.
#[must_use]
pub fn finite_mean(values: &[f64]) -> Option<f64> {
    let (sum, n) = values
        .iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, n), &v| (s + v, n + 1));
    (n > 0).then(|| sum / as_f64(n))
}

/// Efficiency factor: NP / average heart rate. `None` without NP or heart rate.
#[must_use]
pub fn efficiency_factor(power: &[f64], heart_rate: &[f64]) -> Option<f64> {
    let np = normalized_power(power)?;
    let hr = finite_mean(heart_rate).filter(|&h| h > 0.0)?;
    Some(np / hr)
}

/// Aerobic decoupling from two efficiency factors: `(ef1 − ef2) / ef1`.
#[must_use]
pub fn decoupling(ef_first: f64, ef_second: f64) -> f64 {
    (ef_first - ef_second) / ef_first
}

/// Pa:HR decoupling of a ride (halves by recording time, EF = NP / HR per half).
/// `None` when a half is shorter than 30 s or lacks heart rate.
#[must_use]
pub fn power_hr_decoupling(power: &[f64], heart_rate: &[f64]) -> Option<f64> {
    let n = power.len().min(heart_rate.len());
    let mid = n / 2;
    let ef1 = efficiency_factor(power.get(..mid)?, heart_rate.get(..mid)?)?;
    let ef2 = efficiency_factor(power.get(mid..n)?, heart_rate.get(mid..n)?)?;
    Some(decoupling(ef1, ef2))
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
    fn np_of_constant_power_is_that_power() {
        let p = vec![250.0; 3600];
        let np = normalized_power(&p).unwrap();
        assert!((np - 250.0).abs() < 1e-9);
        // TSS of one hour at FTP = 100.
        assert!((power_tss(3600.0, 250.0, 250.0) - 100.0).abs() < 1e-9);
    }

    #[test]
    fn np_by_hand() {
        // 60 s: 30 s at 100 W then 30 s at 300 W. Rolling 30 s means (31 windows):
        // window k (k = 0..=30) holds (30 − k) × 100 + k × 300, mean = 100 + 200k/30.
        // NP = (Σ_k mean_k⁴ / 31)^(1/4).
        let p: Vec<f64> = (0..60)
            .map(|i| if i < 30 { 100.0 } else { 300.0 })
            .collect();
        let expected = ((0..=30)
            .map(|k| (100.0 + 200.0 * f64::from(k) / 30.0).powi(4))
            .sum::<f64>()
            / 31.0)
            .powf(0.25);
        let np = normalized_power(&p).unwrap();
        assert!((np - expected).abs() < 1e-9, "{np} vs {expected}");
        // = 223.07 W: well above the 200 W average.
        assert!((np - 223.07).abs() < 0.01, "{np}");
        assert!((average_power(&p).unwrap() - 200.0).abs() < 1e-12);
        // Fewer than 30 s: no NP.
        assert_eq!(normalized_power(&p[..29]), None);
        // Exactly 30 s: one window, NP = mean = 100.
        assert!((normalized_power(&p[..30]).unwrap() - 100.0).abs() < 1e-12);
    }

    #[test]
    fn tss_if_vi_by_hand() {
        // 2 h at NP 240 W, FTP 300 W: IF 0.8; TSS = 2 × 0.64 × 100 = 128.
        assert!((intensity_factor(240.0, 300.0) - 0.8).abs() < 1e-12);
        assert!((power_tss(7200.0, 240.0, 300.0) - 128.0).abs() < 1e-9);
        // VI = 240 / 200 = 1.2.
        assert!((variability_index(240.0, 200.0) - 1.2).abs() < 1e-12);
    }

    #[test]
    fn unknown_power_counts_as_zero() {
        let mut p = vec![200.0; 60];
        p[0] = f64::NAN;
        // Average: 59 × 200 / 60 = 196.67.
        assert!((average_power(&p).unwrap() - 196.666_666_666_666_67).abs() < 1e-9);
    }

    #[test]
    fn ef_and_decoupling_by_hand() {
        // First hour 200 W at 130 bpm, second hour 200 W at 143 bpm.
        let p = vec![200.0; 7200];
        let hr: Vec<f64> = (0..7200)
            .map(|i| if i < 3600 { 130.0 } else { 143.0 })
            .collect();
        // EF1 = 200/130 = 1.538 46, EF2 = 200/143 = 1.398 60; (EF1 − EF2)/EF1 = 1 − 130/143 = 0.0909.
        let d = power_hr_decoupling(&p, &hr).unwrap();
        assert!((d - (1.0 - 130.0 / 143.0)).abs() < 1e-12, "{d}");
        let ef = efficiency_factor(&p, &hr).unwrap();
        assert!((ef - 200.0 / 136.5).abs() < 1e-12);
    }

    #[test]
    fn coggan_np_can_fall_below_average_power_on_edge_spikes() {
        // Why the property below needs quiet edges: one 1000 W second followed by 58 s
        // at 0 W. Average = 1000 / 59 = 16.95 W. Only the first 30 s window holds the
        // spike (mean 33.33 W); the other 29 windows are 0. NP = (33.33⁴ / 30)^(1/4)
        // = 33.33 / 30^(1/4) = 14.24 W < 16.95 W. GoldenCheetah's zero-padding would
        // give other numbers; the convention chosen is Coggan's (see module docs).
        let mut p = vec![0.0; 59];
        p[0] = 1000.0;
        let np = normalized_power(&p).unwrap();
        assert!((np - 1000.0 / 30.0 / 30f64.powf(0.25)).abs() < 1e-9);
        assert!(np < average_power(&p).unwrap());
    }

    fn mean_of_rolling_means(p: &[f64]) -> f64 {
        let rolling: Vec<f64> = p
            .windows(NP_WINDOW_S)
            .map(|x| x.iter().sum::<f64>() / 30.0)
            .collect();
        rolling.iter().sum::<f64>() / rolling.len() as f64
    }

    proptest! {
        /// NP ≥ the mean of its rolling means (power-mean inequality), always.
        #[test]
        fn np_is_at_least_the_mean_rolling_power(p in prop::collection::vec(0.0f64..2000.0, 30..900)) {
            let np = normalized_power(&p).unwrap();
            let m = mean_of_rolling_means(&p);
            prop_assert!(np >= m - 1e-9 * m.max(1.0), "{} < {}", np, m);
        }

        /// NP ≥ average power for non-negative power and ≥ 30 s of recording, when the
        /// first and last 29 s are easy (here 0 W: warm-up and cool-down). Then every
        /// other second lies in 30 windows, so the mean of the rolling means is
        /// Σp / (n − 29) ≥ Σp / n. (Without quiet edges Coggan's convention can go below
        /// the average; see the test above.)
        #[test]
        fn np_is_at_least_average_power(mut p in prop::collection::vec(0.0f64..2000.0, 58..900)) {
            let n = p.len();
            for i in (0..29).chain(n - 29..n) {
                p[i] = 0.0;
            }
            let np = normalized_power(&p).unwrap();
            let avg = average_power(&p).unwrap();
            prop_assert!(np >= avg - 1e-9 * avg.max(1.0), "{} < {}", np, avg);
        }
    }
}
