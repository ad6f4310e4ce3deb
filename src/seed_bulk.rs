//! Bulk data for load tests: `pierre seed-bulk`.
//!
//! Stores `athletes` synthetic athletes (`athlete{i}@bulk.pierre.local`, i
//! from 0) with `days` days of activities each, ending yesterday: the
//! synthetic generator's bulk mode ([`synthetic::athlete_summaries`]), stored
//! without streams but with the derived columns dashboards read (load and
//! its source, IF, NP, a power curve for rides with power, best efforts for
//! runs), plus each athlete's thresholds and `athlete_summaries` row.
//!
//! Fast: one thread generates batches of athletes as `COPY` text while the
//! previous batch loads; each batch is one transaction (users, roles and
//! thresholds with multi-row `UNNEST` inserts, activities with one
//! `COPY … FROM STDIN`, one summary row per athlete). An athlete's rows are
//! sent together, so they share heap pages (CALIBRATION.md fix 1).
//!
//! Idempotent and resumable: athletes whose email exists are skipped.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::analytics::curves::DURATION_LADDER;
use crate::analytics::pace::BEST_EFFORT_DISTANCES;
use crate::auth::password::PasswordHasher;
use crate::db::summaries::{self, Contribution, Summary};
use crate::domain::Sport;
use crate::synthetic::{self, ActivitySummary, AthleteProfile};

/// The email domain of bulk athletes.
pub const BULK_DOMAIN: &str = "bulk.pierre.local";
/// The default password of every bulk athlete (local load-test data).
pub const BULK_PASSWORD: &str = "pierre bulk athlete";
/// Athletes generated and stored per transaction.
const BATCH_ATHLETES: u32 = 10;
/// The UTC offset recorded on bulk activities (as the synthetic files carry).
const UTC_OFFSET_S: i64 = 3600;

/// The sign-in email of bulk athlete `i`.
#[must_use]
pub fn bulk_email(i: u32) -> String {
    format!("athlete{i}@{BULK_DOMAIN}")
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct BulkOptions {
    pub athletes: u32,
    pub days: u32,
    pub seed: u64,
    pub password: String,
    /// Activities cover `today - days` to `today - 1`.
    pub today: NaiveDate,
}

impl BulkOptions {
    /// The first day of the generated range.
    #[must_use]
    pub fn first_day(&self) -> NaiveDate {
        self.today - TimeDelta::days(i64::from(self.days))
    }
}

/// Progress after each stored batch.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    /// Athletes stored so far in this run.
    pub athletes: u32,
    /// Athletes to store in this run.
    pub of: u32,
    /// Activities stored so far in this run.
    pub activities: u64,
    pub elapsed: Duration,
}

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkSeeded {
    /// Every requested athlete exists already.
    AlreadyThere { athletes: u32 },
    /// `athletes` athletes (with `activities` activities) stored, `skipped` existed.
    Created {
        athletes: u32,
        skipped: u32,
        activities: u64,
        elapsed: Duration,
    },
}

/// One generated athlete.
#[derive(Debug)]
struct Athlete {
    id: Uuid,
    email: String,
    name: String,
    profile: AthleteProfile,
    summary: Option<Summary>,
}

/// One generated batch: its athletes and their activities as `COPY` text.
#[derive(Debug)]
struct Batch {
    athletes: Vec<Athlete>,
    copy: String,
    activities: u64,
}

const COPY_ACTIVITIES: &str = "COPY activities (id, user_id, source, sport, sub_sport, name, start_time, \
     utc_offset_s, local_day, elapsed_s, timer_s, moving_s, distance_m, avg_hr, max_hr, avg_speed_mps, \
     avg_power_w, np_w, intensity_factor, load, load_source, power_curve, best_efforts, device) \
     FROM STDIN";

