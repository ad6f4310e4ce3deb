//! Synthetic athletes and activities, deterministic from a seed: for demos, tests and load
//! tests. Pure: no I/O.
//!
//! - [`AthleteProfile`]: the hidden physiology that drives the data (FTP, LTHR, max/rest HR,
//!   threshold running speed, swim speed, weight) and whether the athlete has *told* Pierre
//!   their thresholds ([`AthleteProfile::thresholds_known`]; the "no thresholds" demo).
//! - [`plan`]: the sessions of a date range for a [`Pattern`]: a periodised season (base,
//!   build, peak, taper blocks, rest days, a two-week injury gap), or the coach-demo
//!   patterns overreaching, detraining, back from injury, no thresholds.
//! - [`activity`]: one planned session as a full [`ParsedActivity`] with 1 Hz streams:
//!   rides (power with intervals, HR lagging power, cadence, speed from power over an
//!   elevation profile, a traffic-light stop as a pause), runs (pace, HR, cadence,
//!   elevation), pool swims (no GPS); indoor rides have no positions.
//! - [`generate_year`]: a periodised year of full activities.
//! - [`bulk_summaries`]: millions of [`ActivitySummary`] rows (no streams) for load tests.
//!
//! Determinism: every function takes a seed and uses [`ChaCha8Rng`], whose output is
//! fixed across platforms and `rand` versions; the same inputs give the same values.

#![expect(
    clippy::suboptimal_flops,
    reason = "physics written as in the textbook; synthetic data needs no extra precision"
)]

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::domain::{
    FileFormat, Lap, ParsedActivity, Sample, Segment, Sport, Streams, SubSport, Totals,
};

/// The physiology behind an athlete's data.
#[derive(Debug, Clone, PartialEq)]
pub struct AthleteProfile {
    /// A label for demos.
    pub name: String,
    /// Functional threshold power, watts.
    pub ftp_w: f64,
    /// Lactate threshold heart rate.
    pub lthr: f64,
    /// Maximum heart rate.
    pub max_hr: f64,
    /// Resting heart rate.
    pub rest_hr: f64,
    /// Threshold running speed, m/s (4.0 m/s = 4:10 min/km).
    pub threshold_speed_mps: f64,
    /// Threshold swim speed, m/s.
    pub swim_speed_mps: f64,
    /// Body mass, kg.
    pub weight_kg: f64,
    /// Share of sessions that are rides, runs and swims (need not sum to 1).
    pub sport_mix: [f64; 3],
    /// Whether the athlete has entered thresholds in Pierre (false: "no thresholds").
    pub thresholds_known: bool,
    /// Whether rides carry power (a power meter or smart trainer).
    pub has_power_meter: bool,
}

impl AthleteProfile {
    /// A trained amateur cyclist with a power meter (FTP 280 W, LTHR 168).
    #[must_use]
    pub fn cyclist() -> Self {
        Self {
            name: "Cyclist".to_owned(),
            ftp_w: 280.0,
            lthr: 168.0,
            max_hr: 188.0,
            rest_hr: 48.0,
            threshold_speed_mps: 3.6,
            swim_speed_mps: 1.1,
            weight_kg: 72.0,
            sport_mix: [0.85, 0.15, 0.0],
            thresholds_known: true,
            has_power_meter: true,
        }
    }

    /// A runner (threshold 4:10 min/km, LTHR 172) who rides and swims a little.
    #[must_use]
    pub fn runner() -> Self {
        Self {
            name: "Runner".to_owned(),
            ftp_w: 220.0,
            lthr: 172.0,
            max_hr: 192.0,
            rest_hr: 44.0,
            threshold_speed_mps: 4.0,
            swim_speed_mps: 1.0,
            weight_kg: 64.0,
            sport_mix: [0.15, 0.8, 0.05],
            thresholds_known: true,
            has_power_meter: false,
        }
    }

    /// A triathlete: rides, runs and swims.
    #[must_use]
    pub fn triathlete() -> Self {
        Self {
            name: "Triathlete".to_owned(),
            ftp_w: 250.0,
            lthr: 165.0,
            max_hr: 185.0,
            rest_hr: 50.0,
            threshold_speed_mps: 3.7,
            swim_speed_mps: 1.3,
            weight_kg: 68.0,
            sport_mix: [0.45, 0.35, 0.2],
            thresholds_known: true,
            has_power_meter: true,
        }
    }

