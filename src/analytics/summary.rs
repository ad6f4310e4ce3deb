//! Every per-activity metric at once: [`analyze`] resamples the streams once and applies
//! the thresholds in force on the activity's date (the caller picks them: thresholds are
//! date-effective).

use super::curves::{self, MeanMax};
use super::heart::{self, HrRange, Sex};
use super::load::{ActivityLoads, LoadSource};
use super::pace::{self, BestEffort};
use super::power;
use super::resample;
use super::zones;
use crate::domain::{Sport, Streams, Totals};

/// The athlete's thresholds in force on the activity's date; any may be unknown.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Functional threshold power, watts.
    pub ftp: Option<f64>,
    /// Lactate-threshold heart rate, bpm.
    pub lthr: Option<f64>,
    /// Resting and maximum heart rate.
    pub hr_range: Option<HrRange>,
    /// For the TRIMP weighting.
    pub sex: Sex,
    /// Running threshold speed, m/s.
    pub threshold_speed: Option<f64>,
    /// Threshold swim speed, m/s.
    pub threshold_swim_speed: Option<f64>,
}

/// The metrics of one activity; `None` where data or a threshold is missing.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityMetrics {
    /// Recording (timer) seconds on the 1 Hz grid.
    pub recording_s: usize,
    /// Average power, watts.
    pub avg_power: Option<f64>,
    /// Normalized Power, watts.
    pub np: Option<f64>,
    /// Intensity factor (power).
    pub intensity_factor: Option<f64>,
    /// Variability index.
    pub variability_index: Option<f64>,
    /// Banister TRIMP (never a load by itself).
    pub trimp: Option<f64>,
    /// Normalized graded speed, m/s (running).
    pub ngs: Option<f64>,
    /// Efficiency factor: NP (or NGS for runs) / average HR.
    pub efficiency_factor: Option<f64>,
    /// Aerobic decoupling, fraction.
    pub decoupling: Option<f64>,
    /// The candidate loads.
    pub loads: ActivityLoads,
    /// The load counted for the day.
    pub load: f64,
    /// Where it came from.
    pub load_source: LoadSource,
    /// Mean-max power curve on the ladder (elapsed clock).
    pub power_curve: Vec<MeanMax>,
    /// Running best efforts (empty for other sports).
    pub best_efforts: Vec<BestEffort>,
    /// Seconds in Coggan power zones Z1…Z7 (empty without power or FTP).
    pub power_zones_s: Vec<f64>,
    /// Seconds in heart-rate zones, Friel % LTHR (empty without heart rate or LTHR).
    pub hr_zones_s: Vec<f64>,
    /// Seconds in running pace zones on grade-adjusted speed, Friel % threshold
    /// pace (runs with a threshold pace only).
    pub pace_zones_s: Vec<f64>,
}

#[expect(
    clippy::cast_possible_truncation,
    reason = "watts and seconds fit f32 for storage and display"
)]
impl ActivityMetrics {
    /// The power curve on the full [`DURATION_LADDER`](crate::analytics::curves::DURATION_LADDER)
    /// (`None` past the activity's length); empty without power.
    #[must_use]
    pub fn power_ladder(&self) -> Vec<Option<f32>> {
        if self.power_curve.is_empty() {
            return Vec::new();
        }
        crate::analytics::curves::DURATION_LADDER
            .iter()
            .map(|d| {
                self.power_curve
                    .iter()
                    .find(|p| p.duration_s == *d)
                    .map(|p| p.value as f32)
            })
            .collect()
    }

    /// Best-effort seconds on [`pace::BEST_EFFORT_DISTANCES`] (`None` when not
    /// covered); empty unless a run with distance.
    #[must_use]
    pub fn effort_ladder(&self) -> Vec<Option<f32>> {
        if self.best_efforts.is_empty() {
            return Vec::new();
        }
        pace::BEST_EFFORT_DISTANCES
            .iter()
            .map(|d| {
                self.best_efforts
                    .iter()
                    .find(|e| (e.distance_m - d).abs() < 1e-6)
                    .map(|e| e.time_s as f32)
            })
            .collect()
    }
}

#[expect(
    clippy::cast_precision_loss,
    reason = "sample counts are far below 2^52"
)]
const fn as_f64(n: usize) -> f64 {
    n as f64
}

/// Seconds in each zone (empty when the channel or its threshold is missing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Zones {
    /// Coggan power zones Z1…Z7.
    pub power: Vec<f64>,
    /// Friel heart-rate zones (% LTHR) Z1…Z7.
    pub heart_rate: Vec<f64>,
    /// Friel running pace zones Z1…Z5 on grade-adjusted speed.
    pub pace: Vec<f64>,
}

