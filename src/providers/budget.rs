//! The app-wide request budget of a provider, shared by every instance and
//! worker through PostgreSQL (`provider_budget`, one row per provider).
//!
//! Strava counts an app's requests in 15-minute windows starting at :00, :15,
//! :30 and :45 UTC and per UTC day, overall and for reads (GETs). Before each
//! call, [`acquire`] takes one unit in ONE statement (`INSERT … ON CONFLICT DO
//! UPDATE … WHERE`): the window and day roll over inside it, and the counts
//! only grow while under every applicable limit and not blocked. PostgreSQL's
//! row lock makes concurrent acquisitions serialize, so the counts never
//! exceed the limits whatever the number of workers.
//!
//! The provider's own headers ([`observe`]) raise the counts when someone else
//! used the same app (another deployment, a script); a 429 [`block`]s the
//! provider until the next window boundary.
//!
//! Time is the caller's [`crate::clock::Clock`] (not PostgreSQL's `now()`), so
//! tests and the simulator's clock agree with the budget.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::PgConnection;

use crate::db::oauth_apps::AppRow;

/// Requests allowed per window and day, overall and for reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub short: i32,
    pub daily: i32,
    pub read_short: i32,
    pub read_daily: i32,
}

impl From<&AppRow> for Limits {
    fn from(app: &AppRow) -> Self {
        Self {
            short: app.limit_short,
            daily: app.limit_daily,
            read_short: app.read_limit_short,
            read_daily: app.read_limit_daily,
        }
    }
}

/// The answer of [`acquire`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grant {
    /// One unit taken: call now.
    Granted,
    /// Over a limit or blocked: nothing taken; try again at this instant.
    Wait(DateTime<Utc>),
}

/// Counts of the current window and day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub short: i32,
    pub daily: i32,
    pub read_short: i32,
    pub read_daily: i32,
}

/// Length of a short window.
pub const WINDOW: TimeDelta = TimeDelta::minutes(15);

/// Start of the 15-minute window containing `now` (:00, :15, :30, :45 UTC).
#[must_use]
pub fn window_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let secs = now.timestamp().div_euclid(WINDOW.num_seconds()) * WINDOW.num_seconds();
    DateTime::from_timestamp(secs, 0).unwrap_or(now)
}

/// The next window boundary after `now`.
#[must_use]
pub fn next_window(now: DateTime<Utc>) -> DateTime<Utc> {
    window_start(now) + WINDOW
}

/// The next UTC midnight after `now`.
#[must_use]
pub fn next_day(now: DateTime<Utc>) -> DateTime<Utc> {
    let today = now.date_naive();
    (today + TimeDelta::days(1))
        .and_hms_opt(0, 0, 0)
        .map_or(now + TimeDelta::days(1), |t| t.and_utc())
}

/// When a provider whose counts are `usage` has room again.
#[must_use]
pub fn room_at(usage: &Usage, limits: &Limits, read: bool, now: DateTime<Utc>) -> DateTime<Utc> {
    let day_full = usage.daily >= limits.daily || (read && usage.read_daily >= limits.read_daily);
    if day_full {
        next_day(now)
    } else {
        next_window(now)
    }
}

/// The stored row (for the refusal path and, through [`current`], the admin page).
#[derive(Debug, Clone)]
struct Row {
    window_start: DateTime<Utc>,
    short_used: i32,
    short_read_used: i32,
    day_start: NaiveDate,
    daily_used: i32,
    daily_read_used: i32,
    blocked_until: Option<DateTime<Utc>>,
}

impl Row {
    /// The counts as of `now` (zero once the window or day has passed).
    fn usage(&self, now: DateTime<Utc>) -> Usage {
        let same_window = self.window_start >= window_start(now);
        let same_day = self.day_start >= now.date_naive();
        Usage {
            short: if same_window { self.short_used } else { 0 },
            read_short: if same_window { self.short_read_used } else { 0 },
            daily: if same_day { self.daily_used } else { 0 },
            read_daily: if same_day { self.daily_read_used } else { 0 },
        }
    }
}