    /// A random plausible profile (for bulk data).
    #[must_use]
    pub fn random(rng: &mut impl Rng) -> Self {
        let kind = rng.random_range(0..3);
        let mut p = match kind {
            0 => Self::cyclist(),
            1 => Self::runner(),
            _ => Self::triathlete(),
        };
        let scale = rng.random_range(0.75..1.25);
        p.ftp_w *= scale;
        p.threshold_speed_mps *= rng.random_range(0.8..1.15);
        p.lthr += rng.random_range(-10.0..10.0);
        p.max_hr = p.lthr + rng.random_range(15.0..25.0);
        p.rest_hr = rng.random_range(40.0..62.0);
        p.has_power_meter = rng.random_bool(0.7);
        p.thresholds_known = rng.random_bool(0.8);
        p
    }
}

/// How training evolves over the date range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    /// Repeating base (4 weeks), build (4), peak (2), taper (1), recovery (1) blocks with
    /// a rest day a week and a two-week injury gap at a seeded place.
    Periodized,
    /// Load rising by about 8 % a week with no recovery weeks and fewer rest days: ATL far
    /// above CTL, falling form.
    Overreaching,
    /// Normal training for the first third, then only occasional easy sessions.
    Detraining,
    /// Nothing for three weeks, then a ramp from short easy sessions back to normal load.
    BackFromInjury,
    /// Periodised, but the athlete never entered thresholds (see
    /// [`AthleteProfile::thresholds_known`]), so analytics must fall back and say so.
    NoThresholds,
}

/// The type of a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workout {
    /// Very easy, short.
    Recovery,
    /// Steady aerobic.
    Endurance,
    /// Long steady session (weekend).
    Long,
    /// Sustained efforts near threshold (2 × 20 min).
    Tempo,
    /// Hard repeats above threshold (5 × 5 min).
    Intervals,
}

/// One planned session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedSession {
    /// Start, UTC.
    pub start: DateTime<Utc>,
    /// Sport.
    pub sport: Sport,
    /// Indoors (trainer / treadmill / pool)?
    pub indoor: bool,
    /// Session type.
    pub workout: Workout,
    /// Planned moving duration, seconds.
    pub duration_s: f64,
    /// A per-session seed for its streams.
    pub seed: u64,
}

/// One activity without streams, for bulk loads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivitySummary {
    /// Which synthetic athlete (bulk mode numbers them from 0).
    pub athlete: u32,
    /// Start, UTC.
    pub start: DateTime<Utc>,
    /// Sport.
    pub sport: Sport,
    /// Recording (timer) duration, seconds.
    pub duration_s: f64,
    /// Metres.
    pub distance_m: f64,
    /// A TSS-like load: hours × IF² × 100.
    pub load: f64,
    /// Average heart rate.
    pub avg_hr: f64,
    /// Average power, when the athlete has a power meter and rode.
    pub avg_power_w: Option<f64>,
}

fn day_start(date: NaiveDate, rng: &mut impl Rng) -> DateTime<Utc> {
    let minutes = rng.random_range(6 * 60..19 * 60);
    date.and_hms_opt(0, 0, 0)
        .map_or(DateTime::<Utc>::UNIX_EPOCH, |d| d.and_utc())
        + TimeDelta::minutes(minutes)
}

/// Block multiplier of volume and whether the block is intense, for day `i` of a
/// periodised season.
fn periodized_block(i: u32) -> (f64, bool) {
    match (i / 7) % 12 {
        0..=3 => (0.85 + 0.05 * f64::from((i / 7) % 4), false), // base, rising
        4..=7 => (1.0 + 0.05 * f64::from((i / 7) % 4), true),   // build
        8 | 9 => (1.1, true),                                   // peak
        10 => (0.6, true),                                      // taper
        _ => (0.5, false),                                      // recovery week
    }
}