fn zones_of(pw: Option<&[f64]>, hr: Option<&[f64]>, gas: Option<&[f64]>, th: &Thresholds) -> Zones {
    let power = pw
        .zip(th.ftp.filter(|f| *f > 0.0))
        .map_or_else(Vec::new, |(p, ftp)| {
            let clean: Vec<f64> = p
                .iter()
                .map(|&v| if v.is_finite() { v.max(0.0) } else { 0.0 })
                .collect();
            zones::time_in_zones(&clean, &zones::coggan_power_bounds(ftp), 1.0)
        });
    let heart_rate = hr.zip(th.lthr).map_or_else(Vec::new, |(h, lthr)| {
        zones::time_in_zones(h, &heart::lthr_bounds(lthr, &heart::LTHR_FRACTIONS), 1.0)
    });
    let pace = gas
        .zip(th.threshold_speed.filter(|v| *v > 0.0))
        .map_or_else(Vec::new, |(g, thr)| {
            zones::time_in_zones(g, &zones::run_pace_bounds(thr), 1.0)
        });
    Zones {
        power,
        heart_rate,
        pace,
    }
}

/// Time in power, heart-rate and (runs) pace zones of one activity, on the
/// 1 Hz recording clock — what the activity page shows, without the rest of
/// [`analyze`].
#[must_use]
pub fn time_in_zones(sport: Sport, streams: &Streams, th: &Thresholds) -> Zones {
    let r = resample::recording(streams);
    let gas = (sport == Sport::Running)
        .then(|| {
            let speed = pace::speed_series(r.speed.as_deref(), r.distance.as_deref());
            pace::grade_adjusted_speed(&speed, r.distance.as_deref(), r.altitude.as_deref())
        })
        .filter(|g| !g.is_empty());
    zones_of(
        r.power.as_deref(),
        r.heart_rate.as_deref(),
        gas.as_deref(),
        th,
    )
}

/// All metrics of one activity (see the module docs of each metric for conventions).
#[must_use]
pub fn analyze(
    sport: Sport,
    streams: &Streams,
    totals: &Totals,
    th: &Thresholds,
) -> ActivityMetrics {
    let r = resample::recording(streams);
    let secs = as_f64(r.recording_seconds());
    let pw = r.power.as_deref();
    let hr = r.heart_rate.as_deref();
    let np = pw.and_then(power::normalized_power);
    let avg_power = pw.and_then(power::average_power);
    let ftp = th.ftp.filter(|f| *f > 0.0);
    let power_tss = np.zip(ftp).map(|(np, ftp)| power::power_tss(secs, np, ftp));
    let trimp = hr
        .zip(th.hr_range)
        .map(|(hr, range)| heart::trimp(hr, range, th.sex));
    let hr_tss = hr
        .zip(th.hr_range)
        .zip(th.lthr)
        .and_then(|((hr, range), lthr)| heart::hr_tss(hr, lthr, range, th.sex));

    let running = sport == Sport::Running;
    let gas = if running {
        let speed = pace::speed_series(r.speed.as_deref(), r.distance.as_deref());
        let gas = pace::grade_adjusted_speed(&speed, r.distance.as_deref(), r.altitude.as_deref());
        (!gas.is_empty()).then_some(gas)
    } else {
        None
    };
    let ngs = gas.as_deref().and_then(pace::normalized_graded_speed);
    let pace_tss = match sport {
        Sport::Running => ngs
            .zip(th.threshold_speed.filter(|v| *v > 0.0))
            .map(|(ngs, thr)| pace::rtss(secs, ngs, thr)),
        Sport::Swimming => totals
            .distance_m
            .zip(totals.moving_s.or(totals.timer_s))
            .and_then(|(d, moving)| {
                th.threshold_swim_speed
                    .and_then(|thr| pace::stss(d, moving, thr))
            }),
        _ => None,
    };
    let (efficiency_factor, decoupling) = match (pw, gas.as_deref(), hr) {
        (Some(p), _, Some(h)) if np.is_some() => (
            power::efficiency_factor(p, h),
            power::power_hr_decoupling(p, h),
        ),
        (_, Some(g), Some(h)) => (
            pace::efficiency_factor(g, h),
            pace::speed_hr_decoupling(g, h),
        ),
        _ => (None, None),
    };
    let loads = ActivityLoads {
        power_tss,
        pace_tss,
        hr_tss,
    };
    let (load, load_source) = loads.chosen();
    let power_curve = pw.map_or_else(Vec::new, |p| {
        curves::mean_max(&resample::elapsed_clock(&r.t, p), &curves::DURATION_LADDER)
    });
    let best_efforts = r.distance.as_deref().map_or_else(Vec::new, |d| {
        pace::best_efforts(sport, &r.t, d, &pace::BEST_EFFORT_DISTANCES)
    });
    let Zones {
        power: power_zones_s,
        heart_rate: hr_zones_s,
        pace: pace_zones_s,
    } = zones_of(pw, hr, gas.as_deref(), th);
    ActivityMetrics {
        power_zones_s,
        hr_zones_s,
        pace_zones_s,
        recording_s: r.recording_seconds(),
        avg_power,
        np,
        intensity_factor: np
            .zip(ftp)
            .map(|(np, ftp)| power::intensity_factor(np, ftp)),
        variability_index: np
            .zip(avg_power.filter(|a| *a > 0.0))
            .map(|(np, avg)| power::variability_index(np, avg)),
        trimp,
        ngs,
        efficiency_factor,
        decoupling,
        loads,
        load,
        load_source,
        power_curve,
        best_efforts,
    }
}