async fn row(conn: &mut PgConnection, provider: &str) -> Result<Option<Row>, sqlx::Error> {
    sqlx::query_as!(
        Row,
        "SELECT window_start, short_used, short_read_used, day_start, daily_used, daily_read_used, blocked_until
         FROM provider_budget WHERE provider = $1",
        provider
    )
    .fetch_optional(conn)
    .await
}

/// Take one request from the budget, or say when to come back.
///
/// # Errors
/// Database errors.
pub async fn acquire(
    conn: &mut PgConnection,
    provider: &str,
    limits: &Limits,
    read: bool,
    now: DateTime<Utc>,
) -> Result<Grant, sqlx::Error> {
    let window = window_start(now);
    let day = now.date_naive();
    let applicable = limits.short > 0
        && limits.daily > 0
        && (!read || (limits.read_short > 0 && limits.read_daily > 0));
    if applicable {
        // Counts of a window (day) that has passed are read as zero; a row
        // written by an instance whose clock runs slightly ahead keeps its
        // (later) window.
        let taken = sqlx::query_scalar!(
            "INSERT INTO provider_budget AS b (provider, window_start, short_used, short_read_used, day_start,
                 daily_used, daily_read_used, updated_at)
             VALUES ($1, $2, 1, CASE WHEN $4 THEN 1 ELSE 0 END, $3, 1, CASE WHEN $4 THEN 1 ELSE 0 END, $5)
             ON CONFLICT (provider) DO UPDATE SET
                 window_start = greatest(b.window_start, $2),
                 short_used = (CASE WHEN b.window_start >= $2 THEN b.short_used ELSE 0 END) + 1,
                 short_read_used = (CASE WHEN b.window_start >= $2 THEN b.short_read_used ELSE 0 END)
                     + CASE WHEN $4 THEN 1 ELSE 0 END,
                 day_start = greatest(b.day_start, $3),
                 daily_used = (CASE WHEN b.day_start >= $3 THEN b.daily_used ELSE 0 END) + 1,
                 daily_read_used = (CASE WHEN b.day_start >= $3 THEN b.daily_read_used ELSE 0 END)
                     + CASE WHEN $4 THEN 1 ELSE 0 END,
                 updated_at = $5
             WHERE (b.blocked_until IS NULL OR b.blocked_until <= $5)
               AND (CASE WHEN b.window_start >= $2 THEN b.short_used ELSE 0 END) < $6
               AND (CASE WHEN b.day_start >= $3 THEN b.daily_used ELSE 0 END) < $7
               AND (NOT $4 OR (
                   (CASE WHEN b.window_start >= $2 THEN b.short_read_used ELSE 0 END) < $8
                   AND (CASE WHEN b.day_start >= $3 THEN b.daily_read_used ELSE 0 END) < $9))
             RETURNING short_used",
            provider,
            window,
            day,
            read,
            now,
            limits.short,
            limits.daily,
            limits.read_short,
            limits.read_daily
        )
        .fetch_optional(&mut *conn)
        .await?;
        if taken.is_some() {
            return Ok(Grant::Granted);
        }
    }
    // Refused: say until when.
    let Some(row) = row(conn, provider).await? else {
        return Ok(Grant::Wait(next_window(now)));
    };
    if let Some(until) = row.blocked_until.filter(|u| *u > now) {
        return Ok(Grant::Wait(until));
    }
    Ok(Grant::Wait(room_at(&row.usage(now), limits, read, now)))
}

