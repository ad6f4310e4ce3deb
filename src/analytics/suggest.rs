//! Threshold suggestions from an athlete's own data: FTP from the best 20-minute power,
//! threshold running speed from best efforts, max heart rate from the highest recorded.
//!
//! Conventions:
//! - **FTP** = 95 % of the best 20-minute mean power ([`FTP_FROM_20MIN`], Allen & Coggan's
//!   20-minute test). The caller chooses the window (the settings page: the last 90 days).
//! - **Threshold running speed** = the speed the athlete could hold for 60 minutes, predicted
//!   from a best effort with Riegel's model `T₂ = T₁ · (D₂/D₁)^1.06` ([`RIEGEL_EXPONENT`]).
//!   Solved for the distance covered in 60 minutes: `D₆₀ = D · (3600 / T)^(1/1.06)`, speed
//!   `D₆₀ / 3600`. Only efforts of [`MIN_EFFORT_M`] (5 km) or longer are used: shorter
//!   efforts last a few minutes and lean on anaerobic capacity, which Riegel's single
//!   exponent does not model, so extrapolating them to an hour overestimates threshold
//!   (a 1 km "best effort" inside an interval session would suggest a pace the athlete
//!   cannot hold); they are also the most affected by GPS distance noise. From 5 km
//!   (≈ 15–30 min) to the marathon the efforts bracket the one-hour duration and the
//!   model is well supported.
//! - Of several efforts, the **highest** predicted speed is taken. Best efforts picked out of
//!   training runs are usually sub-maximal, so every prediction errs low; the highest one
//!   comes from the effort closest to a maximal one. (An effort that was maximal at one
//!   distance and easy at another should not be averaged with it.)
//! - **Max heart rate** = the highest recorded activity max HR. Values outside
//!   [`MAX_HR_PLAUSIBLE`] (100–230 bpm) are ignored as sensor artefacts (optical sensors
//!   locking onto cadence, chest straps on dry skin) or data that is not a max.
//! - A suggestion is worth showing when it differs from the value in force by at least
//!   [`MEANINGFUL_CHANGE`] (2 %) — relative to the value in force — or when no value is set.

/// FTP as a fraction of the best 20-minute power.
pub const FTP_FROM_20MIN: f64 = 0.95;

/// The duration whose mean-max power gives FTP, seconds.
pub const FTP_TEST_S: usize = 1200;

/// Riegel's fatigue exponent.
pub const RIEGEL_EXPONENT: f64 = 1.06;

/// The shortest best effort used for the threshold pace, metres.
pub const MIN_EFFORT_M: f64 = 5000.0;

/// The duration "threshold" refers to, seconds.
pub const THRESHOLD_DURATION_S: f64 = 3600.0;

/// Plausible max heart rates, bpm (inclusive).
pub const MAX_HR_PLAUSIBLE: (f64, f64) = (100.0, 230.0);

/// The relative difference from the value in force below which no suggestion is shown.
pub const MEANINGFUL_CHANGE: f64 = 0.02;

/// FTP from the best 20-minute mean power: `0.95 × P20`.
#[must_use]
pub fn ftp_from_20min(best_20min_w: f64) -> f64 {
    FTP_FROM_20MIN * best_20min_w
}

/// Riegel's predicted time over `d2` metres from `t1` seconds over `d1` metres.
#[must_use]
pub fn riegel_time(t1_s: f64, d1_m: f64, d2_m: f64) -> f64 {
    t1_s * (d2_m / d1_m).powf(RIEGEL_EXPONENT)
}

/// The distance coverable in 60 minutes, by Riegel, from `time_s` over `distance_m`:
/// `D · (3600 / T)^(1/1.06)`.
#[must_use]
pub fn distance_in_an_hour(distance_m: f64, time_s: f64) -> f64 {
    distance_m * (THRESHOLD_DURATION_S / time_s).powf(1.0 / RIEGEL_EXPONENT)
}

/// Threshold speed (m/s) predicted from one best effort, or `None` when the effort is
/// shorter than [`MIN_EFFORT_M`] or its numbers are not usable.
#[must_use]
pub fn threshold_speed_from_effort(distance_m: f64, time_s: f64) -> Option<f64> {
    (distance_m.is_finite() && time_s.is_finite() && distance_m >= MIN_EFFORT_M && time_s > 0.0)
        .then(|| distance_in_an_hour(distance_m, time_s) / THRESHOLD_DURATION_S)
}

