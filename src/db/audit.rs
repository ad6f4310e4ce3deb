//! The audit log: who did what to whom, when, from where, and how it ended.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Event types written to the audit log.
pub mod event {
    pub const SIGNUP: &str = "signup";
    pub const LOGIN: &str = "login";
    pub const LOGOUT: &str = "logout";
    pub const PASSWORD_CHANGED: &str = "password_changed";
    pub const PROFILE_CHANGED: &str = "profile_changed";
    pub const SESSION_ENDED: &str = "session_ended";
    pub const SESSIONS_ENDED: &str = "sessions_ended";
    pub const ROLE_GRANTED: &str = "role_granted";
    pub const ROLE_REVOKED: &str = "role_revoked";
    pub const USER_DISABLED: &str = "user_disabled";
    pub const USER_ENABLED: &str = "user_enabled";
    pub const USER_DELETED: &str = "user_deleted";
    pub const ACCOUNT_DELETED: &str = "account_deleted";
    pub const ADMIN_CREATED: &str = "admin_created";
    pub const OAUTH_APP_CREATED: &str = "oauth_app_created";
    pub const OAUTH_APP_CHANGED: &str = "oauth_app_changed";
    pub const PROVIDER_CONNECTED: &str = "provider_connected";
    pub const PROVIDER_DISCONNECTED: &str = "provider_disconnected";
    pub const JOB_RETRIED: &str = "job_retried";
    pub const OAUTH_SUBSCRIPTION_CREATED: &str = "oauth_subscription_created";
    pub const OAUTH_SUBSCRIPTION_DELETED: &str = "oauth_subscription_deleted";
    pub const OAUTH_APP_TESTED: &str = "oauth_app_tested";
    pub const COACH_INVITED: &str = "coach_invited";
    pub const COACH_INVITATION_CANCELLED: &str = "coach_invitation_cancelled";
    pub const COACH_INVITATION_DECLINED: &str = "coach_invitation_declined";
    pub const COACH_ACCESS_GRANTED: &str = "coach_access_granted";
    pub const COACH_ACCESS_CHANGED: &str = "coach_access_changed";
    pub const COACH_ACCESS_REVOKED: &str = "coach_access_revoked";
    pub const COACH_LINK_ENDED: &str = "coach_link_ended";
    pub const SOURCE_VISIBILITY_CHANGED: &str = "source_visibility_changed";

    /// Every type, for the audit page's filter.
    pub const ALL: &[&str] = &[
        SIGNUP,
        LOGIN,
        LOGOUT,
        PASSWORD_CHANGED,
        PROFILE_CHANGED,
        SESSION_ENDED,
        SESSIONS_ENDED,
        ROLE_GRANTED,
        ROLE_REVOKED,
        USER_DISABLED,
        USER_ENABLED,
        USER_DELETED,
        ACCOUNT_DELETED,
        ADMIN_CREATED,
        OAUTH_APP_CREATED,
        OAUTH_APP_CHANGED,
        PROVIDER_CONNECTED,
        PROVIDER_DISCONNECTED,
        JOB_RETRIED,
        OAUTH_SUBSCRIPTION_CREATED,
        OAUTH_SUBSCRIPTION_DELETED,
        OAUTH_APP_TESTED,
        COACH_INVITED,
        COACH_INVITATION_CANCELLED,
        COACH_INVITATION_DECLINED,
        COACH_ACCESS_GRANTED,
        COACH_ACCESS_CHANGED,
        COACH_ACCESS_REVOKED,
        COACH_LINK_ENDED,
        SOURCE_VISIBILITY_CHANGED,
    ];
}

/// One event to record.
#[derive(Debug, Clone, Default)]
pub struct NewEvent<'a> {
    pub actor: Option<Uuid>,
    pub subject: Option<Uuid>,
    pub subject_email: Option<&'a str>,
    pub event_type: &'a str,
    pub ip: &'a str,
    pub user_agent: &'a str,
    pub success: bool,
    pub details: serde_json::Value,
}

/// Append an event.
///
/// # Errors
/// Database errors.
pub async fn record(conn: &mut PgConnection, event: NewEvent<'_>) -> Result<(), sqlx::Error> {
    let details = if event.details.is_null() {
        serde_json::json!({})
    } else {
        event.details
    };
    sqlx::query!(
        "INSERT INTO audit_events (actor_user_id, subject_user_id, subject_email, event_type, ip, user_agent, outcome, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        event.actor,
        event.subject,
        event.subject_email,
        event.event_type,
        event.ip,
        event.user_agent,
        if event.success { "success" } else { "failure" },
        details
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An event as the audit page shows it.
#[derive(Debug, Clone)]
pub struct EventRow {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub actor_email: Option<String>,
    pub subject_email: Option<String>,
    pub event_type: String,
    pub ip: String,
    pub user_agent: String,
    pub outcome: String,
    pub details: serde_json::Value,
}

/// Filters of the audit page.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Matches actor or subject email (substring).
    pub user: Option<String>,
    pub event_type: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// A page of events, newest first, and the total matching; one query.
///
/// # Errors
/// Database errors.
pub async fn search(
    conn: &mut PgConnection,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<EventRow>, i64), sqlx::Error> {
    let user = filter.user.as_deref().map(|u| {
        format!(
            "%{}%",
            u.trim()
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let rows = sqlx::query!(
        r#"SELECT e.id, e.occurred_at, a.email AS "actor_email?", coalesce(s.email, e.subject_email) AS "subject_email?",
                  e.event_type, e.ip, e.user_agent, e.outcome, e.details, count(*) OVER () AS "total!"
           FROM audit_events e
           LEFT JOIN users a ON a.id = e.actor_user_id
           LEFT JOIN users s ON s.id = e.subject_user_id
           WHERE ($1::text IS NULL OR lower(coalesce(s.email, e.subject_email, '')) LIKE $1 OR lower(coalesce(a.email, '')) LIKE $1)
             AND ($2::text IS NULL OR e.event_type = $2)
             AND ($3::timestamptz IS NULL OR e.occurred_at >= $3)
             AND ($4::timestamptz IS NULL OR e.occurred_at < $4)
           ORDER BY e.occurred_at DESC, e.id DESC
           LIMIT $5 OFFSET $6"#,
        user,
        filter.event_type,
        filter.from,
        filter.until,
        limit,
        offset
    )
    .fetch_all(conn)
    .await?;
    let total = rows.first().map_or(0, |row| row.total);
    let events = rows
        .into_iter()
        .map(|row| EventRow {
            id: row.id,
            occurred_at: row.occurred_at,
            actor_email: row.actor_email,
            subject_email: row.subject_email,
            event_type: row.event_type,
            ip: row.ip,
            user_agent: row.user_agent,
            outcome: row.outcome,
            details: row.details,
        })
        .collect();
    Ok((events, total))
}
