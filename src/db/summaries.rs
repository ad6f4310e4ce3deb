//! One row per athlete with what dashboards read.
//!
//! The row holds the daily load series and the all-time records (best
//! mean-max power per ladder rung, best running effort per distance) with
//! the activity and day that set them.
//!
//! Kept up to date incrementally at import ([`apply`], in the importing
//! transaction) and rebuilt from `activities` after a delete or a threshold
//! recompute ([`rebuild`]). Both take a per-athlete transaction-scoped
//! advisory lock, so an import and a rebuild never lose each other's work.
//! The arithmetic lives in [`Summary`] (pure, unit-tested).
//!
//! Every athlete has two rows ([`Scope`]): `all` (what the athlete sees) and
//! `coach` (only activities whose source coaches may see, per the admin's
//! `source_visibility`; Strava's terms keep Strava data from coaches). Both
//! are written by the same [`apply`] and [`rebuild`].

use chrono::{NaiveDate, TimeDelta};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::curves::DURATION_LADDER;
use crate::analytics::pace::BEST_EFFORT_DISTANCES;

/// Which activities a summary row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every activity: what the athlete sees.
    All,
    /// Only activities of sources coaches may see.
    Coach,
}

impl Scope {
    /// The storage form.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Coach => "coach",
        }
    }
}

/// A record: the value, and the activity and day that set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Record {
    /// Watts (power) or seconds (efforts).
    pub value: f32,
    pub activity: Uuid,
    pub day: NaiveDate,
}

/// What one activity contributes to its athlete's summary.
#[derive(Debug, Clone, PartialEq)]
pub struct Contribution {
    pub activity: Uuid,
    pub day: NaiveDate,
    pub load: f64,
    /// Mean-max watts per [`DURATION_LADDER`] rung (empty without power).
    pub power_curve: Vec<Option<f32>>,
    /// Seconds per [`BEST_EFFORT_DISTANCES`] entry (empty unless a run).
    pub best_efforts: Vec<Option<f32>>,
}

/// An athlete's daily loads and all-time records.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// The day of `loads[0]`.
    pub first_day: NaiveDate,
    /// One load per day from `first_day` (days without training are 0).
    pub loads: Vec<f64>,
    /// Best power per ladder rung (`DURATION_LADDER.len()` entries).
    pub power: Vec<Option<Record>>,
    /// Fastest time per best-effort distance (`BEST_EFFORT_DISTANCES.len()` entries).
    pub efforts: Vec<Option<Record>>,
}

fn days_between(from: NaiveDate, to: NaiveDate) -> i64 {
    (to - from).num_days()
}

impl Summary {
    /// An empty summary starting on `day`.
    #[must_use]
    pub fn empty(day: NaiveDate) -> Self {
        Self {
            first_day: day,
            loads: Vec::new(),
            power: vec![None; DURATION_LADDER.len()],
            efforts: vec![None; BEST_EFFORT_DISTANCES.len()],
        }
    }

    /// Add one activity: its load to its day (extending the series either
    /// way), and any record it beats. Ties keep the earlier record.
    pub fn add(&mut self, c: &Contribution) {
        if self.loads.is_empty() {
            self.first_day = c.day;
        }
        let offset = days_between(self.first_day, c.day);
        if offset < 0 {
            let extra = usize::try_from(-offset).unwrap_or(0);
            let mut loads = vec![0.0; extra];
            loads.append(&mut self.loads);
            self.loads = loads;
            self.first_day = c.day;
        }
        let index = usize::try_from(days_between(self.first_day, c.day)).unwrap_or(0);
        if self.loads.len() <= index {
            self.loads.resize(index + 1, 0.0);
        }
        if let Some(slot) = self.loads.get_mut(index) {
            *slot += c.load;
        }
        merge(&mut self.power, &c.power_curve, c, |new, old| new > old);
        merge(&mut self.efforts, &c.best_efforts, c, |new, old| new < old);
    }

