//! The one lookup behind every coach view of an athlete (`/coach/athletes/{id}…`).
//!
//! Read on every request (no caching), so a revoked link or a changed access
//! level takes effect on the coach's next request.

use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::coaching::Access;

/// What a coach may see of one linked athlete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoachView {
    /// The athlete's display name.
    pub name: String,
    pub access: Access,
    /// The activity sources coaches may see (admin setting `source_visibility`).
    pub sources: Vec<String>,
}

/// The link of `coach_id` to `athlete_id` with the athlete's name and the
/// coach-visible sources, in one statement; `None` when they are not linked.
///
/// # Errors
/// Database errors.
pub async fn coach_view(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
) -> Result<Option<CoachView>, sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT u.display_name, l.access,
                  coalesce((SELECT array_agg(v.source ORDER BY v.source) FROM source_visibility v
                            WHERE v.coach_visible), '{}') AS "sources!"
           FROM coach_links l JOIN users u ON u.id = l.athlete_id
           WHERE l.coach_id = $1 AND l.athlete_id = $2 AND u.disabled_at IS NULL"#,
        coach_id,
        athlete_id
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.and_then(|r| {
        Access::parse(&r.access).map(|access| CoachView {
            name: r.display_name,
            access,
            sources: r.sources,
        })
    }))
}

/// Activities of one source the viewer may not see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Withheld {
    pub source: String,
    pub count: i64,
}

/// Per source, how many of the athlete's activities are outside `sources`
/// (one statement; empty for `None`, the athlete's own view).
///
/// # Errors
/// Database errors.
pub async fn withheld(
    conn: &mut PgConnection,
    athlete_id: Uuid,
    sources: Option<&[String]>,
) -> Result<Vec<Withheld>, sqlx::Error> {
    let Some(sources) = sources else {
        return Ok(Vec::new());
    };
    sqlx::query_as!(
        Withheld,
        r#"SELECT source, count(*) AS "count!" FROM activities
           WHERE user_id = $1 AND NOT (source = ANY($2))
           GROUP BY source ORDER BY source"#,
        athlete_id,
        sources
    )
    .fetch_all(conn)
    .await
}
