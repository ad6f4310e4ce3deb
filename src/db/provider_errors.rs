//! Recent errors talking to providers, for the admin page (`provider_errors`).

use sqlx::PgConnection;
use uuid::Uuid;

/// Record one error. `kind`: `oauth`, `api`, `webhook` or `sync`. The
/// message must not contain tokens or secrets.
///
/// # Errors
/// Database errors.
pub async fn insert(
    conn: &mut PgConnection,
    provider: &str,
    user_id: Option<Uuid>,
    kind: &str,
    status: Option<i32>,
    message: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO provider_errors (provider, user_id, kind, status, message) VALUES ($1, $2, $3, $4, $5)",
        provider,
        user_id,
        kind,
        status,
        message
    )
    .execute(conn)
    .await?;
    Ok(())
}