/// The best (highest) threshold speed over efforts `(distance_m, time_s)`, with the index
/// of the effort it comes from. Efforts under 5 km are skipped.
#[must_use]
pub fn threshold_speed(efforts: &[(f64, f64)]) -> Option<(usize, f64)> {
    efforts
        .iter()
        .enumerate()
        .filter_map(|(i, &(d, t))| threshold_speed_from_effort(d, t).map(|v| (i, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// Whether a recorded max heart rate is plausible ([`MAX_HR_PLAUSIBLE`]).
#[must_use]
pub fn plausible_max_hr(bpm: f64) -> bool {
    (MAX_HR_PLAUSIBLE.0..=MAX_HR_PLAUSIBLE.1).contains(&bpm)
}

/// The highest plausible max heart rate among `values`.
#[must_use]
pub fn max_hr(values: &[f64]) -> Option<f64> {
    values
        .iter()
        .copied()
        .filter(|v| plausible_max_hr(*v))
        .max_by(f64::total_cmp)
}

/// Whether `suggested` differs from the value in force by at least [`MEANINGFUL_CHANGE`]
/// of it (always true when nothing is in force).
#[must_use]
pub fn differs(current: Option<f64>, suggested: f64) -> bool {
    current.is_none_or(|c| c <= 0.0 || ((suggested - c) / c).abs() >= MEANINGFUL_CHANGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analytics::curves::DURATION_LADDER;
    use crate::analytics::pace::BEST_EFFORT_DISTANCES;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn ftp_is_95_percent_of_20_minutes() {
        assert!(close(ftp_from_20min(305.0), 289.75, 1e-9));
        assert!(close(ftp_from_20min(200.0), 190.0, 1e-9));
        // The 20-minute rung is the 20th of the ladder (index 19; 20 in 1-based SQL arrays).
        assert_eq!(
            DURATION_LADDER.iter().position(|&d| d == FTP_TEST_S),
            Some(19)
        );
    }

    #[test]
    fn riegel_forward_and_back() {
        // 5 km in 20:00 → 10 km in 1200 · 2^1.06 = 2501.92 s (2^1.06 = e^(0.693147 · 1.06) = e^0.734736 = 2.084932).
        assert!(close(riegel_time(1200.0, 5000.0, 10_000.0), 2501.92, 0.01));
        // An effort of exactly one hour predicts its own distance.
        assert!(close(distance_in_an_hour(15_000.0, 3600.0), 15_000.0, 1e-9));
        // Round trip: the predicted hour distance takes 3600 s by Riegel.
        let d60 = distance_in_an_hour(10_000.0, 2400.0);
        assert!(close(riegel_time(2400.0, 10_000.0, d60), 3600.0, 1e-6));
    }

    #[test]
    fn threshold_speed_from_hand_computed_efforts() {
        // 10 km in 40:00: 1.5^(1/1.06) = e^(0.405465 · 0.943396) = e^0.382514 = 1.465966
        // → D60 = 14 659.66 m → 4.07213 m/s (4:05.6 /km).
        let v10 = threshold_speed_from_effort(10_000.0, 2400.0).unwrap();
        assert!(close(v10, 4.072_13, 1e-4), "{v10}");
        // 5 km in 20:00: 3^(1/1.06) = e^(1.098612 · 0.943396) = e^1.036426 = 2.819125
        // → D60 = 14 095.63 m → 3.91545 m/s.
        let v5 = threshold_speed_from_effort(5000.0, 1200.0).unwrap();
        assert!(close(v5, 3.915_45, 1e-4), "{v5}");
        // Marathon in 3:00:00: (1/3)^(1/1.06) = 1/2.819125 → D60 = 14 967.41 m → 4.15761 m/s.
        let vm = threshold_speed_from_effort(42_195.0, 10_800.0).unwrap();
        assert!(close(vm, 4.157_61, 1e-4), "{vm}");
        // The highest wins, with its index; 1 km efforts are not used however fast.
        let efforts = [(1000.0, 150.0), (5000.0, 1200.0), (10_000.0, 2400.0)];
        let (i, v) = threshold_speed(&efforts).unwrap();
        assert_eq!(i, 2);
        assert!(close(v, v10, 1e-12));
        assert_eq!(threshold_speed_from_effort(1609.344, 300.0), None);
        assert_eq!(threshold_speed_from_effort(5000.0, 0.0), None);
        assert_eq!(threshold_speed(&[(400.0, 60.0)]), None);
        assert_eq!(threshold_speed(&[]), None);
        // 5 km is the fourth stored effort distance (1-based index 4 in SQL arrays).
        assert_eq!(
            BEST_EFFORT_DISTANCES
                .iter()
                .position(|&d| d == MIN_EFFORT_M),
            Some(3)
        );
    }

    #[test]
    fn max_hr_ignores_implausible_values() {
        assert_eq!(max_hr(&[182.0, 251.0, 190.0, 95.0]), Some(190.0));
        assert_eq!(max_hr(&[230.0, 100.0]), Some(230.0));
        assert_eq!(max_hr(&[231.0, 99.0]), None);
        assert_eq!(max_hr(&[]), None);
    }

    #[test]
    fn meaningful_differences() {
        assert!(differs(None, 250.0));
        assert!(differs(Some(250.0), 255.0), "exactly 2 %");
        assert!(!differs(Some(250.0), 254.9));
        assert!(differs(Some(250.0), 245.0), "lower counts too");
        assert!(!differs(Some(250.0), 245.1));
    }
}
