//! Demo coach: `pierre seed-demo` also stores a coach with 12 athletes.
//!
//! The coach (`coach@pierre.local`) has 12 linked athletes of varied training patterns, so the roster shows
//! every flag (TSB below −30, ramp above 8, ACWR above 1.5, nothing for 7
//! days, no thresholds), a comeback after injury, detraining, and an athlete
//! whose recent activities come from Strava (withheld from coaches).
//!
//! Fast: the athletes' activities are stored without streams through the
//! bulk seeder's `COPY` path, with both summary rows written directly.
//! Idempotent: if the coach exists, nothing is done.

use chrono::{NaiveDate, TimeDelta, Utc};
use sqlx::PgPool;

use crate::auth::password::PasswordHasher;
use anyhow::Context as _;

use crate::db::coaching::{self, Access};
use crate::db::summaries;
use crate::db::users::{self, Created};
use crate::seed::{DEMO_PASSWORD, store_profile_thresholds};
use crate::seed_bulk::{copy_activities, copy_rows};
use crate::synthetic::{self, ActivitySummary, AthleteProfile, Pattern};

/// The demo coach's sign-in email (password: [`DEMO_PASSWORD`]).
pub const COACH_EMAIL: &str = "coach@pierre.local";
/// The email domain of the demo coach's athletes (password: [`DEMO_PASSWORD`]).
pub const COACH_ATHLETES_DOMAIN: &str = "coach-demo.pierre.local";

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeededCoach {
    AlreadyThere,
    Created { athletes: usize, activities: usize },
}

/// How a demo athlete trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Story {
    /// A normal periodised year.
    Steady,
    /// Periodised, then six weeks of load rising with no recovery (to three
    /// times the usual in the last four): TSB below −30, ramp above 8.
    Overreaching,
    /// Periodised, then nothing for three weeks and a gradual restart.
    BackFromInjury,
    /// Periodised, then a month of normal training and occasional easy sessions.
    Detraining,
    /// Never entered thresholds.
    NoThresholds,
    /// Nothing recorded for the last 10 days.
    Inactive,
    /// This week's sessions much longer than usual: ACWR above 1.5.
    Spike,
    /// The last six weeks came from Strava: withheld from the coach.
    RecentFromStrava,
}

/// A demo athlete: email local part, name, profile kind, story, access, tags.
pub type DemoAthlete = (
    &'static str,
    &'static str,
    &'static str,
    Story,
    &'static str,
    &'static [&'static str],
);

/// The demo athletes.
pub const ATHLETES: [DemoAthlete; 12] = [
    (
        "ana",
        "Ana Ribeiro",
        "cyclist",
        Story::Overreaching,
        "full",
        &["road"],
    ),
    (
        "ben",
        "Ben Okafor",
        "runner",
        Story::BackFromInjury,
        "full",
        &["marathon"],
    ),
    (
        "clara",
        "Clara Jensen",
        "triathlete",
        Story::Detraining,
        "summary",
        &["ironman"],
    ),
    (
        "dan",
        "Dan Moreau",
        "cyclist",
        Story::NoThresholds,
        "summary",
        &["juniors"],
    ),
    (
        "eva",
        "Eva Lindqvist",
        "runner",
        Story::Inactive,
        "full",
        &["marathon"],
    ),
    (
        "felix",
        "Felix Braun",
        "cyclist",
        Story::Spike,
        "full",
        &["road", "juniors"],
    ),
    (
        "greta",
        "Greta Rossi",
        "triathlete",
        Story::RecentFromStrava,
        "full",
        &["ironman"],
    ),
    (
        "hugo",
        "Hugo Martin",
        "triathlete",
        Story::Steady,
        "full",
        &["ironman"],
    ),
    (
        "ines",
        "Inês Costa",
        "runner",
        Story::Steady,
        "summary",
        &["juniors"],
    ),
    (
        "jon",
        "Jon Arrieta",
        "cyclist",
        Story::Steady,
        "full",
        &["road"],
    ),
    (
        "kaia",
        "Kaia Nilsen",
        "triathlete",
        Story::Steady,
        "full",
        &[],
    ),
    (
        "liam",
        "Liam Walsh",
        "runner",
        Story::Steady,
        "summary",
        &[],
    ),
];

/// Days of history per athlete (ending yesterday).
const DAYS: u32 = 365;

fn profile_of(kind: &str, story: Story) -> AthleteProfile {
    let mut p = match kind {
        "cyclist" => AthleteProfile::cyclist(),
        "runner" => AthleteProfile::runner(),
        _ => AthleteProfile::triathlete(),
    };
    p.thresholds_known = story != Story::NoThresholds;
    p
}

/// Periodised training from `first` for `days` days, then `pattern` up to yesterday.
fn two_phases(
    profile: &AthleteProfile,
    first: NaiveDate,
    today: NaiveDate,
    tail_days: u32,
    pattern: Pattern,
    seed: u64,
) -> Vec<synthetic::PlannedSession> {
    let switch = today - TimeDelta::days(i64::from(tail_days));
    let head_days = u32::try_from((switch - first).num_days()).unwrap_or(0);
    let mut out = synthetic::plan(profile, Pattern::Periodized, first, head_days, seed);
    out.extend(synthetic::plan(
        profile,
        pattern,
        switch,
        tail_days,
        seed ^ 0x7A11,
    ));
    out
}