    /// The summary of a set of activities (in start order), or `None` if empty.
    #[must_use]
    pub fn build<'a>(activities: impl IntoIterator<Item = &'a Contribution>) -> Option<Self> {
        let mut out: Option<Self> = None;
        for c in activities {
            out.get_or_insert_with(|| Self::empty(c.day)).add(c);
        }
        out
    }

    /// Daily loads from `from` to `to` inclusive (0 outside the series).
    #[must_use]
    pub fn series(&self, from: NaiveDate, to: NaiveDate) -> Vec<f64> {
        let n = usize::try_from(days_between(from, to) + 1).unwrap_or(0);
        let start = days_between(self.first_day, from);
        (0..n)
            .map(|i| {
                let k = start + i64::try_from(i).unwrap_or(i64::MAX);
                usize::try_from(k)
                    .ok()
                    .and_then(|k| self.loads.get(k))
                    .copied()
                    .unwrap_or(0.0)
            })
            .collect()
    }

    /// The last day with a stored load entry.
    #[must_use]
    pub fn last_day(&self) -> NaiveDate {
        let len = i64::try_from(self.loads.len()).unwrap_or(0);
        self.first_day + TimeDelta::days((len - 1).max(0))
    }
}

fn merge(
    records: &mut Vec<Option<Record>>,
    values: &[Option<f32>],
    c: &Contribution,
    better: impl Fn(f32, f32) -> bool,
) {
    if records.len() < values.len() {
        records.resize(values.len(), None);
    }
    for (slot, value) in records.iter_mut().zip(values) {
        let Some(value) = value.filter(|v| v.is_finite() && *v > 0.0) else {
            continue;
        };
        if slot.is_none_or(|old| better(value, old.value)) {
            *slot = Some(Record {
                value,
                activity: c.activity,
                day: c.day,
            });
        }
    }
}

/// The stored columns of a summary, in storage form.
#[derive(Debug, Default)]
pub struct Columns {
    pub first_day: NaiveDate,
    /// Big-endian float8 per day ([`encode_loads`]).
    pub loads: Vec<u8>,
    pub power_best: Vec<f32>,
    pub power_best_activity: Vec<Uuid>,
    pub power_best_day: Vec<NaiveDate>,
    pub effort_best: Vec<f32>,
    pub effort_best_activity: Vec<Uuid>,
    pub effort_best_day: Vec<NaiveDate>,
}

