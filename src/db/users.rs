//! Users and their roles.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// What sign-in needs to know about an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub id: Uuid,
    pub email: String,
    pub password_hash: String,
    pub disabled: bool,
}

/// A user as the admin pages show it.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub session_count: i64,
}

/// The form of an email address used for uniqueness and look-ups.
#[must_use]
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A new user: the outcome of inserting one.
#[derive(Debug)]
pub enum Created {
    Yes(Uuid),
    EmailTaken,
}

/// Insert a user with the given roles.
///
/// # Errors
/// Database errors other than the email already being taken.
pub async fn create(
    conn: &mut PgConnection,
    email: &str,
    display_name: &str,
    password_hash: &str,
    roles: &[&str],
) -> Result<Created, sqlx::Error> {
    let id = Uuid::now_v7();
    let inserted = sqlx::query!(
        "INSERT INTO users (id, email, email_normalized, display_name, password_hash)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (email_normalized) DO NOTHING",
        id,
        email.trim(),
        normalize_email(email),
        display_name,
        password_hash,
    )
    .execute(&mut *conn)
    .await?;
    if inserted.rows_affected() == 0 {
        return Ok(Created::EmailTaken);
    }
    let roles: Vec<String> = roles.iter().map(|r| (*r).to_owned()).collect();
    sqlx::query!(
        "INSERT INTO user_roles (user_id, role) SELECT $1, unnest($2::text[])",
        id,
        &roles
    )
    .execute(&mut *conn)
    .await?;
    Ok(Created::Yes(id))
}

/// Look up sign-in credentials by email.
///
/// # Errors
/// Database errors.
pub async fn credentials_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<Credentials>, sqlx::Error> {
    sqlx::query_as!(
        Credentials,
        r#"SELECT id, email, password_hash, (disabled_at IS NOT NULL) AS "disabled!"
           FROM users WHERE email_normalized = $1"#,
        normalize_email(email)
    )
    .fetch_optional(conn)
    .await
}

/// The stored hash of one user.
///
/// # Errors
/// Database errors.
pub async fn password_hash(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!("SELECT password_hash FROM users WHERE id = $1", id)
        .fetch_optional(conn)
        .await
}

