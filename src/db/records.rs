//! Reads for the records page: the best power per ladder rung and the fastest
//! running effort per distance over a range of days (one aggregate query),
//! and the names of the activities that set records.
//!
//! All-time records come from the athlete's summary row
//! ([`crate::db::summaries::get`]), not from here.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::curves::DURATION_LADDER;
use crate::analytics::pace::BEST_EFFORT_DISTANCES;
use crate::db::summaries::Record;

/// Best values over a range: per ladder rung and per effort distance.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeRecords {
    /// Best mean-max watts per [`DURATION_LADDER`] rung.
    pub power: Vec<Option<Record>>,
    /// Fastest seconds per [`BEST_EFFORT_DISTANCES`] entry.
    pub efforts: Vec<Option<Record>>,
}

/// The best power per rung and the fastest effort per distance, `first..=last`.
///
/// Over the athlete's activities on those local days: the maximum (power) or
/// minimum (time) over the range's activities, the earliest activity on ties.
/// One query: `unnest … WITH ORDINALITY`, one row per rung with `DISTINCT ON`.
///
/// # Errors
/// Database errors.
pub async fn over_range(
    conn: &mut PgConnection,
    user_id: Uuid,
    first: NaiveDate,
    last: NaiveDate,
) -> Result<RangeRecords, sqlx::Error> {
    let rows = sqlx::query!(
        r#"WITH recent AS (
               SELECT id, local_day, start_time, power_curve, best_efforts
               FROM activities
               WHERE user_id = $1 AND local_day BETWEEN $2 AND $3
                 AND (power_curve IS NOT NULL OR best_efforts IS NOT NULL)
           ), power AS (
               SELECT DISTINCT ON (u.ord) u.ord, u.v, r.id, r.local_day
               FROM recent r, unnest(r.power_curve) WITH ORDINALITY AS u(v, ord)
               WHERE u.v > 0 AND u.v < 'Infinity'::real
               ORDER BY u.ord, u.v DESC, r.start_time, r.id
           ), effort AS (
               SELECT DISTINCT ON (u.ord) u.ord, u.v, r.id, r.local_day
               FROM recent r, unnest(r.best_efforts) WITH ORDINALITY AS u(v, ord)
               WHERE u.v > 0 AND u.v < 'Infinity'::real
               ORDER BY u.ord, u.v ASC, r.start_time, r.id
           )
           SELECT true AS "is_power!", ord AS "ord!", v AS "value!", id AS "activity!", local_day AS "day!"
           FROM power
           UNION ALL
           SELECT false, ord, v, id, local_day FROM effort"#,
        user_id,
        first,
        last
    )
    .fetch_all(conn)
    .await?;
    let mut out = RangeRecords {
        power: vec![None; DURATION_LADDER.len()],
        efforts: vec![None; BEST_EFFORT_DISTANCES.len()],
    };
    for r in rows {
        let slots = if r.is_power {
            &mut out.power
        } else {
            &mut out.efforts
        };
        let slot = usize::try_from(r.ord - 1)
            .ok()
            .and_then(|i| slots.get_mut(i));
        if let Some(slot) = slot {
            *slot = Some(Record {
                value: r.value,
                activity: r.activity,
                day: r.day,
            });
        }
    }
    Ok(out)
}

/// The names of the athlete's activities among `ids` (others' and missing
/// ones are left out).
///
/// # Errors
/// Database errors.
pub async fn names(
    conn: &mut PgConnection,
    user_id: Uuid,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, name FROM activities WHERE user_id = $1 AND id = ANY($2)",
        user_id,
        ids
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.id, r.name)).collect())
}