/// Sessions over `days` days from `first_day` for this profile and pattern.
#[must_use]
pub fn plan(
    profile: &AthleteProfile,
    pattern: Pattern,
    first_day: NaiveDate,
    days: u32,
    seed: u64,
) -> Vec<PlannedSession> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let injury_start = if days > 60 {
        rng.random_range(days / 3..days - 20)
    } else {
        u32::MAX
    };
    let mut out = Vec::with_capacity(days as usize);
    for i in 0..days {
        let date = first_day + TimeDelta::days(i64::from(i));
        let frac = f64::from(i) / f64::from(days.max(1));
        let (volume, intense) = match pattern {
            Pattern::Periodized | Pattern::NoThresholds => {
                if (injury_start..injury_start.saturating_add(14)).contains(&i) {
                    continue;
                }
                periodized_block(i)
            }
            Pattern::Overreaching => (0.8 * 1.08_f64.powf(f64::from(i) / 7.0).min(3.0), true),
            Pattern::Detraining => {
                if frac < 1.0 / 3.0 {
                    periodized_block(i)
                } else if rng.random_bool(0.15) {
                    (0.4, false)
                } else {
                    continue;
                }
            }
            Pattern::BackFromInjury => {
                if i < 21 {
                    continue;
                }
                ((0.3 + f64::from(i - 21) / 60.0).min(1.0), i > 63)
            }
        };
        let weekday = date.weekday();
        let rest_day = match pattern {
            Pattern::Overreaching => weekday == Weekday::Mon && frac < 0.5,
            _ => weekday == Weekday::Mon || (weekday == Weekday::Fri && rng.random_bool(0.5)),
        };
        if rest_day || rng.random_bool(0.07) {
            continue;
        }
        let workout = match weekday {
            Weekday::Tue if intense => Workout::Intervals,
            Weekday::Thu if intense => Workout::Tempo,
            Weekday::Sat => Workout::Long,
            Weekday::Fri => Workout::Recovery,
            _ => Workout::Endurance,
        };
        let sport = pick_sport(profile, &mut rng);
        let base_min = match (sport, workout) {
            (Sport::Swimming, _) => 45.0,
            (_, Workout::Recovery) => 40.0,
            (_, Workout::Long) => {
                if sport == Sport::Cycling {
                    180.0
                } else {
                    90.0
                }
            }
            (Sport::Cycling, _) => 75.0,
            _ => 50.0,
        };
        let duration_s = (base_min * volume * rng.random_range(0.85..1.15) * 60.0)
            .round()
            .max(600.0);
        let indoor = match sport {
            Sport::Swimming => true,
            Sport::Cycling => matches!(date.month(), 11 | 12 | 1 | 2) && rng.random_bool(0.6),
            _ => rng.random_bool(0.05),
        };
        out.push(PlannedSession {
            start: day_start(date, &mut rng),
            sport,
            indoor,
            workout,
            duration_s,
            seed: rng.random(),
        });
    }
    out
}

fn pick_sport(profile: &AthleteProfile, rng: &mut impl Rng) -> Sport {
    let total: f64 = profile.sport_mix.iter().sum();
    let mut x = rng.random_range(0.0..total.max(1e-9));
    for (share, sport) in
        profile
            .sport_mix
            .iter()
            .zip([Sport::Cycling, Sport::Running, Sport::Swimming])
    {
        if x < *share {
            return sport;
        }
        x -= share;
    }
    Sport::Cycling
}

/// Intensity factor of a workout (fraction of threshold).
const fn intensity(w: Workout) -> f64 {
    match w {
        Workout::Recovery => 0.55,
        Workout::Endurance => 0.68,
        Workout::Long => 0.66,
        Workout::Tempo => 0.82,
        Workout::Intervals => 0.88,
    }
}

/// Target intensity (fraction of threshold) at second `s` of a workout lasting `total`.
fn target_at(w: Workout, s: f64, total: f64) -> f64 {
    let warm = 600.0_f64.min(total * 0.2);
    if s < warm {
        return 0.5 + 0.15 * s / warm;
    }
    if s > total - 300.0 {
        return 0.5;
    }
    let m = s - warm;
    match w {
        Workout::Recovery => 0.52,
        Workout::Endurance | Workout::Long => 0.70,
        Workout::Tempo => {
            if (m % 1800.0) < 1200.0 && m < 3600.0 {
                0.88
            } else {
                0.62
            }
        }
        Workout::Intervals => {
            if (m % 480.0) < 300.0 && m < 2400.0 {
                1.1
            } else if m < 2400.0 {
                0.5
            } else {
                0.68
            }
        }
    }
}

fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = rng.random_range(f64::EPSILON..1.0);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Speed (m/s) a rider holds at `power` W on `grade` (rise/run), solving
/// P = (Crr·m·g + m·g·grade)·v + ½·ρ·CdA·v³ by Newton's method.
#[expect(clippy::many_single_char_names, reason = "the textbook symbols")]
fn speed_from_power(power: f64, grade: f64, mass: f64) -> f64 {
    let (crr, cda, rho, g) = (0.004, 0.32, 1.2, 9.81);
    let a = mass * g * (crr + grade);
    let b = 0.5 * rho * cda;
    let mut v: f64 = 8.0;
    for _ in 0..12 {
        let f = (b * v).mul_add(v * v, a * v) - power;
        let df = (3.0 * b).mul_add(v * v, a);
        if df.abs() < 1e-9 {
            break;
        }
        v = (v - f / df).clamp(0.5, 25.0);
    }
    v
}

/// One planned session as a full activity with 1 Hz streams.
#[must_use]
#[expect(
    clippy::too_many_lines,
    reason = "one simulation loop, easier to follow in one piece"
)]
pub fn activity(profile: &AthleteProfile, session: &PlannedSession) -> ParsedActivity {
    let mut rng = ChaCha8Rng::seed_from_u64(session.seed);
    let total = session.duration_s;
    let gps = !session.indoor;
    // Elevation: a sum of three sines over distance, seeded.
    let waves: Vec<(f64, f64, f64)> = (0..3)
        .map(|k| {
            (
                rng.random_range(5.0..40.0) / f64::from(k + 1),
                rng.random_range(3000.0..12000.0),
                rng.random_range(0.0..6.3),
            )
        })
        .collect();
    let base_alt = rng.random_range(50.0..900.0);
    let elevation = |d: f64| {
        base_alt
            + waves
                .iter()
                .map(|(amp, len, ph)| amp * (d / len * std::f64::consts::TAU + ph).sin())
                .sum::<f64>()
    };
    // A traffic-light or drink stop in outdoor sessions over an hour: the timer stops.
    let pause = (gps && total > 3600.0 && session.sport != Sport::Swimming).then(|| {
        (
            rng.random_range(0.3..0.7) * total,
            rng.random_range(60.0_f64..240.0),
        )
    });

    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "a capacity hint from a positive duration"
    )]
    let mut samples = Vec::with_capacity(total.max(0.0) as usize + 300);
    let (mut lat, mut lon) = (rng.random_range(45.5..46.5), rng.random_range(13.8..15.2));
    let mut heading: f64 = rng.random_range(0.0..std::f64::consts::TAU);
    let (mut dist, mut hr, mut noise) = (0.0_f64, profile.rest_hr + 25.0, 0.0_f64);
    let mut coasting = 0u32;
    let mut t = 0.0;
    let mut moving = 0.0;
    let mut segments = Vec::new();
    let mut seg_start = 0.0;
    #[expect(clippy::while_float, reason = "whole seconds, exact in f64")]
    while moving <= total {
        if let Some((at, len)) = pause
            && (moving - at).abs() < 0.5
        {
            segments.push(Segment {
                start_t: seg_start,
                end_t: t - 1.0,
            });
            t += len.round();
            seg_start = t;
            hr = hr.mul_add(0.7, 0.3 * (profile.rest_hr + 30.0));
        }
        let target = target_at(session.workout, moving, total);
        noise = noise.mul_add(0.9, 0.04 * normal(&mut rng));
        let grade = (elevation(dist + 10.0) - elevation(dist)) / 10.0;
        let (speed, power, cadence, effort) = match session.sport {
            Sport::Cycling => {
                if coasting == 0 && gps && rng.random_bool(0.004) {
                    coasting = rng.random_range(3..15);
                }
                let p = if coasting > 0 {
                    coasting -= 1;
                    0.0
                } else {
                    (profile.ftp_w * (target + noise) * (1.0 + grade * 3.0).clamp(0.6, 1.4))
                        .max(0.0)
                };
                let v = if session.indoor {
                    speed_from_power(p, 0.0, profile.weight_kg + 9.0)
                } else {
                    speed_from_power(p, grade, profile.weight_kg + 9.0)
                };
                let cad = if p > 0.0 {
                    88.0 + 6.0 * normal(&mut rng) + 10.0 * (target - 0.7)
                } else {
                    0.0
                };
                (v, Some(p.round()), cad.max(0.0).round(), p / profile.ftp_w)
            }
            Sport::Running => {
                let v = (profile.threshold_speed_mps
                    * (target + 0.15 + noise * 0.5)
                    * (1.0 - grade * 4.0).clamp(0.5, 1.3))
                .max(0.8);
                (
                    v,
                    None,
                    (84.0 + 4.0 * (v - 3.0) + normal(&mut rng)).round(),
                    v / profile.threshold_speed_mps,
                )
            }
            _ => {
                let v = profile.swim_speed_mps * (0.85 + noise * 0.3);
                (v.max(0.3), None, 0.0, 0.85 + noise)
            }
        };
        // Heart rate follows effort with a lag (~30 s up, ~45 s down) and drifts 3 %/h.
        let target_hr = (profile.rest_hr
            + (profile.lthr - profile.rest_hr) * (0.35 + 0.65 * effort.clamp(0.0, 1.25)))
            * (1.0 + 0.03 * moving / 3600.0);
        let tau = if target_hr > hr { 30.0 } else { 45.0 };
        hr += (target_hr.min(profile.max_hr) - hr) / tau;
        dist += speed;
        heading += 0.02 * normal(&mut rng);
        if gps {
            lat += speed * heading.cos() / 111_195.0;
            lon += speed * heading.sin() / (111_195.0 * lat.to_radians().cos());
        }
        samples.push(Sample {
            t,
            position: gps.then_some((lat, lon)),
            altitude: (session.sport != Sport::Swimming)
                .then(|| (elevation(dist) * 10.0).round() / 10.0),
            distance: Some((dist * 100.0).round() / 100.0),
            speed: Some((speed * 1000.0).round() / 1000.0),
            heart_rate: Some(hr.round()),
            cadence: (session.sport != Sport::Swimming).then_some(cadence),
            power: power.filter(|_| profile.has_power_meter || session.indoor),
            temperature: None,
        });
        t += 1.0;
        moving += 1.0;
    }
    segments.push(Segment {
        start_t: seg_start,
        end_t: t - 1.0,
    });
    let streams = Streams::from_samples(&samples, segments);
    let totals = Totals::from_streams(&streams);
    let sub_sport = match (session.sport, session.indoor) {
        (Sport::Swimming, _) => SubSport::LapSwimming,
        (Sport::Cycling, true) => SubSport::Indoor,
        (Sport::Running, true) => SubSport::Treadmill,
        _ => SubSport::Generic,
    };
    let name = format!(
        "{} {}",
        match session.workout {
            Workout::Recovery => "Recovery",
            Workout::Endurance => "Endurance",
            Workout::Long => "Long",
            Workout::Tempo => "Tempo",
            Workout::Intervals => "Intervals",
        },
        session.sport.as_str()
    );
    ParsedActivity {
        format: FileFormat::Fit,
        sport: session.sport,
        sub_sport,
        name: Some(name),
        start: session.start,
        utc_offset_s: Some(3600),
        device: Some("Pierre synthetic".to_owned()),
        totals,
        laps: vec![Lap {
            start_t: 0.0,
            totals,
        }],
        streams,
        warnings: Vec::new(),
    }
}

