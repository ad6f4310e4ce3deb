//! Date-effective athlete thresholds.

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

/// One dated set of thresholds (each value optional: unset values carry on
/// from earlier entries).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Thresholds {
    pub ftp_w: Option<f64>,
    pub lthr_bpm: Option<f64>,
    pub max_hr_bpm: Option<f64>,
    pub rest_hr_bpm: Option<f64>,
    pub threshold_speed_mps: Option<f64>,
    pub swim_speed_mps: Option<f64>,
    pub weight_kg: Option<f64>,
    pub sex: Option<String>,
}

/// A stored entry.
#[derive(Debug, Clone)]
pub struct Entry {
    pub id: i64,
    pub sport: String,
    pub effective_from: NaiveDate,
    pub values: Thresholds,
}

/// Add or replace the entry of a user for (sport, date).
///
/// # Errors
/// Database errors (including check violations, which the form prevents).
pub async fn upsert(
    conn: &mut PgConnection,
    user_id: Uuid,
    sport: &str,
    effective_from: NaiveDate,
    t: &Thresholds,
) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "INSERT INTO athlete_thresholds (user_id, sport, effective_from, ftp_w, lthr_bpm, max_hr_bpm, rest_hr_bpm,
             threshold_speed_mps, swim_speed_mps, weight_kg, sex)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (user_id, sport, effective_from) DO UPDATE SET
             ftp_w = EXCLUDED.ftp_w, lthr_bpm = EXCLUDED.lthr_bpm, max_hr_bpm = EXCLUDED.max_hr_bpm,
             rest_hr_bpm = EXCLUDED.rest_hr_bpm, threshold_speed_mps = EXCLUDED.threshold_speed_mps,
             swim_speed_mps = EXCLUDED.swim_speed_mps, weight_kg = EXCLUDED.weight_kg, sex = EXCLUDED.sex",
        user_id,
        sport,
        effective_from,
        t.ftp_w,
        t.lthr_bpm,
        t.max_hr_bpm,
        t.rest_hr_bpm,
        t.threshold_speed_mps,
        t.swim_speed_mps,
        t.weight_kg,
        t.sex,
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A user's entries, newest first.
///
/// # Errors
/// Database errors.
pub async fn history(conn: &mut PgConnection, user_id: Uuid) -> Result<Vec<Entry>, sqlx::Error> {
    let rows = sqlx::query!(
        "SELECT id, sport, effective_from, ftp_w, lthr_bpm, max_hr_bpm, rest_hr_bpm, threshold_speed_mps,
                swim_speed_mps, weight_kg, sex
         FROM athlete_thresholds WHERE user_id = $1 ORDER BY effective_from DESC, sport",
        user_id
    )
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Entry {
            id: r.id,
            sport: r.sport,
            effective_from: r.effective_from,
            values: Thresholds {
                ftp_w: r.ftp_w,
                lthr_bpm: r.lthr_bpm,
                max_hr_bpm: r.max_hr_bpm,
                rest_hr_bpm: r.rest_hr_bpm,
                threshold_speed_mps: r.threshold_speed_mps,
                swim_speed_mps: r.swim_speed_mps,
                weight_kg: r.weight_kg,
                sex: r.sex,
            },
        })
        .collect())
}

/// Delete one entry of a user; the day it was effective from, if it existed.
///
/// # Errors
/// Database errors.
pub async fn delete(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: i64,
) -> Result<Option<NaiveDate>, sqlx::Error> {
    sqlx::query_scalar!(
        "DELETE FROM athlete_thresholds WHERE user_id = $1 AND id = $2 RETURNING effective_from",
        user_id,
        id
    )
    .fetch_optional(conn)
    .await
}

/// The values in force on `date` for `sport`: for each value, the latest entry
/// on or before the date that sets it, sport-specific entries first, then `all`.
#[must_use]
pub fn in_force(history: &[Entry], sport: &str, date: NaiveDate) -> Thresholds {
    let mut applicable: Vec<&Entry> = history
        .iter()
        .filter(|e| e.effective_from <= date && (e.sport == sport || e.sport == "all"))
        .collect();
    // Newest first; on the same date the sport-specific entry wins.
    applicable.sort_by(|a, b| {
        b.effective_from
            .cmp(&a.effective_from)
            .then_with(|| (a.sport == "all").cmp(&(b.sport == "all")))
    });
    let pick =
        |f: &dyn Fn(&Thresholds) -> Option<f64>| applicable.iter().find_map(|e| f(&e.values));
    Thresholds {
        ftp_w: pick(&|t| t.ftp_w),
        lthr_bpm: pick(&|t| t.lthr_bpm),
        max_hr_bpm: pick(&|t| t.max_hr_bpm),
        rest_hr_bpm: pick(&|t| t.rest_hr_bpm),
        threshold_speed_mps: pick(&|t| t.threshold_speed_mps),
        swim_speed_mps: pick(&|t| t.swim_speed_mps),
        weight_kg: pick(&|t| t.weight_kg),
        sex: applicable.iter().find_map(|e| e.values.sex.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(sport: &str, date: (i32, u32, u32), t: Thresholds) -> Entry {
        Entry {
            id: 0,
            sport: sport.to_owned(),
            effective_from: NaiveDate::from_ymd_opt(date.0, date.1, date.2).unwrap(),
            values: t,
        }
    }

    #[test]
    fn values_carry_on_and_the_newest_applicable_wins() {
        let history = vec![
            entry(
                "cycling",
                (2025, 1, 1),
                Thresholds {
                    ftp_w: Some(250.0),
                    ..Thresholds::default()
                },
            ),
            entry(
                "all",
                (2025, 1, 1),
                Thresholds {
                    max_hr_bpm: Some(190.0),
                    weight_kg: Some(70.0),
                    ..Thresholds::default()
                },
            ),
            entry(
                "cycling",
                (2025, 6, 1),
                Thresholds {
                    ftp_w: Some(270.0),
                    ..Thresholds::default()
                },
            ),
            entry(
                "running",
                (2025, 3, 1),
                Thresholds {
                    lthr_bpm: Some(170.0),
                    ..Thresholds::default()
                },
            ),
        ];
        let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
        assert_eq!(in_force(&history, "cycling", d(5, 31)).ftp_w, Some(250.0));
        assert_eq!(in_force(&history, "cycling", d(6, 1)).ftp_w, Some(270.0));
        assert_eq!(
            in_force(&history, "cycling", d(6, 1)).max_hr_bpm,
            Some(190.0),
            "'all' values apply"
        );
        assert_eq!(
            in_force(&history, "cycling", d(6, 1)).lthr_bpm,
            None,
            "another sport's values do not"
        );
        assert_eq!(
            in_force(&history, "running", d(2, 1)).lthr_bpm,
            None,
            "not before its date"
        );
        assert_eq!(in_force(&history, "running", d(3, 1)).lthr_bpm, Some(170.0));
        assert_eq!(
            in_force(
                &history,
                "cycling",
                NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()
            ),
            Thresholds::default()
        );
    }
}