#[cfg(test)]
#[allow(
    clippy::float_cmp,
    clippy::suboptimal_flops,
    reason = "test arithmetic written as on paper"
)]
mod tests {
    use super::*;
    use crate::domain::Segment;

    const TH: Thresholds = Thresholds {
        ftp: Some(250.0),
        lthr: Some(165.0),
        hr_range: Some(HrRange {
            rest: 50.0,
            max: 190.0,
        }),
        sex: Sex::Male,
        threshold_speed: Some(4.0),
        threshold_swim_speed: Some(1.2),
    };

    #[test]
    fn pauses_are_removed_not_zero_filled() {
        // 30 min at 250 W, a 30 min stop (timer stopped, no samples), 30 min at 250 W.
        // Recording clock: 3600 s at 250 W → NP 250, TSS = 1 h × 1² × 100 = 100.
        // Zero-filling the stop would give NP = 250 × (2/3)^(1/4) ≈ 226 and TSS 123.
        let t: Vec<f64> = (0..1800).chain(3600..5400).map(f64::from).collect();
        let streams = Streams {
            power: Some(vec![250.0; t.len()]),
            heart_rate: Some(vec![150.0; t.len()]),
            segments: vec![
                Segment {
                    start_t: 0.0,
                    end_t: 1799.0,
                },
                Segment {
                    start_t: 3600.0,
                    end_t: 5399.0,
                },
            ],
            t,
            ..Streams::default()
        };
        let m = analyze(Sport::Cycling, &streams, &Totals::default(), &TH);
        assert_eq!(m.recording_s, 3600);
        assert!((m.np.unwrap() - 250.0).abs() < 1e-9);
        assert_eq!(m.load_source, LoadSource::Power);
        assert!((m.load - 100.0).abs() < 1e-9);
        assert!(m.loads.hr_tss.is_some());
        // The curve never bridges the stop: the best 60 min is below 250 W.
        let hour = m.power_curve.iter().find(|p| p.duration_s == 3600).unwrap();
        assert!((hour.value - 125.0).abs() < 1e-9);
        assert!(m.best_efforts.is_empty());
        // 250 W at FTP 250 = 100 % → Z4 (90–105 %), 3600 s; 150 bpm at LTHR 165 = 91 % → Z3.
        assert_eq!(m.power_zones_s, vec![0.0, 0.0, 0.0, 3600.0, 0.0, 0.0, 0.0]);
        assert_eq!(m.hr_zones_s, vec![0.0, 0.0, 3600.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_run_without_power_uses_rtss_and_a_swim_uses_stss() {
        // 20 min at 4 m/s on the flat = threshold: rTSS = 1/3 h × 1 × 100 = 33.33.
        let t: Vec<f64> = (0..1200).map(f64::from).collect();
        let streams = Streams {
            distance: Some(t.iter().map(|s| 4.0 * s).collect()),
            speed: Some(vec![4.0; t.len()]),
            heart_rate: Some(vec![160.0; t.len()]),
            segments: vec![Segment {
                start_t: 0.0,
                end_t: 1199.0,
            }],
            t,
            ..Streams::default()
        };
        let m = analyze(Sport::Running, &streams, &Totals::default(), &TH);
        assert_eq!(m.load_source, LoadSource::Pace);
        assert!((m.load - 100.0 / 3.0).abs() < 1e-9, "{}", m.load);
        assert_eq!(m.best_efforts.len(), 3); // 400 m, 1 km, 1 mile of 4.8 km
        assert!((m.best_efforts[1].time_s - 250.0).abs() < 1e-9);
        // Same streams as a walk: hrTSS, no best efforts.
        let w = analyze(Sport::Walking, &streams, &Totals::default(), &TH);
        assert_eq!(w.load_source, LoadSource::HeartRate);
        assert!(w.best_efforts.is_empty());
        // Swim: 1800 m in 30 min moving, threshold 1.2 m/s: IF = 1/1.2, sTSS = 0.5 × 0.5787 × 100.
        let totals = Totals {
            distance_m: Some(1800.0),
            moving_s: Some(1800.0),
            ..Totals::default()
        };
        let s = analyze(Sport::Swimming, &Streams::default(), &totals, &TH);
        assert_eq!(s.load_source, LoadSource::Pace);
        assert!((s.load - 0.5 * (1.0f64 / 1.2).powi(3) * 100.0).abs() < 1e-9);
    }
}