/// Replace a user's password hash.
///
/// # Errors
/// Database errors.
pub async fn set_password_hash(
    conn: &mut PgConnection,
    id: Uuid,
    hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
        id,
        hash
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Update profile settings.
///
/// # Errors
/// Database errors.
pub async fn update_profile(
    conn: &mut PgConnection,
    id: Uuid,
    display_name: &str,
    time_zone: &str,
    units: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE users SET display_name = $2, time_zone = $3, units = $4, updated_at = now() WHERE id = $1",
        id,
        display_name,
        time_zone,
        units
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Find a user id by email.
///
/// # Errors
/// Database errors.
pub async fn id_by_email(
    conn: &mut PgConnection,
    email: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT id FROM users WHERE email_normalized = $1",
        normalize_email(email)
    )
    .fetch_optional(conn)
    .await
}

/// Grant a role (no-op if held).
///
/// # Errors
/// Database errors.
pub async fn grant_role(
    conn: &mut PgConnection,
    id: Uuid,
    role: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "INSERT INTO user_roles (user_id, role) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        id,
        role
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Revoke a role (no-op if not held).
///
/// # Errors
/// Database errors.
pub async fn revoke_role(
    conn: &mut PgConnection,
    id: Uuid,
    role: &str,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM user_roles WHERE user_id = $1 AND role = $2",
        id,
        role
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Disable or enable an account. Disabling also ends its sessions.
///
/// # Errors
/// Database errors.
pub async fn set_disabled(
    conn: &mut PgConnection,
    id: Uuid,
    disabled: bool,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE users SET disabled_at = CASE WHEN $2 THEN coalesce(disabled_at, now()) ELSE NULL END,
                          updated_at = now()
         WHERE id = $1",
        id,
        disabled
    )
    .execute(&mut *conn)
    .await?;
    if disabled {
        end_sessions(conn, id, None).await?;
    }
    Ok(done.rows_affected() > 0)
}

/// Delete an account and everything it owns (cascades).
///
/// # Errors
/// Database errors.
pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!("DELETE FROM users WHERE id = $1", id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// End a user's sessions, except the one whose key hash is given.
///
/// # Errors
/// Database errors.
pub async fn end_sessions(
    conn: &mut PgConnection,
    id: Uuid,
    keep: Option<&[u8]>,
) -> Result<u64, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM sessions WHERE user_id = $1 AND ($2::bytea IS NULL OR id_hash <> $2)",
        id,
        keep
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// One session in the "your sessions" list.
#[derive(Debug, Clone)]
pub struct SessionInfo {
    pub id_hash: Vec<u8>,
    pub user_agent: String,
    pub ip: String,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
}

/// A user's live sessions, most recently used first.
///
/// # Errors
/// Database errors.
pub async fn sessions(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<SessionInfo>, sqlx::Error> {
    sqlx::query_as!(
        SessionInfo,
        "SELECT id_hash, user_agent, ip, created_at, last_seen_at FROM sessions
         WHERE user_id = $1 AND idle_expires_at > $2 AND absolute_expires_at > $2
         ORDER BY last_seen_at DESC",
        id,
        now
    )
    .fetch_all(conn)
    .await
}

/// End one session of a user (only theirs).
///
/// # Errors
/// Database errors.
pub async fn end_session(
    conn: &mut PgConnection,
    id: Uuid,
    id_hash: &[u8],
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "DELETE FROM sessions WHERE user_id = $1 AND id_hash = $2",
        id,
        id_hash
    )
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// One page of users matching a search, newest first; one query.
///
/// # Errors
/// Database errors.
pub async fn search(
    conn: &mut PgConnection,
    query: &str,
    limit: i64,
    offset: i64,
) -> Result<(Vec<UserRow>, i64), sqlx::Error> {
    let pattern = format!(
        "%{}%",
        query
            .trim()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let rows = sqlx::query!(
        r#"SELECT u.id, u.email, u.display_name, u.disabled_at, u.created_at,
                  ARRAY(SELECT role FROM user_roles r WHERE r.user_id = u.id ORDER BY role) AS "roles!",
                  (SELECT count(*) FROM sessions s WHERE s.user_id = u.id) AS "session_count!",
                  count(*) OVER () AS "total!"
           FROM users u
           WHERE u.email_normalized LIKE lower($1) OR lower(u.display_name) LIKE lower($1)
           ORDER BY u.created_at DESC, u.id DESC
           LIMIT $2 OFFSET $3"#,
        pattern,
        limit,
        offset
    )
    .fetch_all(conn)
    .await?;
    let total = rows.first().map_or(0, |row| row.total);
    let users = rows
        .into_iter()
        .map(|row| UserRow {
            id: row.id,
            email: row.email,
            display_name: row.display_name,
            roles: row.roles,
            disabled_at: row.disabled_at,
            created_at: row.created_at,
            session_count: row.session_count,
        })
        .collect();
    Ok((users, total))
}

/// One user by id, for the admin.
///
/// # Errors
/// Database errors.
pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Option<UserRow>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.id, u.email, u.display_name, u.disabled_at, u.created_at,
                  ARRAY(SELECT role FROM user_roles r WHERE r.user_id = u.id ORDER BY role) AS "roles!",
                  (SELECT count(*) FROM sessions s WHERE s.user_id = u.id) AS "session_count!"
           FROM users u WHERE u.id = $1"#,
        id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|row| UserRow {
        id: row.id,
        email: row.email,
        display_name: row.display_name,
        roles: row.roles,
        disabled_at: row.disabled_at,
        created_at: row.created_at,
        session_count: row.session_count,
    }))
}
