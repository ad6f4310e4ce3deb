//! Comments on activities (by the athlete or a linked coach) and what each
//! reader has read, for "new comments" badges.
//!
//! A comment is "new" for a user when someone else wrote it after the user
//! last opened that activity's comments (`comment_reads.read_at`), or ever if
//! they never did. Counts are one aggregate query each, never one per row.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

/// Longest comment accepted (characters; the schema checks it too).
pub const MAX_BODY: usize = 2000;

/// One comment with its author.
#[derive(Debug, Clone)]
pub struct Comment {
    pub id: Uuid,
    pub author_id: Uuid,
    pub author_name: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// An activity's comments, oldest first.
///
/// # Errors
/// Database errors.
pub async fn list(conn: &mut PgConnection, activity_id: Uuid) -> Result<Vec<Comment>, sqlx::Error> {
    sqlx::query_as!(
        Comment,
        r#"SELECT c.id, c.author_id, u.display_name AS author_name, c.body, c.created_at
           FROM activity_comments c JOIN users u ON u.id = c.author_id
           WHERE c.activity_id = $1 ORDER BY c.created_at, c.id"#,
        activity_id
    )
    .fetch_all(conn)
    .await
}

/// Add a comment (the caller has checked who may comment and the body).
/// The author has read everything up to their own comment.
///
/// # Errors
/// Database errors.
pub async fn add(
    conn: &mut PgConnection,
    activity_id: Uuid,
    author_id: Uuid,
    body: &str,
    now: DateTime<Utc>,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO activity_comments (id, activity_id, author_id, body, created_at) VALUES ($1, $2, $3, $4, $5)",
        id,
        activity_id,
        author_id,
        body,
        now
    )
    .execute(&mut *conn)
    .await?;
    mark_read(conn, author_id, activity_id, now).await?;
    Ok(id)
}

/// Record that `user_id` has read the activity's comments up to `now`.
///
/// # Errors
/// Database errors.
pub async fn mark_read(
    conn: &mut PgConnection,
    user_id: Uuid,
    activity_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO comment_reads (user_id, activity_id, read_at) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, activity_id) DO UPDATE SET read_at = greatest(comment_reads.read_at, EXCLUDED.read_at)",
        user_id,
        activity_id,
        now
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// New comments (by others) per activity among `activity_ids`, for `user_id`.
/// Activities without new comments are absent. One query.
///
/// # Errors
/// Database errors.
pub async fn unread_by_activity(
    conn: &mut PgConnection,
    user_id: Uuid,
    activity_ids: &[Uuid],
) -> Result<HashMap<Uuid, i64>, sqlx::Error> {
    if activity_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = sqlx::query!(
        r#"SELECT c.activity_id, count(*) AS "n!"
           FROM activity_comments c
           LEFT JOIN comment_reads r ON r.user_id = $1 AND r.activity_id = c.activity_id
           WHERE c.activity_id = ANY($2) AND c.author_id <> $1
             AND (r.read_at IS NULL OR c.created_at > r.read_at)
           GROUP BY c.activity_id"#,
        user_id,
        activity_ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.activity_id, r.n)).collect())
}

/// New comments by others on all of an athlete's own activities. One query.
///
/// # Errors
/// Database errors.
pub async fn unread_for_athlete(
    conn: &mut PgConnection,
    athlete_id: Uuid,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!"
           FROM activity_comments c
           JOIN activities a ON a.id = c.activity_id
           LEFT JOIN comment_reads r ON r.user_id = $1 AND r.activity_id = c.activity_id
           WHERE a.user_id = $1 AND c.author_id <> $1
             AND (r.read_at IS NULL OR c.created_at > r.read_at)"#,
        athlete_id
    )
    .fetch_one(conn)
    .await
}

/// When `user_id` last read the activity's comments.
///
/// # Errors
/// Database errors.
pub async fn read_at(
    conn: &mut PgConnection,
    user_id: Uuid,
    activity_id: Uuid,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    sqlx::query_scalar!(
        "SELECT read_at FROM comment_reads WHERE user_id = $1 AND activity_id = $2",
        user_id,
        activity_id
    )
    .fetch_optional(conn)
    .await
}

/// Whose an activity is and where it came from.
#[derive(Debug, Clone)]
pub struct ActivityOwner {
    pub user_id: Uuid,
    /// Where it came from (`upload`, `strava`, `garmin`): a coach may comment
    /// only on sources coaches may see.
    pub source: String,
}

/// The owner of an activity, if it exists.
///
/// # Errors
/// Database errors.
pub async fn owner(
    conn: &mut PgConnection,
    activity_id: Uuid,
) -> Result<Option<ActivityOwner>, sqlx::Error> {
    sqlx::query_as!(
        ActivityOwner,
        "SELECT user_id, source FROM activities WHERE id = $1",
        activity_id
    )
    .fetch_optional(conn)
    .await
}

/// Validate a comment body: trimmed, 1 to [`MAX_BODY`] characters, no
/// control characters other than line breaks and tabs.
///
/// # Errors
/// The message to show under the field.
pub fn check_body(raw: &str) -> Result<String, String> {
    let body = raw.trim().replace("\r\n", "\n");
    let length = body.chars().count();
    if length == 0 {
        return Err("Write a comment first: it cannot be empty.".to_owned());
    }
    if length > MAX_BODY {
        return Err(format!(
            "A comment can be at most {MAX_BODY} characters; this one has {length}."
        ));
    }
    if body
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("A comment cannot contain control characters.".to_owned());
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_bounded_and_clean() {
        assert_eq!(
            check_body("  Nice ride!\r\nWell paced. ").unwrap(),
            "Nice ride!\nWell paced."
        );
        assert!(check_body("   ").is_err());
        assert!(check_body(&"x".repeat(MAX_BODY)).is_ok());
        assert!(check_body(&"x".repeat(MAX_BODY + 1)).is_err());
        assert!(check_body("a\u{0}b").is_err());
    }
}
