//! The statements behind the coach roster (`GET /coach`).
//!
//! [`links`] is the one statement read on every view: the coach's linked
//! athletes with, per athlete, today in the athlete's time zone, the version
//! (`updated_at`) of their `coach` summary row, whether they have any
//! thresholds and the coach's tags. [`loads`] reads the daily loads of the
//! athletes whose derived figures are not cached, all in one statement.
//! Neither depends on the number of athletes for its statement count.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::db::summaries::decode_loads;

/// One linked athlete as the roster reads it on every view.
#[derive(Debug, Clone)]
pub struct Link {
    pub athlete_id: Uuid,
    pub name: String,
    /// `summary` | `full`.
    pub access: String,
    /// Today in the athlete's time zone (what their own dashboard calls today).
    pub today: NaiveDate,
    /// When the athlete's coach-visible summary last changed; `None`: nothing
    /// the coach may see was ever recorded.
    pub summary_updated: Option<DateTime<Utc>>,
    pub has_thresholds: bool,
    /// The coach's own tags for this athlete, sorted.
    pub tags: Vec<String>,
}

/// The coach's linked athletes whose accounts are active (a disabled one's
/// coach pages answer 404, as in `subjects::coach_view`), in one statement.
///
/// The coach's tags are aggregated once and joined, not by a subquery per
/// athlete: with 200 athletes the statement took 0.69 ms per execution with
/// the per-row subquery and 0.49 ms joined (`pgbench -M prepared -c 2`,
/// docs/PERFORMANCE.md).
///
/// # Errors
/// Database errors.
pub async fn links(
    conn: &mut PgConnection,
    coach_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Link>, sqlx::Error> {
    let rows = sqlx::query!(
        r#"SELECT l.athlete_id, u.display_name, l.access,
                  ($2::timestamptz AT TIME ZONE u.time_zone)::date AS "today!",
                  s.updated_at AS "summary_updated?",
                  EXISTS (SELECT 1 FROM athlete_thresholds t WHERE t.user_id = l.athlete_id) AS "has_thresholds!",
                  coalesce(tg.tags, '{}'::text[]) AS "tags!"
           FROM coach_links l
           JOIN users u ON u.id = l.athlete_id
           LEFT JOIN athlete_summaries s ON s.user_id = l.athlete_id AND s.scope = 'coach'
           LEFT JOIN (SELECT ct.athlete_id, array_agg(ct.tag ORDER BY ct.tag) AS tags
                      FROM coach_tags ct WHERE ct.coach_id = $1 GROUP BY ct.athlete_id) tg
                  ON tg.athlete_id = l.athlete_id
           WHERE l.coach_id = $1 AND u.disabled_at IS NULL"#,
        coach_id,
        now
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Link {
            athlete_id: r.athlete_id,
            name: r.display_name,
            access: r.access,
            today: r.today,
            summary_updated: r.summary_updated,
            has_thresholds: r.has_thresholds,
            tags: r.tags,
        })
        .collect())
}

/// The coach-visible daily loads (first day, one load per day) of `athletes`, in one statement.
///
/// # Errors
/// Database errors.
pub async fn loads(
    conn: &mut PgConnection,
    athletes: &[Uuid],
) -> Result<Vec<(Uuid, NaiveDate, Vec<f64>)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT user_id, first_day, loads FROM athlete_summaries
         WHERE user_id = ANY($1::uuid[]) AND scope = 'coach'",
        athletes
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.user_id, r.first_day, decode_loads(&r.loads)))
        .collect())
}

/// Tag a linked athlete (no-op if the tag exists); `false` if not linked.
///
/// # Errors
/// Database errors.
pub async fn add_tag(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
    tag: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH link AS (SELECT coach_id, athlete_id FROM coach_links WHERE coach_id = $1 AND athlete_id = $2),
                ins AS (INSERT INTO coach_tags (coach_id, athlete_id, tag)
                        SELECT coach_id, athlete_id, $3 FROM link ON CONFLICT DO NOTHING)
           SELECT EXISTS (SELECT 1 FROM link) AS "linked!""#,
        coach_id,
        athlete_id,
        tag
    )
    .fetch_one(conn)
    .await
}

/// Remove a tag from a linked athlete; `false` if not linked.
///
/// # Errors
/// Database errors.
pub async fn remove_tag(
    conn: &mut PgConnection,
    coach_id: Uuid,
    athlete_id: Uuid,
    tag: &str,
) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar!(
        r#"WITH del AS (DELETE FROM coach_tags WHERE coach_id = $1 AND athlete_id = $2 AND tag = $3)
           SELECT EXISTS (SELECT 1 FROM coach_links WHERE coach_id = $1 AND athlete_id = $2) AS "linked!""#,
        coach_id,
        athlete_id,
        tag
    )
    .fetch_one(conn)
    .await
}
