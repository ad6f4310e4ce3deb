//! The evidence behind threshold suggestions.
//!
//! An athlete's best recent 20-minute power, highest recorded heart rate and best
//! running efforts, each with the activity it comes from. Read from the per-activity summary columns
//! (`power_curve`, `best_efforts`, `max_hr`), never from streams.
//!
//! Windows, counted back from `today` (inclusive, by the activity's local day):
//! - 20-minute power: rides (`cycling`) of the last [`POWER_WINDOW_DAYS`] days. Other
//!   sports' power (running power) is not used: FTP is a cycling threshold.
//! - Best efforts: runs of the last [`EFFORT_WINDOW_DAYS`] days, distances of 5 km and up.
//! - Max heart rate: any sport, the last [`MAX_HR_WINDOW_DAYS`] days (a max heart rate
//!   declines slowly with age and is rarely reached, so a longer window), plausible values
//!   only ([`suggest::MAX_HR_PLAUSIBLE`]).

use chrono::NaiveDate;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::curves::DURATION_LADDER;
use crate::analytics::pace::BEST_EFFORT_DISTANCES;
use crate::analytics::suggest;

/// Days of rides searched for the best 20-minute power.
pub const POWER_WINDOW_DAYS: i32 = 90;
/// Days of runs searched for best efforts.
pub const EFFORT_WINDOW_DAYS: i32 = 90;
/// Days of activities searched for the highest heart rate.
pub const MAX_HR_WINDOW_DAYS: i32 = 365;

/// The activity a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub activity: Uuid,
    pub name: String,
    pub day: NaiveDate,
}

/// A best running effort.
#[derive(Debug, Clone, PartialEq)]
pub struct Effort {
    pub distance_m: f64,
    pub time_s: f64,
    pub source: Source,
}

/// What the suggestions are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Evidence {
    /// Best 20-minute mean power, watts.
    pub best_20min: Option<(f64, Source)>,
    /// Highest plausible activity max heart rate, bpm.
    pub max_hr: Option<(f64, Source)>,
    /// The best effort at each distance of 5 km and up that was covered, shortest first.
    pub efforts: Vec<Effort>,
}

/// The 1-based SQL array index of the 20-minute rung of [`DURATION_LADDER`].
fn power_slot() -> i32 {
    DURATION_LADDER
        .iter()
        .position(|&d| d == suggest::FTP_TEST_S)
        .and_then(|i| i32::try_from(i + 1).ok())
        .unwrap_or(20)
}

/// The 1-based SQL array indices of the best-effort distances used (5 km and up).
fn effort_slots() -> Vec<i32> {
    BEST_EFFORT_DISTANCES
        .iter()
        .enumerate()
        .filter(|(_, d)| **d >= suggest::MIN_EFFORT_M)
        .filter_map(|(i, _)| i32::try_from(i + 1).ok())
        .collect()
}

/// The evidence for `user_id` up to `today`, in one statement.
///
/// # Errors
/// Database errors.
pub async fn evidence(
    conn: &mut PgConnection,
    user_id: Uuid,
    today: NaiveDate,
) -> Result<Evidence, sqlx::Error> {
    let rows = sqlx::query!(
        r#"WITH recent AS (
               SELECT id, name, local_day, sport, power_curve, best_efforts, max_hr
               FROM activities
               WHERE user_id = $1 AND local_day > $2::date - $3::int AND local_day <= $2::date
           )
           (SELECT 'power' AS "kind!", 0 AS "slot!", power_curve[$4::int]::float8 AS "value!", id AS "id!",
                   name AS "name!", local_day AS "local_day!"
            FROM recent
            WHERE sport = 'cycling' AND local_day > $2::date - $5::int AND power_curve[$4::int] IS NOT NULL
            ORDER BY power_curve[$4::int] DESC, local_day DESC, id LIMIT 1)
           UNION ALL
           (SELECT 'max_hr', 0, max_hr, id, name, local_day
            FROM recent
            WHERE local_day > $2::date - $6::int AND max_hr BETWEEN $7::float8 AND $8::float8
            ORDER BY max_hr DESC, local_day DESC, id LIMIT 1)
           UNION ALL
           (SELECT DISTINCT ON (slot) 'effort', slot, best_efforts[slot]::float8, id, name, local_day
            FROM recent CROSS JOIN unnest($9::int[]) AS slot
            WHERE sport = 'running' AND local_day > $2::date - $10::int AND best_efforts[slot] > 0
            ORDER BY slot, best_efforts[slot], local_day DESC, id)"#,
        user_id,
        today,
        POWER_WINDOW_DAYS
            .max(EFFORT_WINDOW_DAYS)
            .max(MAX_HR_WINDOW_DAYS),
        power_slot(),
        POWER_WINDOW_DAYS,
        MAX_HR_WINDOW_DAYS,
        suggest::MAX_HR_PLAUSIBLE.0,
        suggest::MAX_HR_PLAUSIBLE.1,
        &effort_slots(),
        EFFORT_WINDOW_DAYS,
    )
    .fetch_all(conn)
    .await?;
    let mut evidence = Evidence::default();
    for r in rows {
        let source = Source {
            activity: r.id,
            name: r.name,
            day: r.local_day,
        };
        match r.kind.as_str() {
            "power" => evidence.best_20min = Some((r.value, source)),
            "max_hr" => evidence.max_hr = Some((r.value, source)),
            _ => {
                let distance = usize::try_from(r.slot - 1)
                    .ok()
                    .and_then(|i| BEST_EFFORT_DISTANCES.get(i));
                if let Some(&distance_m) = distance {
                    evidence.efforts.push(Effort {
                        distance_m,
                        time_s: r.value,
                        source,
                    });
                }
            }
        }
    }
    evidence
        .efforts
        .sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
    Ok(evidence)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_the_ladders() {
        assert_eq!(power_slot(), 20);
        assert_eq!(effort_slots(), vec![4, 5, 6, 7]);
        let distances: Vec<f64> = effort_slots()
            .iter()
            .map(|&s| BEST_EFFORT_DISTANCES[usize::try_from(s - 1).unwrap()])
            .collect();
        assert_eq!(distances, vec![5000.0, 10_000.0, 21_097.5, 42_195.0]);
    }
}