/// The stored form of the daily loads: 8 bytes per day, big-endian float8
/// (what PostgreSQL's `float8send` writes, so SQL can build it too).
#[must_use]
pub fn encode_loads(loads: &[f64]) -> Vec<u8> {
    loads.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// The inverse of [`encode_loads`]; a trailing partial value is ignored.
#[must_use]
pub fn decode_loads(bytes: &[u8]) -> Vec<f64> {
    bytes
        .chunks_exact(8)
        .map(|c| {
            let mut b = [0u8; 8];
            b.copy_from_slice(c);
            f64::from_be_bytes(b)
        })
        .collect()
}

/// Records are stored as three parallel arrays; a missing record is value 0.
fn records_from(
    values: &[f32],
    ids: &[Uuid],
    days: &[NaiveDate],
    len: usize,
) -> Vec<Option<Record>> {
    (0..len)
        .map(|i| {
            let value = *values.get(i)?;
            (value > 0.0).then_some(Record {
                value,
                activity: *ids.get(i)?,
                day: *days.get(i)?,
            })
        })
        .collect()
}

fn records_to(records: &[Option<Record>]) -> (Vec<f32>, Vec<Uuid>, Vec<NaiveDate>) {
    let mut values = Vec::with_capacity(records.len());
    let mut ids = Vec::with_capacity(records.len());
    let mut days = Vec::with_capacity(records.len());
    for r in records {
        values.push(r.map_or(0.0, |r| r.value));
        ids.push(r.map_or(Uuid::nil(), |r| r.activity));
        days.push(r.map_or(NaiveDate::default(), |r| r.day));
    }
    (values, ids, days)
}

impl From<Columns> for Summary {
    fn from(c: Columns) -> Self {
        Self {
            first_day: c.first_day,
            loads: decode_loads(&c.loads),
            power: records_from(
                &c.power_best,
                &c.power_best_activity,
                &c.power_best_day,
                DURATION_LADDER.len(),
            ),
            efforts: records_from(
                &c.effort_best,
                &c.effort_best_activity,
                &c.effort_best_day,
                BEST_EFFORT_DISTANCES.len(),
            ),
        }
    }
}

/// Serialise updates of one athlete's summary for the rest of the transaction.
async fn lock(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "SELECT pg_advisory_xact_lock(2, hashtext($1::uuid::text)) AS locked",
        user_id
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// The stored summary of an athlete.
///
/// # Errors
/// Database errors.
pub async fn get(
    conn: &mut PgConnection,
    user_id: Uuid,
    scope: Scope,
) -> Result<Option<Summary>, sqlx::Error> {
    let row = sqlx::query_as!(
        Columns,
        "SELECT first_day, loads, power_best, power_best_activity, power_best_day, effort_best,
                effort_best_activity, effort_best_day
         FROM athlete_summaries WHERE user_id = $1 AND scope = $2",
        user_id,
        scope.as_str()
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Summary::from))
}

/// Store (insert or replace) an athlete's summary as given, without the lock
/// (for callers that own every write of the athlete, e.g. bulk seeding).
///
/// # Errors
/// Database errors.
pub async fn store(
    conn: &mut PgConnection,
    user_id: Uuid,
    scope: Scope,
    s: &Summary,
) -> Result<(), sqlx::Error> {
    let (pv, pa, pd) = records_to(&s.power);
    let (ev, ea, ed) = records_to(&s.efforts);
    sqlx::query!(
        "INSERT INTO athlete_summaries (user_id, first_day, loads, power_best, power_best_activity, power_best_day,
             effort_best, effort_best_activity, effort_best_day, updated_at, scope)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, now(), $10)
         ON CONFLICT (user_id, scope) DO UPDATE SET first_day = EXCLUDED.first_day, loads = EXCLUDED.loads,
             power_best = EXCLUDED.power_best, power_best_activity = EXCLUDED.power_best_activity,
             power_best_day = EXCLUDED.power_best_day, effort_best = EXCLUDED.effort_best,
             effort_best_activity = EXCLUDED.effort_best_activity, effort_best_day = EXCLUDED.effort_best_day,
             updated_at = now()",
        user_id,
        s.first_day,
        encode_loads(&s.loads),
        &pv,
        &pa,
        &pd,
        &ev,
        &ea,
        &ed,
        scope.as_str()
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// Whether coaches may see activities of `source` (admin setting).
///
/// # Errors
/// Database errors.
pub async fn coach_visible(conn: &mut PgConnection, source: &str) -> Result<bool, sqlx::Error> {
    Ok(sqlx::query_scalar!(
        "SELECT coach_visible FROM source_visibility WHERE source = $1",
        source
    )
    .fetch_optional(conn)
    .await?
    .unwrap_or(false))
}

/// Add one newly stored activity to its athlete's summary (incremental; in
/// the importing transaction).
///
/// # Errors
/// Database errors.
pub async fn apply(
    conn: &mut PgConnection,
    user_id: Uuid,
    source: &str,
    c: &Contribution,
) -> Result<(), sqlx::Error> {
    lock(conn, user_id).await?;
    let scopes: &[Scope] = if coach_visible(conn, source).await? {
        &[Scope::All, Scope::Coach]
    } else {
        &[Scope::All]
    };
    for &scope in scopes {
        let mut summary = get(conn, user_id, scope)
            .await?
            .unwrap_or_else(|| Summary::empty(c.day));
        summary.add(c);
        store(conn, user_id, scope, &summary).await?;
    }
    Ok(())
}

/// Rebuild an athlete's summary rows (both scopes) from all their stored
/// activities (after a delete, an edit or a recompute). Removes a row when
/// nothing is left for it.
///
/// # Errors
/// Database errors.
pub async fn rebuild(conn: &mut PgConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    rebuild_scopes(conn, user_id, &[Scope::All, Scope::Coach]).await
}

/// [`rebuild`] of only some scopes: a change of what coaches may see rebuilds
/// the `coach` row and leaves the athlete's own row (and its version, which
/// keys the athlete's cached charts) alone.
///
/// # Errors
/// Database errors.
pub async fn rebuild_scopes(
    conn: &mut PgConnection,
    user_id: Uuid,
    scopes: &[Scope],
) -> Result<(), sqlx::Error> {
    lock(conn, user_id).await?;
    let rows = sqlx::query!(
        r#"SELECT a.id, a.local_day, a.load, a.power_curve AS "power_curve: Vec<Option<f32>>",
                  a.best_efforts AS "best_efforts: Vec<Option<f32>>",
                  coalesce(v.coach_visible, false) AS "coach_visible!"
           FROM activities a LEFT JOIN source_visibility v ON v.source = a.source
           WHERE a.user_id = $1 ORDER BY a.start_time, a.id"#,
        user_id
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut all = Vec::with_capacity(rows.len());
    let mut coach = Vec::with_capacity(rows.len());
    for r in rows {
        let c = Contribution {
            activity: r.id,
            day: r.local_day,
            load: r.load,
            power_curve: r.power_curve.unwrap_or_default(),
            best_efforts: r.best_efforts.unwrap_or_default(),
        };
        if r.coach_visible {
            coach.push(c.clone());
        }
        all.push(c);
    }
    for (scope, contributions) in [(Scope::All, all), (Scope::Coach, coach)] {
        if !scopes.contains(&scope) {
            continue;
        }
        if let Some(summary) = Summary::build(&contributions) {
            store(conn, user_id, scope, &summary).await?;
        } else {
            sqlx::query!(
                "DELETE FROM athlete_summaries WHERE user_id = $1 AND scope = $2",
                user_id,
                scope.as_str()
            )
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn c(n: u128, d: u32, load: f64, p: &[f32], e: &[f32]) -> Contribution {
        Contribution {
            activity: Uuid::from_u128(n),
            day: day(d),
            load,
            power_curve: p.iter().map(|v| Some(*v)).collect(),
            best_efforts: e.iter().map(|v| Some(*v)).collect(),
        }
    }

    #[test]
    fn loads_extend_both_ways_and_sum_per_day() {
        let mut s = Summary::empty(day(10));
        s.add(&c(1, 10, 50.0, &[], &[]));
        s.add(&c(2, 13, 20.0, &[], &[]));
        s.add(&c(3, 13, 5.0, &[], &[]));
        s.add(&c(4, 8, 7.0, &[], &[]));
        assert_eq!(s.first_day, day(8));
        assert_eq!(s.loads, vec![7.0, 0.0, 50.0, 0.0, 0.0, 25.0]);
        assert_eq!(s.last_day(), day(13));
        assert_eq!(s.series(day(7), day(9)), vec![0.0, 7.0, 0.0]);
        assert_eq!(s.series(day(13), day(15)), vec![25.0, 0.0, 0.0]);
    }

    #[test]
    fn records_keep_the_best_and_the_first_on_ties() {
        let a = c(1, 1, 0.0, &[500.0, 400.0], &[100.0]);
        let b = c(2, 2, 0.0, &[500.0, 450.0], &[90.0, 300.0]);
        let s = Summary::build([&a, &b]).unwrap();
        assert_eq!(
            s.power[0].unwrap().activity,
            Uuid::from_u128(1),
            "tie keeps the first"
        );
        assert!((s.power[1].unwrap().value - 450.0).abs() < 1e-6);
        assert_eq!(s.power[1].unwrap().day, day(2));
        assert!(
            (s.efforts[0].unwrap().value - 90.0).abs() < 1e-6,
            "lower time is better"
        );
        assert!((s.efforts[1].unwrap().value - 300.0).abs() < 1e-6);
        assert!(s.power[5].is_none());
    }

    #[test]
    fn incremental_equals_rebuild_in_any_order() {
        let acts = [
            c(1, 5, 30.0, &[300.0, 250.0], &[]),
            c(2, 2, 60.0, &[320.0], &[200.0]),
            c(3, 9, 10.0, &[], &[190.0, 400.0]),
        ];
        let built = Summary::build(&acts).unwrap();
        let mut inc = Summary::empty(day(9));
        for a in acts.iter().rev() {
            inc.add(a);
        }
        assert_eq!(built.loads, inc.loads);
        assert_eq!(built.first_day, inc.first_day);
        assert_eq!(built.power, inc.power);
        assert_eq!(built.efforts, inc.efforts);
    }

    #[test]
    fn loads_are_stored_as_float8send_bytes() {
        let loads = [0.0, 12.5, -1.0, 1e300];
        let bytes = encode_loads(&loads);
        assert_eq!(bytes.len(), 32);
        // float8send(12.5) = 0x4029000000000000
        assert_eq!(&bytes[8..16], &[0x40, 0x29, 0, 0, 0, 0, 0, 0]);
        assert_eq!(decode_loads(&bytes), loads);
        assert!(decode_loads(&bytes[..7]).is_empty());
    }

    #[test]
    fn storage_round_trip() {
        let s = Summary::build(&[c(1, 3, 12.5, &[300.0, 0.0, 200.0], &[95.0])]).unwrap();
        let (pv, pa, pd) = records_to(&s.power);
        let (ev, ea, ed) = records_to(&s.efforts);
        let back = Summary::from(Columns {
            first_day: s.first_day,
            loads: encode_loads(&s.loads),
            power_best: pv,
            power_best_activity: pa,
            power_best_day: pd,
            effort_best: ev,
            effort_best_activity: ea,
            effort_best_day: ed,
        });
        assert_eq!(back, s);
        assert!(back.power[1].is_none(), "0 W is no record");
    }
}
