//! Heart-rate metrics: Banister TRIMP, hrTSS (TRIMP-based, GoldenCheetah's TRIMP100),
//! and heart-rate zones (% of LTHR, or Karvonen % of heart-rate reserve).
//!
//! # Conventions
//!
//! - Input is heart rate on the **1 Hz recording clock**; each finite value counts for
//!   one second (Δt = 1/60 min); unknown values (`NaN`) are left out, not zero-filled.
//! - **TRIMP** is integrated per sample:
//!   `Σ Δt_min × HRr × a × e^(b × HRr)`, `HRr = (HR − rest) / (max − rest)` clamped to
//!   `[0, 1]` (below resting counts nothing, above max counts as max), with
//!   `a = 0.64, b = 1.92` for men and `a = 0.86, b = 1.67` for women.
//! - **hrTSS** = `100 × TRIMP(session) / TRIMP(60 min at LTHR)`, so an hour at threshold
//!   heart rate scores 100 as an hour at FTP does.

/// Sex for the Banister weighting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// a = 0.64, b = 1.92.
    Male,
    /// a = 0.86, b = 1.67.
    Female,
}

impl Sex {
    const fn coefficients(self) -> (f64, f64) {
        match self {
            Self::Male => (0.64, 1.92),
            Self::Female => (0.86, 1.67),
        }
    }
}

/// Resting and maximum heart rate, beats per minute.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HrRange {
    /// Resting heart rate.
    pub rest: f64,
    /// Maximum heart rate, `> rest`.
    pub max: f64,
}

impl HrRange {
    /// Heart-rate reserve fraction of `hr`, clamped to `[0, 1]`.
    #[must_use]
    pub fn reserve_fraction(&self, hr: f64) -> f64 {
        ((hr - self.rest) / (self.max - self.rest)).clamp(0.0, 1.0)
    }
}

/// Banister weight of one minute at heart rate `hr`: `HRr × a × e^(b × HRr)`.
#[must_use]
pub fn trimp_per_minute(hr: f64, range: HrRange, sex: Sex) -> f64 {
    let (a, b) = sex.coefficients();
    let x = range.reserve_fraction(hr);
    x * a * (b * x).exp()
}

/// Banister TRIMP of a 1 Hz heart-rate series (each finite sample is 1 s).
#[must_use]
pub fn trimp(heart_rate: &[f64], range: HrRange, sex: Sex) -> f64 {
    heart_rate
        .iter()
        .filter(|v| v.is_finite())
        .map(|&hr| trimp_per_minute(hr, range, sex) / 60.0)
        .sum()
}

/// TRIMP of 60 minutes at threshold heart rate `lthr`.
#[must_use]
pub fn trimp_hour_at_threshold(lthr: f64, range: HrRange, sex: Sex) -> f64 {
    60.0 * trimp_per_minute(lthr, range, sex)
}

/// hrTSS: `100 × TRIMP / TRIMP(60 min at LTHR)`. `None` when the reference is 0
/// (LTHR at or below resting heart rate).
#[must_use]
pub fn hr_tss(heart_rate: &[f64], lthr: f64, range: HrRange, sex: Sex) -> Option<f64> {
    let reference = trimp_hour_at_threshold(lthr, range, sex);
    (reference > 0.0).then(|| 100.0 * trimp(heart_rate, range, sex) / reference)
}

/// Default heart-rate zones as fractions of LTHR (Friel, 7 zones): Z1 < 85 %,
/// Z2 85–90, Z3 90–95, Z4 95–100, Z5a 100–103, Z5b 103–106, Z5c ≥ 106 %.
pub const LTHR_FRACTIONS: [f64; 6] = [0.85, 0.90, 0.95, 1.00, 1.03, 1.06];

/// Default Karvonen zones as fractions of heart-rate reserve: Z1 < 60 %, Z2 60–70,
/// Z3 70–80, Z4 80–90, Z5 ≥ 90 %.
pub const KARVONEN_FRACTIONS: [f64; 4] = [0.60, 0.70, 0.80, 0.90];

/// Zone bounds (bpm) from fractions of LTHR.
#[must_use]
pub fn lthr_bounds(lthr: f64, fractions: &[f64]) -> Vec<f64> {
    fractions.iter().map(|f| f * lthr).collect()
}

/// Zone bounds (bpm) from fractions of heart-rate reserve: `rest + f × (max − rest)`.
#[must_use]
pub fn karvonen_bounds(range: HrRange, fractions: &[f64]) -> Vec<f64> {
    fractions
        .iter()
        .map(|f| f.mul_add(range.max - range.rest, range.rest))
        .collect()
}

