//! Reads for the calendar: one athlete's activities over a range of local
//! days, and "today" in the athlete's time zone.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// One activity as a calendar day cell shows it.
#[derive(Debug, Clone)]
pub struct DayActivity {
    pub id: Uuid,
    pub sport: String,
    pub name: String,
    /// The activity's calendar day (its own local time).
    pub local_day: NaiveDate,
    pub timer_s: Option<f64>,
    pub distance_m: Option<f64>,
    pub load: f64,
}

/// The athlete's activities on local days `first..=last`, by day then start
/// (one query on the `(user_id, local_day)` index); only those of `sources`
/// when given (coach views).
///
/// # Errors
/// Database errors.
pub async fn between(
    conn: &mut PgConnection,
    user_id: Uuid,
    first: NaiveDate,
    last: NaiveDate,
    sources: Option<&[String]>,
) -> Result<Vec<DayActivity>, sqlx::Error> {
    sqlx::query_as!(
        DayActivity,
        "SELECT id, sport, name, local_day, timer_s, distance_m, load
         FROM activities
         WHERE user_id = $1 AND local_day BETWEEN $2 AND $3
           AND ($4::text[] IS NULL OR source = ANY($4))
         ORDER BY local_day, start_time, id",
        user_id,
        first,
        last,
        sources
    )
    .fetch_all(conn)
    .await
}

/// The calendar day `now` falls on in the user's time zone (UTC if the user
/// is gone).
///
/// # Errors
/// Database errors.
pub async fn local_today(
    conn: &mut PgConnection,
    user_id: Uuid,
    now: DateTime<Utc>,
) -> Result<NaiveDate, sqlx::Error> {
    let day = sqlx::query_scalar!(
        r#"SELECT ($2::timestamptz AT TIME ZONE time_zone)::date AS "day!"
           FROM users WHERE id = $1"#,
        user_id,
        now
    )
    .fetch_optional(conn)
    .await?;
    Ok(day.unwrap_or_else(|| now.date_naive()))
}
