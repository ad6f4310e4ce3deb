//! Counting failed attempts for throttling, shared by every instance.

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgConnection;

/// What is being throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Failed sign-ins for one account (normalised email).
    LoginAccount,
    /// Failed sign-ins from one client IP.
    LoginIp,
    /// Sign-up attempts from one client IP.
    SignupIp,
}

impl Scope {
    const fn as_str(self) -> &'static str {
        match self {
            Self::LoginAccount => "login_account",
            Self::LoginIp => "login_ip",
            Self::SignupIp => "signup_ip",
        }
    }
}

/// A limit: at most `max` attempts within `window`.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub max: i64,
    pub window: TimeDelta,
}

/// If the limit is reached, how long until the oldest attempt in the window
/// leaves it (the `Retry-After`).
///
/// # Errors
/// Database errors.
pub async fn blocked_for(
    conn: &mut PgConnection,
    scope: Scope,
    key: &str,
    limit: Limit,
    now: DateTime<Utc>,
) -> Result<Option<std::time::Duration>, sqlx::Error> {
    let since = now - limit.window;
    // The oldest attempt that still counts once the window holds `max` of them.
    let row = sqlx::query!(
        r#"SELECT count(*) AS "count!", min(occurred_at) AS oldest FROM (
               SELECT occurred_at FROM auth_attempts
               WHERE scope = $1 AND key = $2 AND occurred_at > $3
               ORDER BY occurred_at DESC LIMIT $4
           ) recent"#,
        scope.as_str(),
        key,
        since,
        limit.max
    )
    .fetch_one(conn)
    .await?;
    if row.count < limit.max {
        return Ok(None);
    }
    let frees_at = row.oldest.unwrap_or(now) + limit.window;
    let wait = (frees_at - now)
        .to_std()
        .unwrap_or_default()
        .max(std::time::Duration::from_secs(1));
    Ok(Some(wait))
}

/// Record one attempt.
///
/// # Errors
/// Database errors.
pub async fn record(
    conn: &mut PgConnection,
    scope: Scope,
    key: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO auth_attempts (scope, key, occurred_at) VALUES ($1, $2, $3)",
        scope.as_str(),
        key,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Forget attempts older than a day. Run periodically.
///
/// # Errors
/// Database errors.
pub async fn delete_old(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM auth_attempts WHERE occurred_at < $1",
        now - TimeDelta::days(1)
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}