/// A periodised year (365 days from 1 January of the seed's year 2025) of full activities.
#[must_use]
pub fn generate_year(profile: &AthleteProfile, seed: u64) -> Vec<ParsedActivity> {
    let first = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    plan(profile, Pattern::Periodized, first, 365, seed)
        .iter()
        .map(|s| activity(profile, s))
        .collect()
}

/// The summary of a planned session, computed without streams (fast).
#[must_use]
pub fn summarize(athlete: u32, profile: &AthleteProfile, s: &PlannedSession) -> ActivitySummary {
    let intensity = intensity(s.workout);
    let hours = s.duration_s / 3600.0;
    let speed = match s.sport {
        Sport::Cycling => speed_from_power(profile.ftp_w * intensity, 0.0, profile.weight_kg + 9.0),
        Sport::Running => profile.threshold_speed_mps * (intensity + 0.15),
        _ => profile.swim_speed_mps * 0.85,
    };
    ActivitySummary {
        athlete,
        start: s.start,
        sport: s.sport,
        duration_s: s.duration_s,
        distance_m: (speed * s.duration_s).round(),
        load: (hours * intensity * intensity * 100.0 * 10.0).round() / 10.0,
        avg_hr: (profile.rest_hr + (profile.lthr - profile.rest_hr) * (0.35 + 0.65 * intensity))
            .round(),
        avg_power_w: (s.sport == Sport::Cycling && profile.has_power_meter)
            .then(|| (profile.ftp_w * intensity * 0.95).round()),
    }
}