#[cfg(test)]
#[allow(
    clippy::float_cmp,
    clippy::suboptimal_flops,
    reason = "test arithmetic written as on paper"
)]
mod tests {
    use super::*;
    use crate::analytics::zones::time_in_zones;

    const RANGE: HrRange = HrRange {
        rest: 50.0,
        max: 190.0,
    };

    #[test]
    fn trimp_by_hand() {
        // 30 min at 155 bpm, rest 50, max 190: HRr = 105/140 = 0.75.
        // Men: 30 × 0.75 × 0.64 × e^(1.92 × 0.75) = 30 × 0.48 × e^1.44 = 14.4 × 4.2207 = 60.78.
        let hr = vec![155.0; 1800];
        let t = trimp(&hr, RANGE, Sex::Male);
        assert!((t - 14.4 * 1.44f64.exp()).abs() < 1e-9, "{t}");
        assert!((t - 60.778).abs() < 0.01, "{t}");
        // Women: 30 × 0.75 × 0.86 × e^(1.67 × 0.75) = 19.35 × e^1.2525 = 19.35 × 3.4989 = 67.70.
        let t = trimp(&hr, RANGE, Sex::Female);
        assert!((t - 19.35 * 1.2525f64.exp()).abs() < 1e-9, "{t}");
        // Per sample, not from the average: 15 min at 120 + 15 min at 190 differs from
        // 30 min at the 155 average.
        let mixed: Vec<f64> = (0..1800)
            .map(|i| if i < 900 { 120.0 } else { 190.0 })
            .collect();
        let by_sample = trimp(&mixed, RANGE, Sex::Male);
        // 15 × 0.5 × 0.64 × e^0.96 + 15 × 1 × 0.64 × e^1.92 = 12.533 + 65.488 = 78.02.
        let expected = 15.0 * 0.5 * 0.64 * 0.96f64.exp() + 15.0 * 0.64 * 1.92f64.exp();
        assert!((by_sample - expected).abs() < 1e-9);
        assert!(by_sample > 70.0);
        // Dropouts are left out, not counted as resting.
        let mut gaps = hr.clone();
        gaps.extend([f64::NAN; 600]);
        assert!((trimp(&gaps, RANGE, Sex::Male) - trimp(&hr, RANGE, Sex::Male)).abs() < 1e-9);
    }

    #[test]
    fn hr_tss_by_hand() {
        // One hour at LTHR = 100; 30 min at LTHR = 50.
        let lthr = 170.0;
        assert!((hr_tss(&vec![lthr; 3600], lthr, RANGE, Sex::Male).unwrap() - 100.0).abs() < 1e-9);
        assert!((hr_tss(&vec![lthr; 1800], lthr, RANGE, Sex::Female).unwrap() - 50.0).abs() < 1e-9);
        // 30 min at 155 (men): TRIMP 60.78; reference 60 × (120/140) × 0.64 × e^(1.92 × 6/7)
        // = 60 × 0.857 14 × 0.64 × 5.1845 = 170.65; hrTSS = 100 × 60.78 / 170.65 = 35.62.
        let v = hr_tss(&vec![155.0; 1800], lthr, RANGE, Sex::Male).unwrap();
        let reference = 60.0 * (120.0 / 140.0) * 0.64 * (1.92 * 120.0 / 140.0f64).exp();
        assert!((v - 100.0 * 14.4 * 1.44f64.exp() / reference).abs() < 1e-9);
        assert!((v - 35.615).abs() < 0.001, "{v}");
        assert_eq!(hr_tss(&[150.0], 40.0, RANGE, Sex::Male), None);
    }

    #[test]
    fn hr_zones_by_hand() {
        // LTHR 170: bounds 144.5, 153, 161.5, 170, 175.1, 180.2.
        let b = lthr_bounds(170.0, &LTHR_FRACTIONS);
        let t = time_in_zones(&[140.0, 150.0, 170.0, 181.0], &b, 1.0);
        assert_eq!(t, vec![1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 1.0]);
        // Karvonen, rest 50, max 190 (reserve 140): 134, 148, 162, 176.
        let k = karvonen_bounds(RANGE, &KARVONEN_FRACTIONS);
        for (x, e) in k.iter().zip([134.0, 148.0, 162.0, 176.0]) {
            assert!((x - e).abs() < 1e-9);
        }
    }
}