/// Store the bulk athletes that do not exist yet.
///
/// # Errors
/// Database or hashing errors; batches stored before the error stay.
pub async fn seed_bulk(
    pool: &PgPool,
    options: &BulkOptions,
    mut progress: impl FnMut(&Progress),
) -> anyhow::Result<BulkSeeded> {
    let started = Instant::now();
    let existing = existing_athletes(&mut *pool.acquire().await?).await?;
    let todo: Vec<u32> = (0..options.athletes)
        .filter(|i| !existing.contains(i))
        .collect();
    let skipped = options.athletes - u32::try_from(todo.len()).unwrap_or(options.athletes);
    if todo.is_empty() {
        return Ok(BulkSeeded::AlreadyThere {
            athletes: options.athletes,
        });
    }
    // One hash for everyone: argon2 is deliberately slow.
    let hash = PasswordHasher::default()
        .hash(options.password.clone())
        .await?;

    // Generate on a blocking thread, one batch ahead of the loader.
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Batch>(2);
    let generator = {
        let options = options.clone();
        let todo = todo.clone();
        tokio::task::spawn_blocking(move || {
            for chunk in todo.chunks(BATCH_ATHLETES as usize) {
                let batch = generate(&options, chunk);
                if sender.blocking_send(batch).is_err() {
                    break;
                }
            }
        })
    };

    let of = u32::try_from(todo.len()).unwrap_or(u32::MAX);
    let mut done = Progress {
        athletes: 0,
        of,
        activities: 0,
        elapsed: Duration::ZERO,
    };
    while let Some(batch) = receiver.recv().await {
        let mut tx = pool.begin().await?;
        store_batch(&mut tx, &batch, &hash, options.first_day()).await?;
        tx.commit().await?;
        done.athletes += u32::try_from(batch.athletes.len()).unwrap_or(0);
        done.activities += batch.activities;
        done.elapsed = started.elapsed();
        progress(&done);
    }
    generator.await?;
    Ok(BulkSeeded::Created {
        athletes: done.athletes,
        skipped,
        activities: done.activities,
        elapsed: started.elapsed(),
    })
}

/// Indices of the bulk athletes already stored.
async fn existing_athletes(conn: &mut PgConnection) -> Result<HashSet<u32>, sqlx::Error> {
    let emails = sqlx::query_scalar!(
        "SELECT email_normalized FROM users WHERE email_normalized LIKE 'athlete%@' || $1",
        BULK_DOMAIN
    )
    .fetch_all(conn)
    .await?;
    Ok(emails
        .iter()
        .filter_map(|e| e.strip_prefix("athlete")?.split('@').next()?.parse().ok())
        .collect())
}

async fn store_batch(
    conn: &mut PgConnection,
    batch: &Batch,
    hash: &str,
    first_day: NaiveDate,
) -> anyhow::Result<()> {
    let ids: Vec<Uuid> = batch.athletes.iter().map(|a| a.id).collect();
    let emails: Vec<String> = batch.athletes.iter().map(|a| a.email.clone()).collect();
    let names: Vec<String> = batch.athletes.iter().map(|a| a.name.clone()).collect();
    sqlx::query!(
        "INSERT INTO users (id, email, email_normalized, display_name, password_hash)
         SELECT u.id, u.email, u.email, u.name, $4
         FROM UNNEST($1::uuid[], $2::text[], $3::text[]) AS u(id, email, name)",
        &ids,
        &emails,
        &names,
        hash
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "INSERT INTO user_roles (user_id, role) SELECT unnest($1::uuid[]), 'athlete'",
        &ids
    )
    .execute(&mut *conn)
    .await?;
    store_thresholds(conn, &batch.athletes, first_day).await?;

    let mut copy = conn.copy_in_raw(COPY_ACTIVITIES).await?;
    copy.send(batch.copy.as_bytes()).await?;
    copy.finish().await?;

    for athlete in &batch.athletes {
        if let Some(summary) = &athlete.summary {
            // Seeded activities are uploads, which coaches may see: both scopes are the same.
            for scope in [summaries::Scope::All, summaries::Scope::Coach] {
                summaries::store(conn, athlete.id, scope, summary).await?;
            }
        }
    }
    Ok(())
}