/// The sessions of a demo athlete (in start order) with their source.
#[must_use]
pub fn sessions(
    profile: &AthleteProfile,
    story: Story,
    today: NaiveDate,
    seed: u64,
) -> Vec<(ActivitySummary, &'static str)> {
    let first = today - TimeDelta::days(i64::from(DAYS));
    let planned = match story {
        Story::Overreaching => two_phases(profile, first, today, 42, Pattern::Overreaching, seed),
        Story::BackFromInjury => {
            two_phases(profile, first, today, 56, Pattern::BackFromInjury, seed)
        }
        Story::Detraining => two_phases(profile, first, today, 90, Pattern::Detraining, seed),
        Story::NoThresholds => synthetic::plan(profile, Pattern::NoThresholds, first, DAYS, seed),
        Story::Steady | Story::Inactive | Story::Spike | Story::RecentFromStrava => {
            synthetic::plan(profile, Pattern::Periodized, first, DAYS, seed)
        }
    };
    let start_of = |days_ago: i64| {
        (today - TimeDelta::days(days_ago))
            .and_hms_opt(0, 0, 0)
            .map_or(chrono::DateTime::<Utc>::UNIX_EPOCH, |d| d.and_utc())
    };
    let mut out: Vec<(ActivitySummary, &'static str)> = planned
        .iter()
        .map(|s| (synthetic::summarize(0, profile, s), "upload"))
        .collect();
    match story {
        Story::Inactive => out.retain(|(s, _)| s.start < start_of(10)),
        Story::Overreaching => {
            // Rising to three times the usual over the last four weeks.
            for (s, _) in out.iter_mut().filter(|(s, _)| s.start >= start_of(28)) {
                #[expect(clippy::cast_precision_loss, reason = "day counts are small")]
                let days_in = (s.start - start_of(28)).num_days() as f64;
                let factor = 1.0 + 2.0 * days_in / 28.0;
                scale(s, factor);
            }
        }
        Story::Spike => {
            for (s, _) in out.iter_mut().filter(|(s, _)| s.start >= start_of(7)) {
                scale(s, 2.2);
            }
        }
        Story::RecentFromStrava => {
            for (s, source) in &mut out {
                if s.start >= start_of(42) {
                    *source = "strava";
                }
            }
        }
        _ => {}
    }
    out
}

/// A longer session at the same intensity: duration, distance and load times `factor`.
fn scale(s: &mut ActivitySummary, factor: f64) {
    s.duration_s = (s.duration_s * factor).round();
    s.distance_m = (s.distance_m * factor).round();
    s.load = (s.load * factor).round();
}

/// Store the demo coach and their athletes (each on its own account, linked).
///
/// # Errors
/// Database or hashing errors.
pub async fn seed_demo_coach(pool: &PgPool, today: NaiveDate) -> anyhow::Result<SeededCoach> {
    let mut conn = pool.acquire().await?;
    if users::id_by_email(&mut conn, COACH_EMAIL).await?.is_some() {
        return Ok(SeededCoach::AlreadyThere);
    }
    drop(conn);
    let hash = PasswordHasher::default()
        .hash(DEMO_PASSWORD.to_owned())
        .await?;
    let mut tx = pool.begin().await?;
    let Created::Yes(coach) =
        users::create(&mut tx, COACH_EMAIL, "Demo Coach", &hash, &["coach"]).await?
    else {
        return Ok(SeededCoach::AlreadyThere);
    };
    let first = today - TimeDelta::days(i64::from(DAYS));
    let mut copy = String::new();
    let mut stored = Vec::new();
    let mut activities = 0;
    for (i, (local, name, kind, story, access, tags)) in ATHLETES.iter().enumerate() {
        let email = format!("{local}@{COACH_ATHLETES_DOMAIN}");
        let Created::Yes(id) = users::create(&mut tx, &email, name, &hash, &["athlete"]).await?
        else {
            anyhow::bail!("{email} exists but {COACH_EMAIL} does not: remove it first");
        };
        let profile = profile_of(kind, *story);
        store_profile_thresholds(&mut tx, id, &profile, first).await?;
        let seed = 2026 + u64::try_from(i).unwrap_or(0) * 7919;
        let list = sessions(&profile, *story, today, seed);
        activities += list.len();
        copy_rows(id, &profile, &list, seed, &mut copy);
        stored.push(id);
        let access = Access::parse(access).context("a demo athlete's access")?;
        coaching::link(&mut tx, coach, id, access).await?;
        let tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        sqlx::query!(
            "INSERT INTO coach_tags (coach_id, athlete_id, tag) SELECT $1, $2, unnest($3::text[])",
            coach,
            id,
            &tags
        )
        .execute(&mut *tx)
        .await?;
    }
    copy_activities(&mut tx, &copy).await?;
    // Both summary rows, the coach one from the sources coaches may see now.
    for id in &stored {
        summaries::rebuild(&mut tx, *id).await?;
    }
    tx.commit().await?;
    Ok(SeededCoach::Created {
        athletes: stored.len(),
        activities,
    })
}