/// Bulk mode: `athletes` random athletes × `days` days of periodised training from
/// `first_day`, as summaries only. Lazy: memory stays at one athlete's plan.
pub fn bulk_summaries(
    athletes: u32,
    first_day: NaiveDate,
    days: u32,
    seed: u64,
) -> impl Iterator<Item = ActivitySummary> {
    (0..athletes).flat_map(move |a| athlete_summaries(a, first_day, days, seed))
}

/// Bulk athlete `athlete` of `seed`: the same profile and pattern as [`bulk_summaries`] uses.
///
/// The profile says "no thresholds" when the pattern is [`Pattern::NoThresholds`].
#[must_use]
pub fn bulk_athlete(athlete: u32, seed: u64) -> (AthleteProfile, Pattern) {
    let (profile, pattern, _) = bulk_athlete_plan_seed(athlete, seed);
    (profile, pattern)
}

fn bulk_athlete_plan_seed(athlete: u32, seed: u64) -> (AthleteProfile, Pattern, u64) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (u64::from(athlete) << 32 | 0x5EED));
    let mut profile = AthleteProfile::random(&mut rng);
    let pattern = [
        Pattern::Periodized,
        Pattern::Overreaching,
        Pattern::Detraining,
        Pattern::BackFromInjury,
        Pattern::NoThresholds,
    ][rng.random_range(0..5)];
    profile.thresholds_known &= pattern != Pattern::NoThresholds;
    (profile, pattern, rng.random())
}