/// The thresholds `seed::store_profile_thresholds` would store, for a batch at once.
async fn store_thresholds(
    conn: &mut PgConnection,
    athletes: &[Athlete],
    from: NaiveDate,
) -> Result<(), sqlx::Error> {
    let mut user_ids = Vec::new();
    let mut sports = Vec::new();
    let mut ftp = Vec::new();
    let mut lthr = Vec::new();
    let mut max_hr = Vec::new();
    let mut rest_hr = Vec::new();
    let mut run_speed = Vec::new();
    let mut swim_speed = Vec::new();
    let mut weight = Vec::new();
    for a in athletes.iter().filter(|a| a.profile.thresholds_known) {
        let p = &a.profile;
        for sport in ["all", "cycling", "running", "swimming"] {
            user_ids.push(a.id);
            sports.push(sport.to_owned());
            let all = sport == "all";
            ftp.push((sport == "cycling").then_some(p.ftp_w));
            lthr.push(all.then_some(p.lthr));
            max_hr.push(all.then_some(p.max_hr));
            rest_hr.push(all.then_some(p.rest_hr));
            weight.push(all.then_some(p.weight_kg));
            run_speed.push((sport == "running").then_some(p.threshold_speed_mps));
            swim_speed.push((sport == "swimming").then_some(p.swim_speed_mps));
        }
    }
    if user_ids.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO athlete_thresholds (user_id, sport, effective_from, ftp_w, lthr_bpm, max_hr_bpm,
             rest_hr_bpm, threshold_speed_mps, swim_speed_mps, weight_kg)
         SELECT t.user_id, t.sport, $3, t.ftp, t.lthr, t.max_hr, t.rest_hr, t.run, t.swim, t.weight
         FROM UNNEST($1::uuid[], $2::text[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
                     $8::float8[], $9::float8[], $10::float8[])
              AS t(user_id, sport, ftp, lthr, max_hr, rest_hr, run, swim, weight)",
        &user_ids,
        &sports,
        from,
        &ftp as &[Option<f64>],
        &lthr as &[Option<f64>],
        &max_hr as &[Option<f64>],
        &rest_hr as &[Option<f64>],
        &run_speed as &[Option<f64>],
        &swim_speed as &[Option<f64>],
        &weight as &[Option<f64>],
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Generate a batch of athletes (pure CPU; runs on a blocking thread).
fn generate(options: &BulkOptions, indices: &[u32]) -> Batch {
    let first_day = options.first_day();
    let mut copy = String::with_capacity(indices.len() * 400 * options.days as usize / 2);
    let mut athletes = Vec::with_capacity(indices.len());
    let mut activities = 0;
    for &i in indices {
        let (profile, _) = synthetic::bulk_athlete(i, options.seed);
        let id = Uuid::now_v7();
        let mut rng = ChaCha8Rng::seed_from_u64(options.seed ^ (u64::from(i) << 32) ^ 0xB01C);
        let mut contributions = Vec::new();
        for s in synthetic::athlete_summaries(i, first_day, options.days, options.seed) {
            let row = Row::derive(&profile, &s, &mut rng);
            row.write_copy(id, "upload", &s, &mut copy);
            contributions.push(row.contribution);
            activities += 1;
        }
        athletes.push(Athlete {
            id,
            email: bulk_email(i),
            name: format!("Bulk {} {i}", profile.name),
            summary: Summary::build(&contributions),
            profile,
        });
    }
    Batch {
        athletes,
        copy,
        activities,
    }
}

/// The derived columns of one bulk activity.
#[derive(Debug)]
struct Row {
    name: &'static str,
    sub_sport: &'static str,
    elapsed_s: f64,
    moving_s: f64,
    max_hr: f64,
    np_w: Option<f64>,
    intensity_factor: f64,
    load_source: &'static str,
    contribution: Contribution,
}

/// Workout intensities of the generator, with their names.
const WORKOUTS: [(f64, &str, f64); 5] = [
    // (intensity factor, name, power-curve exponent)
    (0.55, "Recovery", 0.06),
    (0.66, "Long", 0.07),
    (0.68, "Endurance", 0.075),
    (0.82, "Tempo", 0.09),
    (0.88, "Intervals", 0.11),
];

impl Row {
    fn derive(profile: &AthleteProfile, s: &ActivitySummary, rng: &mut ChaCha8Rng) -> Self {
        let hours = s.duration_s / 3600.0;
        // load = hours × IF² × 100: the generator's workout is the nearest intensity.
        let if_from_load = (s.load / (hours * 100.0)).max(0.0).sqrt();
        let (intensity_factor, workout, exponent) = WORKOUTS
            .iter()
            .copied()
            .min_by(|a, b| {
                (a.0 - if_from_load)
                    .abs()
                    .total_cmp(&(b.0 - if_from_load).abs())
            })
            .unwrap_or(WORKOUTS[2]);
        let outdoor = s.sport != Sport::Swimming;
        let pause = if outdoor && s.duration_s > 3600.0 {
            rng.random_range(60.0_f64..240.0).round()
        } else {
            0.0
        };
        let moving_share = match s.sport {
            Sport::Cycling => rng.random_range(0.95..0.99),
            Sport::Running => rng.random_range(0.985..1.0),
            _ => rng.random_range(0.9..0.97),
        };
        let max_hr = 20.0_f64
            .mul_add(
                intensity_factor - 0.55,
                s.avg_hr + rng.random_range(8.0..14.0),
            )
            .min(profile.max_hr)
            .round();
        let np_w = s.avg_power_w.map(|p| (p / 0.95).round());
        let power_curve = s
            .avg_power_w
            .map(|avg| power_curve(avg, s.duration_s, exponent * rng.random_range(0.85..1.15)))
            .unwrap_or_default();
        let best_efforts = if s.sport == Sport::Running {
            best_efforts(s.distance_m, s.duration_s)
        } else {
            Vec::new()
        };
        let load_source = match (s.sport, s.avg_power_w) {
            (Sport::Cycling, Some(_)) => "power",
            (Sport::Running | Sport::Swimming, _) => "pace",
            _ => "heart_rate",
        };
        Self {
            name: workout,
            sub_sport: if s.sport == Sport::Swimming {
                "lap_swimming"
            } else {
                "generic"
            },
            elapsed_s: s.duration_s + pause,
            moving_s: (s.duration_s * moving_share).round(),
            max_hr,
            np_w,
            intensity_factor,
            load_source,
            contribution: Contribution {
                activity: Uuid::now_v7(),
                day: local_day(s),
                load: s.load,
                power_curve,
                best_efforts,
            },
        }
    }

    /// One line of `COPY … FROM STDIN` text (columns of [`COPY_ACTIVITIES`]).
    fn write_copy(&self, user_id: Uuid, source: &str, s: &ActivitySummary, out: &mut String) {
        let c = &self.contribution;
        let avg_speed = if self.moving_s > 0.0 {
            s.distance_m / self.moving_s
        } else {
            0.0
        };
        let _ = write!(
            out,
            "{}\t{user_id}\t{source}\t{}\t{}\t{} {}\t{}\t{UTC_OFFSET_S}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.3}\t",
            c.activity,
            s.sport.as_str(),
            self.sub_sport,
            self.name,
            s.sport.as_str(),
            s.start.format("%Y-%m-%d %H:%M:%S+00"),
            c.day,
            self.elapsed_s,
            s.duration_s,
            self.moving_s,
            s.distance_m,
            s.avg_hr,
            self.max_hr,
            avg_speed,
        );
        write_opt(out, s.avg_power_w);
        out.push('\t');
        write_opt(out, self.np_w);
        let _ = write!(
            out,
            "\t{:.3}\t{}\t{}\t",
            self.intensity_factor, c.load, self.load_source
        );
        write_array(out, &c.power_curve);
        out.push('\t');
        write_array(out, &c.best_efforts);
        out.push_str("\tPierre synthetic\n");
    }
}

/// Activities of one synthetic athlete without streams, as `COPY` text for
/// [`copy_activities`] (from `source`), and what each contributes to the
/// athlete's summary, in the order given. `seed_coach` uses it too.
pub(crate) fn copy_rows(
    user_id: Uuid,
    profile: &AthleteProfile,
    sessions: &[(ActivitySummary, &str)],
    seed: u64,
    copy: &mut String,
) -> Vec<Contribution> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xC0AC);
    sessions
        .iter()
        .map(|(s, source)| {
            let row = Row::derive(profile, s, &mut rng);
            row.write_copy(user_id, source, s, copy);
            row.contribution
        })
        .collect()
}

