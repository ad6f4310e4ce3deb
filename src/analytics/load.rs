//! Training load over time: the load an activity contributes to its day (priority rule)
//! and the performance management chart ([`pmc`]: CTL, ATL, TSB, ramp rate, ACWR).
//!
//! # Conventions
//!
//! - **Load of an activity**: the first available of power TSS → rTSS / sTSS (pace) →
//!   hrTSS; otherwise none, and [`LoadSource::None`] says so. Unscaled TRIMP is never a
//!   load.
//! - **Daily load** `L_t` = sum of the day's activity loads; days without training are 0.
//!   [`pmc`] takes one value per calendar day, consecutive.
//! - **CTL / ATL**: `X_t = X_{t−1} + (L_t − X_{t−1}) × (1 − e^(−1/N))`, N = 42 and 7 days
//!   by default (coefficients 0.023 528 and 0.133 122), configurable; the
//!   λ = 2/(N+1) variant is not used. Before the first day both start at the given
//!   seeds (0 for a new athlete).
//! - **TSB** (form) of day t = `CTL_{t−1} − ATL_{t−1}` (TrainingPeaks/WKO: yesterday's
//!   values, i.e. form coming into the day); day 0 uses the seeds.
//! - **Ramp rate** = `CTL_t − CTL_{t−7}`; for the first 7 days `CTL_{t−7}` is the seed.
//! - **ACWR** = (7-day load / 7) / (28-day load / 28): the last 7 days' mean daily load
//!   over the last 28 days' mean daily load, both windows ending on day t (rolling
//!   averages). `None` before 28 days of history or when the 28-day load is 0.

use chrono::NaiveDate;

/// Where an activity's load came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadSource {
    /// Power TSS.
    Power,
    /// rTSS (running) or sTSS (swimming).
    Pace,
    /// hrTSS.
    HeartRate,
    /// No load could be computed (no thresholds or no data); counts as 0.
    None,
}

/// The loads that could be computed for one activity.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ActivityLoads {
    /// Power TSS.
    pub power_tss: Option<f64>,
    /// rTSS or sTSS.
    pub pace_tss: Option<f64>,
    /// hrTSS.
    pub hr_tss: Option<f64>,
}

impl ActivityLoads {
    /// The load to count and its source, by priority power → pace → heart rate.
    #[must_use]
    pub fn chosen(&self) -> (f64, LoadSource) {
        let ok = |v: Option<f64>| v.filter(|x| x.is_finite() && *x >= 0.0);
        ok(self.power_tss)
            .map(|v| (v, LoadSource::Power))
            .or_else(|| ok(self.pace_tss).map(|v| (v, LoadSource::Pace)))
            .or_else(|| ok(self.hr_tss).map(|v| (v, LoadSource::HeartRate)))
            .unwrap_or((0.0, LoadSource::None))
    }
}

/// One value per day from `first` to `last` (inclusive): the sum of the loads dated that
/// day; days without training are 0. Loads outside the range are ignored.
#[must_use]
pub fn daily_loads(first: NaiveDate, last: NaiveDate, loads: &[(NaiveDate, f64)]) -> Vec<f64> {
    let days = usize::try_from((last - first).num_days() + 1).unwrap_or(0);
    let mut out = vec![0.0; days];
    for (day, load) in loads {
        if let Ok(i) = usize::try_from((*day - first).num_days())
            && let Some(slot) = out.get_mut(i)
        {
            *slot += load;
        }
    }
    out
}

/// Time constants and starting values of the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PmcParams {
    /// CTL time constant, days (42).
    pub ctl_days: f64,
    /// ATL time constant, days (7).
    pub atl_days: f64,
    /// CTL before the first day.
    pub ctl_seed: f64,
    /// ATL before the first day.
    pub atl_seed: f64,
}

impl Default for PmcParams {
    fn default() -> Self {
        Self {
            ctl_days: 42.0,
            atl_days: 7.0,
            ctl_seed: 0.0,
            atl_seed: 0.0,
        }
    }
}

/// One day of the chart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PmcDay {
    /// The day's load.
    pub load: f64,
    /// Chronic training load (fitness) at the end of the day.
    pub ctl: f64,
    /// Acute training load (fatigue) at the end of the day.
    pub atl: f64,
    /// Form coming into the day: yesterday's CTL − ATL.
    pub tsb: f64,
    /// Ramp rate: `CTL_t − CTL_{t−7}`.
    pub ramp: f64,
    /// Acute:chronic workload ratio, when 28 days of history exist.
    pub acwr: Option<f64>,
}

/// The smoothing coefficient `1 − e^(−1/N)`.
#[must_use]
pub fn ewma_coefficient(days: f64) -> f64 {
    -(-1.0 / days).exp_m1()
}

