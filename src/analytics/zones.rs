//! Zones: Coggan power zones and a generic time-in-zones helper.
//!
//! # Conventions
//!
//! Zones are given by their ascending lower **bounds** (without the implicit 0 of zone 1):
//! `k` bounds make `k + 1` zones. A value equal to a bound belongs to the zone above it
//! (Coggan Z2 is 55 % to < 75 % FTP). Each finite value counts for `seconds_per_sample`
//! (1 s on the 1 Hz recording clock); unknown values are left out.

/// Coggan's power-zone bounds as fractions of FTP: Z1 < 55 %, Z2 55–75, Z3 75–90,
/// Z4 90–105, Z5 105–120, Z6 120–150, Z7 ≥ 150 %.
pub const COGGAN_POWER_FRACTIONS: [f64; 6] = [0.55, 0.75, 0.90, 1.05, 1.20, 1.50];

/// The Coggan power-zone bounds in watts for `ftp`.
#[must_use]
pub fn coggan_power_bounds(ftp: f64) -> [f64; 6] {
    COGGAN_POWER_FRACTIONS.map(|f| f * ftp)
}

/// Running pace zones as fractions of threshold **speed**.
///
/// Friel's run zones (% of threshold pace: Z1 > 129 %, Z2 114–129, Z3 106–113, Z4 99–105, Z5 faster)
/// turned into speeds (1/1.29, 1/1.14, 1/1.06) with Z5 from threshold speed on
/// (Friel's Z5a–c merged). Five zones.
pub const FRIEL_RUN_SPEED_FRACTIONS: [f64; 4] = [1.0 / 1.29, 1.0 / 1.14, 1.0 / 1.06, 1.0];

/// The running pace-zone bounds in m/s for a threshold speed.
#[must_use]
pub fn run_pace_bounds(threshold_speed: f64) -> [f64; 4] {
    FRIEL_RUN_SPEED_FRACTIONS.map(|f| f * threshold_speed)
}

/// Zone index (0-based) of `value` for ascending `bounds`.
#[must_use]
pub fn zone_of(value: f64, bounds: &[f64]) -> usize {
    bounds.partition_point(|&b| b <= value)
}

/// Seconds spent in each of the `bounds.len() + 1` zones.
#[must_use]
pub fn time_in_zones(values: &[f64], bounds: &[f64], seconds_per_sample: f64) -> Vec<f64> {
    let mut out = vec![0.0; bounds.len() + 1];
    for &v in values.iter().filter(|v| v.is_finite()) {
        if let Some(slot) = out.get_mut(zone_of(v, bounds)) {
            *slot += seconds_per_sample;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "exact values by construction")]
mod tests {
    use super::*;

    #[test]
    fn run_pace_zones_from_threshold_speed() {
        // Threshold 4:00 /km = 4.1667 m/s; 5:00 /km is 125 % of threshold pace → Z2.
        let b = run_pace_bounds(1000.0 / 240.0);
        assert_eq!(zone_of(1000.0 / 300.0, &b), 1);
        assert_eq!(zone_of(1000.0 / 240.0, &b), 4, "threshold speed starts Z5");
        assert_eq!(
            zone_of(1000.0 / 320.0, &b),
            0,
            "133 % of threshold pace is Z1"
        );
        assert_eq!(zone_of(1000.0 / 250.0, &b), 3, "104 % is Z4");
    }

    #[test]
    fn coggan_zones_by_hand() {
        // FTP 300: bounds 165, 225, 270, 315, 360, 450 W.
        let b = coggan_power_bounds(300.0);
        let expected = [165.0, 225.0, 270.0, 315.0, 360.0, 450.0];
        for (x, e) in b.iter().zip(expected) {
            assert!((x - e).abs() < 1e-9);
        }
        // 100 → Z1, 165 → Z2 (bound goes up), 300 → Z4, 500 → Z7, NaN ignored.
        let t = time_in_zones(&[100.0, 165.0, 300.0, 500.0, f64::NAN], &b, 1.0);
        assert_eq!(t, vec![1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0]);
    }
}