/// Store activities written by [`copy_rows`] with one `COPY`.
///
/// # Errors
/// Database errors.
pub(crate) async fn copy_activities(conn: &mut PgConnection, copy: &str) -> anyhow::Result<()> {
    let mut sink = conn.copy_in_raw(COPY_ACTIVITIES).await?;
    sink.send(copy.as_bytes()).await?;
    sink.finish().await?;
    Ok(())
}

/// The activity's calendar day at its recorded UTC offset.
fn local_day(s: &ActivitySummary) -> NaiveDate {
    (s.start + TimeDelta::seconds(UTC_OFFSET_S)).date_naive()
}

fn write_opt(out: &mut String, value: Option<f64>) {
    match value {
        Some(v) => {
            let _ = write!(out, "{v}");
        }
        None => out.push_str("\\N"),
    }
}

/// A `real[]` literal, or NULL when empty.
fn write_array(out: &mut String, values: &[Option<f32>]) {
    if values.is_empty() {
        out.push_str("\\N");
        return;
    }
    out.push('{');
    for (k, v) in values.iter().enumerate() {
        if k > 0 {
            out.push(',');
        }
        match v {
            Some(v) => {
                let _ = write!(out, "{v}");
            }
            None => out.push_str("NULL"),
        }
    }
    out.push('}');
}