/// The performance management chart over consecutive daily loads. O(n).
#[must_use]
pub fn pmc(daily: &[f64], params: PmcParams) -> Vec<PmcDay> {
    let kc = ewma_coefficient(params.ctl_days);
    let ka = ewma_coefficient(params.atl_days);
    let mut out: Vec<PmcDay> = Vec::with_capacity(daily.len());
    let (mut ctl, mut atl) = (params.ctl_seed, params.atl_seed);
    let (mut sum7, mut sum28) = (0.0, 0.0);
    for (t, &raw) in daily.iter().enumerate() {
        let load = if raw.is_finite() { raw } else { 0.0 };
        let tsb = ctl - atl;
        ctl += (load - ctl) * kc;
        atl += (load - atl) * ka;
        sum7 += load;
        sum28 += load;
        if let Some(old) = t.checked_sub(7).and_then(|i| out.get(i)) {
            sum7 -= old.load;
        }
        if let Some(old) = t.checked_sub(28).and_then(|i| out.get(i)) {
            sum28 -= old.load;
        }
        let week_ago = t
            .checked_sub(7)
            .and_then(|i| out.get(i))
            .map_or(params.ctl_seed, |d| d.ctl);
        let acwr = (t >= 27 && sum28 > 1e-9).then(|| (sum7 / 7.0) / (sum28 / 28.0));
        out.push(PmcDay {
            load,
            ctl,
            atl,
            tsb,
            ramp: ctl - week_ago,
            acwr,
        });
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::float_cmp,
    clippy::suboptimal_flops,
    reason = "test arithmetic written as on paper"
)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn coefficients_match_the_published_ones() {
        assert!((ewma_coefficient(42.0) - 0.023_528).abs() < 5e-7);
        assert!((ewma_coefficient(7.0) - 0.133_122).abs() < 5e-7);
    }

    #[test]
    fn pmc_by_hand() {
        // Day 0: 100 TSS from zero. CTL = 100 × 0.023 528 = 2.3528; ATL = 13.3122;
        // TSB(day 0) = 0 − 0 = 0. Day 1: rest. CTL = 2.3528 × 0.976 472 = 2.2974;
        // ATL = 13.3122 × 0.866 878 = 11.5401; TSB(day 1) = 2.3528 − 13.3122 = −10.9594.
        let d = pmc(&[100.0, 0.0], PmcParams::default());
        let (kc, ka) = (ewma_coefficient(42.0), ewma_coefficient(7.0));
        assert!((d[0].ctl - 100.0 * kc).abs() < 1e-12);
        assert!((d[0].atl - 100.0 * ka).abs() < 1e-12);
        assert_eq!(d[0].tsb, 0.0);
        assert!((d[1].ctl - 100.0 * kc * (1.0 - kc)).abs() < 1e-12);
        assert!((d[1].tsb - (100.0 * kc - 100.0 * ka)).abs() < 1e-12);
        assert!((d[1].tsb + 10.9594).abs() < 1e-3);
        assert!((d[1].atl - 11.5401).abs() < 1e-3);
    }

    #[test]
    fn ramp_and_acwr_by_hand() {
        // 28 days at 50 then 7 days at 100: on day 34 the last 7 days hold 700, the last
        // 28 days 21 × 50 + 7 × 100 = 1750; ACWR = (700/7) / (1750/28) = 100 / 62.5 = 1.6.
        let mut l = vec![50.0; 28];
        l.extend([100.0; 7]);
        let d = pmc(&l, PmcParams::default());
        assert_eq!(d[26].acwr, None);
        assert!((d[27].acwr.unwrap() - 1.0).abs() < 1e-12);
        assert!((d[34].acwr.unwrap() - 1.6).abs() < 1e-12);
        assert!((d[34].ramp - (d[34].ctl - d[27].ctl)).abs() < 1e-12);
        // First week: ramp against the seed (0).
        assert!((d[3].ramp - d[3].ctl).abs() < 1e-12);
    }

    #[test]
    fn load_priority() {
        let all = ActivityLoads {
            power_tss: Some(80.0),
            pace_tss: Some(70.0),
            hr_tss: Some(60.0),
        };
        assert_eq!(all.chosen(), (80.0, LoadSource::Power));
        let no_power = ActivityLoads {
            power_tss: None,
            ..all
        };
        assert_eq!(no_power.chosen(), (70.0, LoadSource::Pace));
        let hr_only = ActivityLoads {
            hr_tss: Some(60.0),
            ..ActivityLoads::default()
        };
        assert_eq!(hr_only.chosen(), (60.0, LoadSource::HeartRate));
        assert_eq!(ActivityLoads::default().chosen(), (0.0, LoadSource::None));
    }

    #[test]
    fn daily_loads_sum_and_zero_fill() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 1, day).unwrap();
        let v = daily_loads(
            d(1),
            d(5),
            &[(d(2), 50.0), (d(2), 30.0), (d(5), 10.0), (d(9), 1.0)],
        );
        assert_eq!(v, vec![0.0, 80.0, 0.0, 0.0, 10.0]);
    }

    proptest! {
        /// A constant daily load L drives CTL and ATL to L (and TSB to 0).
        #[test]
        fn constant_load_converges(l in 0.0f64..500.0, seed in 0.0f64..300.0) {
            let params = PmcParams { ctl_seed: seed, atl_seed: seed, ..PmcParams::default() };
            let d = pmc(&vec![l; 2000], params);
            let last = d.last().unwrap();
            // |CTL − L| = |seed − L| × 0.976 472^2000 ≈ |seed − L| × 2e-21.
            prop_assert!((last.ctl - l).abs() < 1e-6);
            prop_assert!((last.atl - l).abs() < 1e-6);
            prop_assert!(last.tsb.abs() < 1e-6);
        }
    }
}