/// Raise the counts to at least what the provider reports (its
/// `X-RateLimit-Usage` / `X-ReadRateLimit-Usage` headers).
///
/// # Errors
/// Database errors.
pub async fn observe(
    conn: &mut PgConnection,
    provider: &str,
    usage: &Usage,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO provider_budget AS b (provider, window_start, short_used, short_read_used, day_start,
             daily_used, daily_read_used, updated_at)
         VALUES ($1, $2, $4, $5, $3, $6, $7, $8)
         ON CONFLICT (provider) DO UPDATE SET
             window_start = greatest(b.window_start, $2),
             short_used = greatest(CASE WHEN b.window_start >= $2 THEN b.short_used ELSE 0 END, $4),
             short_read_used = greatest(CASE WHEN b.window_start >= $2 THEN b.short_read_used ELSE 0 END, $5),
             day_start = greatest(b.day_start, $3),
             daily_used = greatest(CASE WHEN b.day_start >= $3 THEN b.daily_used ELSE 0 END, $6),
             daily_read_used = greatest(CASE WHEN b.day_start >= $3 THEN b.daily_read_used ELSE 0 END, $7),
             updated_at = $8",
        provider,
        window_start(now),
        now.date_naive(),
        usage.short,
        usage.read_short,
        usage.daily,
        usage.read_daily,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Refuse every acquisition for `provider` until `until` (after a 429).
///
/// # Errors
/// Database errors.
pub async fn block(
    conn: &mut PgConnection,
    provider: &str,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO provider_budget AS b (provider, window_start, day_start, blocked_until, updated_at)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (provider) DO UPDATE SET
             blocked_until = greatest(coalesce(b.blocked_until, $4), $4), updated_at = $5",
        provider,
        window_start(now),
        now.date_naive(),
        until,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// The counts of the current window and day, and the block if one is in force
/// (the admin page's usage bars).
///
/// # Errors
/// Database errors.
pub async fn current(
    conn: &mut PgConnection,
    provider: &str,
    now: DateTime<Utc>,
) -> Result<(Usage, Option<DateTime<Utc>>), sqlx::Error> {
    Ok(row(conn, provider).await?.map_or_else(
        || (Usage::default(), None),
        |r| (r.usage(now), r.blocked_until.filter(|u| *u > now)),
    ))
}

/// Parse `"short,daily"` (Strava's usage and limit headers).
#[must_use]
pub fn parse_pair(value: &str) -> Option<(i32, i32)> {
    let (a, b) = value.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// The usage Strava reports in an answer's headers, if it does.
#[must_use]
pub fn usage_from_headers(headers: &reqwest::header::HeaderMap) -> Option<Usage> {
    let pair = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_pair)
    };
    let (short, daily) = pair("x-ratelimit-usage")?;
    let (read_short, read_daily) = pair("x-readratelimit-usage").unwrap_or((0, 0));
    Some(Usage {
        short,
        daily,
        read_short,
        read_daily,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn windows_start_at_quarter_hours_and_days_at_midnight() {
        assert_eq!(
            window_start(at("2026-11-28T13:44:59Z")),
            at("2026-11-28T13:30:00Z")
        );
        assert_eq!(
            next_window(at("2026-11-28T13:45:00Z")),
            at("2026-11-28T14:00:00Z")
        );
        assert_eq!(
            next_window(at("2026-11-28T23:59:59Z")),
            at("2026-11-29T00:00:00Z")
        );
        assert_eq!(
            next_day(at("2026-11-28T13:45:00Z")),
            at("2026-11-29T00:00:00Z")
        );
    }

    #[test]
    fn a_full_day_waits_for_midnight_a_full_window_for_the_next_quarter() {
        let limits = Limits {
            short: 200,
            daily: 2000,
            read_short: 100,
            read_daily: 1000,
        };
        let now = at("2026-11-28T13:40:00Z");
        let window_full = Usage {
            short: 200,
            daily: 500,
            read_short: 100,
            read_daily: 400,
        };
        assert_eq!(
            room_at(&window_full, &limits, true, now),
            at("2026-11-28T13:45:00Z")
        );
        let reads_for_today = Usage {
            read_daily: 1000,
            ..window_full
        };
        assert_eq!(
            room_at(&reads_for_today, &limits, true, now),
            at("2026-11-29T00:00:00Z")
        );
        assert_eq!(
            room_at(&reads_for_today, &limits, false, now),
            at("2026-11-28T13:45:00Z")
        );
    }

    #[test]
    fn strava_headers_parse() {
        assert_eq!(parse_pair("12, 340"), Some((12, 340)));
        assert_eq!(parse_pair("12"), None);
        assert_eq!(parse_pair("a,b"), None);
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("x-ratelimit-usage", "5,50".parse().unwrap());
        headers.insert("x-readratelimit-usage", "3,30".parse().unwrap());
        assert_eq!(
            usage_from_headers(&headers),
            Some(Usage {
                short: 5,
                daily: 50,
                read_short: 3,
                read_daily: 30
            })
        );
    }
}
