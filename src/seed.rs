//! Demo data: `pierre seed-demo` stores a demo athlete with two years of
//! synthetic activities (full 1 Hz streams, from `crate::synthetic`), so a
//! newcomer sees a populated Pierre on the first `./run`.
//!
//! Idempotent: if the demo athlete exists, nothing is done.

use chrono::{NaiveDate, TimeDelta, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::auth::password::PasswordHasher;
use crate::db::activities::{self, NewActivity, Source, Stored};
use crate::db::thresholds::{self, Thresholds};
use crate::db::users::{self, Created};
use crate::synthetic::{self, AthleteProfile, Pattern};

/// The demo athlete's sign-in email.
pub const DEMO_EMAIL: &str = "demo@pierre.local";
/// The demo athlete's password (printed; this is demo data on a local instance).
pub const DEMO_PASSWORD: &str = "pierre demo training log";

/// What seeding did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    AlreadyThere,
    Created { activities: usize },
}

/// Store the demo athlete and `days` days of activities ending today.
///
/// # Errors
/// Database or hashing errors.
pub async fn seed_demo(pool: &PgPool, days: u32) -> anyhow::Result<Seeded> {
    let mut conn = pool.acquire().await?;
    if users::id_by_email(&mut conn, DEMO_EMAIL).await?.is_some() {
        return Ok(Seeded::AlreadyThere);
    }
    let hash = PasswordHasher::default()
        .hash(DEMO_PASSWORD.to_owned())
        .await?;
    let Created::Yes(user_id) =
        users::create(&mut conn, DEMO_EMAIL, "Demo Athlete", &hash, &["athlete"]).await?
    else {
        return Ok(Seeded::AlreadyThere);
    };
    let profile = AthleteProfile::triathlete();
    let first_day: NaiveDate = (Utc::now() - TimeDelta::days(i64::from(days))).date_naive();
    store_profile_thresholds(&mut conn, user_id, &profile, first_day).await?;
    let history = thresholds::history(&mut conn, user_id).await?;
    drop(conn);
    let plan = synthetic::plan(&profile, Pattern::Periodized, first_day, days, 2026);
    let mut stored = 0;
    // Generate on the blocking pool in batches; insert each in its own transaction.
    for chunk in plan.chunks(32) {
        let sessions = chunk.to_vec();
        let profile = profile.clone();
        let parsed = tokio::task::spawn_blocking(move || {
            sessions
                .iter()
                .map(|s| synthetic::activity(&profile, s))
                .collect::<Vec<_>>()
        })
        .await?;
        for activity in &parsed {
            let name = activity
                .name
                .clone()
                .unwrap_or_else(|| "Training".to_owned());
            let mut tx = pool.begin().await?;
            let result = activities::insert(
                &mut tx,
                &NewActivity {
                    user_id,
                    source: Source::Upload,
                    external_id: None,
                    name: &name,
                    parsed: activity,
                    file_sha256: None,
                    original: None,
                    metrics: Some(&crate::training::metrics_for(activity, &history)),
                },
            )
            .await?;
            tx.commit().await?;
            if matches!(result, Stored::Imported(_)) {
                stored += 1;
            }
        }
    }
    Ok(Seeded::Created { activities: stored })
}

/// Store a synthetic athlete's thresholds from `from` on.
///
/// Nothing when the profile is one "without thresholds"; else heart rates, weight and sex for all
/// sports, FTP for cycling, threshold paces for running and swimming.
///
/// # Errors
/// Database errors.
pub async fn store_profile_thresholds(
    conn: &mut PgConnection,
    user_id: Uuid,
    profile: &AthleteProfile,
    from: NaiveDate,
) -> Result<(), sqlx::Error> {
    if !profile.thresholds_known {
        return Ok(());
    }
    let all = Thresholds {
        lthr_bpm: Some(profile.lthr),
        max_hr_bpm: Some(profile.max_hr),
        rest_hr_bpm: Some(profile.rest_hr),
        weight_kg: Some(profile.weight_kg),
        ..Thresholds::default()
    };
    thresholds::upsert(conn, user_id, "all", from, &all).await?;
    let cycling = Thresholds {
        ftp_w: Some(profile.ftp_w),
        ..Thresholds::default()
    };
    thresholds::upsert(conn, user_id, "cycling", from, &cycling).await?;
    let running = Thresholds {
        threshold_speed_mps: Some(profile.threshold_speed_mps),
        ..Thresholds::default()
    };
    thresholds::upsert(conn, user_id, "running", from, &running).await?;
    let swimming = Thresholds {
        swim_speed_mps: Some(profile.swim_speed_mps),
        ..Thresholds::default()
    };
    thresholds::upsert(conn, user_id, "swimming", from, &swimming).await
}