/// Mean-max power per ladder rung: `avg × (T / d)^exponent` for durations
/// up to the activity's `T` seconds (the whole ride is its average), NULL past it.
#[expect(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    reason = "ladder durations are small; watts fit f32"
)]
fn power_curve(avg_w: f64, duration_s: f64, exponent: f64) -> Vec<Option<f32>> {
    DURATION_LADDER
        .iter()
        .map(|&d| {
            let d = d as f64;
            (d <= duration_s).then(|| (avg_w * (duration_s / d).powf(exponent)).round() as f32)
        })
        .collect()
}

/// Best efforts of a run: Riegel's `T₂ = T₁ × (D₂ / D₁)^1.06` from the whole
/// run, for distances it covers; NULL for longer ones.
#[expect(
    clippy::cast_possible_truncation,
    reason = "seconds to a tenth fit f32"
)]
fn best_efforts(distance_m: f64, duration_s: f64) -> Vec<Option<f32>> {
    BEST_EFFORT_DISTANCES
        .iter()
        .map(|&d| {
            (d <= distance_m && distance_m > 0.0)
                .then(|| ((duration_s * (d / distance_m).powf(1.06)) * 10.0).round() as f32 / 10.0)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn power_curve_decreases_and_stops_at_the_duration() {
        let c = power_curve(200.0, 3600.0, 0.08);
        assert_eq!(c.len(), DURATION_LADDER.len());
        let values: Vec<f32> = c.iter().map_while(|v| *v).collect();
        assert_eq!(values.len(), 23, "up to 3600 s");
        assert!(values.windows(2).all(|w| w[0] >= w[1]));
        assert!(
            (values[22] - 200.0).abs() < 0.5,
            "the whole ride is its average"
        );
        assert!(c[23].is_none());
    }

    #[test]
    fn best_efforts_follow_riegel_up_to_the_distance() {
        let e = best_efforts(10_000.0, 3000.0);
        assert_eq!(e.len(), BEST_EFFORT_DISTANCES.len());
        assert!((e[4].unwrap() - 3000.0).abs() < 0.05);
        let five = e[3].unwrap();
        assert!(five < 1500.0 && five > 1400.0, "{five}");
        assert!(e[5].is_none() && e[6].is_none());
    }

    #[test]
    fn copy_lines_have_every_column() {
        let options = BulkOptions {
            athletes: 2,
            days: 30,
            seed: 3,
            password: String::new(),
            today: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
        };
        let batch = generate(&options, &[0, 1]);
        assert_eq!(batch.athletes.len(), 2);
        let columns = COPY_ACTIVITIES
            .split_once('(')
            .unwrap()
            .1
            .split_once(')')
            .unwrap()
            .0
            .split(',')
            .count();
        let lines: Vec<&str> = batch.copy.lines().collect();
        assert_eq!(u64::try_from(lines.len()).unwrap(), batch.activities);
        assert!(lines.iter().all(|l| l.split('\t').count() == columns));
    }
}