/// The summaries of one bulk athlete (what [`bulk_summaries`] yields for `athlete`).
pub fn athlete_summaries(
    athlete: u32,
    first_day: NaiveDate,
    days: u32,
    seed: u64,
) -> impl Iterator<Item = ActivitySummary> {
    let (profile, pattern, plan_seed) = bulk_athlete_plan_seed(athlete, seed);
    plan(&profile, pattern, first_day, days, plan_seed)
        .into_iter()
        .map(move |s| summarize(athlete, &profile, &s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    #[expect(clippy::many_single_char_names, reason = "short names in a short test")]
    fn same_seed_same_activities() {
        let p = AthleteProfile::cyclist();
        let a = plan(&p, Pattern::Periodized, day(2025, 3, 1), 30, 7);
        let b = plan(&p, Pattern::Periodized, day(2025, 3, 1), 30, 7);
        assert_eq!(a, b);
        let x = activity(&p, &a[0]);
        let y = activity(&p, &b[0]);
        assert_eq!(x.streams.encode(), y.streams.encode());
        assert_ne!(plan(&p, Pattern::Periodized, day(2025, 3, 1), 30, 8), a);
    }

    #[test]
    fn rides_are_realistic() {
        let p = AthleteProfile::cyclist();
        let s = PlannedSession {
            start: day(2025, 6, 1).and_hms_opt(8, 0, 0).unwrap().and_utc(),
            sport: Sport::Cycling,
            indoor: false,
            workout: Workout::Intervals,
            duration_s: 5400.0,
            seed: 3,
        };
        let a = activity(&p, &s);
        assert!(a.streams.validate().is_ok());
        assert!(a.streams.has_gps());
        assert_eq!(a.streams.segments.len(), 2, "one stop");
        let t = a.totals;
        let timer = t.timer_s.unwrap();
        assert!((timer - 5400.0).abs() < 2.0, "{timer}");
        let avg_p = t.avg_power_w.unwrap();
        assert!((150.0..260.0).contains(&avg_p), "{avg_p}");
        let hr = t.avg_hr.unwrap();
        assert!((110.0..170.0).contains(&hr), "{hr}");
        let speed = t.avg_speed_mps.unwrap();
        assert!((6.0..12.0).contains(&speed), "{speed}");
        assert!(t.max_hr.unwrap() <= p.max_hr);
    }

    #[test]
    fn runs_swims_and_indoor_rides() {
        let p = AthleteProfile::triathlete();
        let mk = |sport, indoor| PlannedSession {
            start: day(2025, 1, 5).and_hms_opt(7, 0, 0).unwrap().and_utc(),
            sport,
            indoor,
            workout: Workout::Endurance,
            duration_s: 1800.0,
            seed: 11,
        };
        let run = activity(&p, &mk(Sport::Running, false));
        let pace = run.totals.avg_speed_mps.unwrap();
        assert!((2.3..4.0).contains(&pace), "{pace}");
        assert!(run.streams.power.is_none());
        let swim = activity(&p, &mk(Sport::Swimming, true));
        assert!(!swim.streams.has_gps());
        assert_eq!(swim.sub_sport, SubSport::LapSwimming);
        let indoor = activity(&p, &mk(Sport::Cycling, true));
        assert!(!indoor.streams.has_gps() && indoor.streams.power.is_some());
    }

    #[test]
    fn patterns_shape_the_load() {
        let p = AthleteProfile::runner();
        let first = day(2025, 1, 6);
        let load = |pattern, from: u32, to: u32| -> f64 {
            plan(&p, pattern, first, 140, 1)
                .iter()
                .filter(|s| {
                    let d = u32::try_from((s.start.date_naive() - first).num_days()).unwrap();
                    (from..to).contains(&d)
                })
                .map(|s| summarize(0, &p, s).load)
                .sum()
        };
        assert!(load(Pattern::Overreaching, 112, 140) > 1.5 * load(Pattern::Overreaching, 0, 28));
        assert!(load(Pattern::Detraining, 112, 140) < 0.5 * load(Pattern::Detraining, 0, 28));
        assert!(load(Pattern::BackFromInjury, 0, 21) < 1e-9);
        assert!(load(Pattern::BackFromInjury, 112, 140) > load(Pattern::BackFromInjury, 21, 49));
        // The periodised season has a two-week gap.
        let sessions = plan(&p, Pattern::Periodized, first, 140, 1);
        let longest_gap = sessions
            .windows(2)
            .map(|w| (w[1].start - w[0].start).num_days())
            .max()
            .unwrap();
        assert!(longest_gap >= 14, "{longest_gap}");
    }

    #[test]
    fn an_hour_of_1hz_streams_stores_in_under_half_its_raw_size() {
        let s = PlannedSession {
            start: day(2025, 6, 1).and_hms_opt(8, 0, 0).unwrap().and_utc(),
            sport: Sport::Cycling,
            indoor: false,
            workout: Workout::Intervals,
            duration_s: 3600.0,
            seed: 1,
        };
        let a = activity(&AthleteProfile::cyclist(), &s);
        let bytes = a.streams.encode().len();
        // t, lat, lon, distance as f64 and five f32 channels: 52 bytes a sample raw. The
        // full-precision positions dominate what remains (about 21 bytes a sample).
        assert!(bytes < a.streams.len() * 24, "{bytes}");
    }

    #[test]
    fn bulk_mode_is_lazy_and_deterministic() {
        let a: Vec<_> = bulk_summaries(20, day(2025, 1, 1), 365, 42)
            .take(2000)
            .collect();
        let b: Vec<_> = bulk_summaries(20, day(2025, 1, 1), 365, 42)
            .take(2000)
            .collect();
        assert_eq!(a.len(), 2000);
        assert_eq!(a, b);
        assert!(
            a.iter()
                .all(|s| s.duration_s >= 600.0 && s.load > 0.0 && s.avg_hr > 80.0)
        );
    }

    #[test]
    fn one_bulk_athlete_is_its_share_of_the_bulk() {
        let first = day(2025, 1, 1);
        let third: Vec<_> = athlete_summaries(2, first, 200, 9).collect();
        let from_all: Vec<_> = bulk_summaries(4, first, 200, 9)
            .filter(|s| s.athlete == 2)
            .collect();
        assert!(!third.is_empty());
        assert_eq!(third, from_all);
        assert_eq!(bulk_athlete(2, 9), bulk_athlete(2, 9));
    }
}
