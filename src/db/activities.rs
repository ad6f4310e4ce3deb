//! Activities, their laps, streams and original files.
//!
//! Every query takes the owner's id: another user's activity answers exactly
//! like a missing one.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::analytics::summary::ActivityMetrics;
use crate::db::summaries;
use crate::domain::ParsedActivity;

/// Where an activity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Upload,
    Strava,
    Garmin,
}

impl Source {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Upload => "upload",
            Self::Strava => "strava",
            Self::Garmin => "garmin",
        }
    }
}

/// An activity to store.
#[derive(Debug)]
pub struct NewActivity<'a> {
    pub user_id: Uuid,
    pub source: Source,
    pub external_id: Option<&'a str>,
    pub name: &'a str,
    pub parsed: &'a ParsedActivity,
    pub file_sha256: Option<&'a [u8]>,
    /// The original file (name, gzip bytes, uncompressed size) for download.
    pub original: Option<(&'a str, &'a [u8], i64)>,
    /// Training metrics computed with the thresholds in force on its date.
    pub metrics: Option<&'a ActivityMetrics>,
}

/// The storage name of a load source.
#[must_use]
pub const fn load_source_str(source: crate::analytics::load::LoadSource) -> &'static str {
    use crate::analytics::load::LoadSource;
    match source {
        LoadSource::Power => "power",
        LoadSource::Pace => "pace",
        LoadSource::HeartRate => "heart_rate",
        LoadSource::None => "none",
    }
}

/// What happened to one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    Imported(Uuid),
    /// The same file (SHA-256) is already imported.
    SameFile(Uuid),
    /// Same sport starting within 60 s: probably the same activity from another file.
    ProbableDuplicate(Uuid),
}

/// Seconds within which two starts of the same sport are "the same activity".
pub const DUPLICATE_WINDOW_SECS: f64 = 60.0;

/// Store one activity with its laps, streams and original file, in the
/// caller's transaction (so nothing half-stored on any error), unless it is a
/// duplicate.
///
/// # Errors
/// Database errors.
pub async fn insert(conn: &mut PgConnection, new: &NewActivity<'_>) -> Result<Stored, sqlx::Error> {
    let p = new.parsed;
    if let Some(sha) = new.file_sha256 {
        let same = sqlx::query_scalar!(
            "SELECT id FROM activities WHERE user_id = $1 AND file_sha256 = $2",
            new.user_id,
            sha
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(id) = same {
            return Ok(Stored::SameFile(id));
        }
    }
    let probable = sqlx::query_scalar!(
        "SELECT id FROM activities
         WHERE user_id = $1 AND sport = $2
           AND start_time BETWEEN $3::timestamptz - make_interval(secs => $4) AND $3::timestamptz + make_interval(secs => $4)
         ORDER BY abs(extract(epoch FROM start_time - $3::timestamptz)) LIMIT 1",
        new.user_id,
        p.sport.as_str(),
        p.start,
        DUPLICATE_WINDOW_SECS
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = probable {
        return Ok(Stored::ProbableDuplicate(id));
    }

    let id = Uuid::now_v7();
    let t = &p.totals;
    let m = new.metrics;
    let has_route = p.streams.lat.is_some() && p.streams.lon.is_some();
    let power_curve = m
        .map(ActivityMetrics::power_ladder)
        .filter(|v| !v.is_empty());
    let best_efforts = m
        .map(ActivityMetrics::effort_ladder)
        .filter(|v| !v.is_empty());
    let local_day = sqlx::query_scalar!(
        "INSERT INTO activities (id, user_id, source, external_id, sport, sub_sport, name, start_time, utc_offset_s,
             elapsed_s, timer_s, moving_s, distance_m, ascent_m, descent_m, avg_hr, max_hr, avg_speed_mps,
             max_speed_mps, avg_power_w, max_power_w, device_np_w, avg_cadence, calories_kcal, device, has_route,
             file_format, file_sha256, import_warnings, np_w, intensity_factor, variability_index, trimp,
             efficiency_factor, decoupling, load, load_source, power_curve, best_efforts, local_day)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21,
                 $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37,
                 $38::real[], $39::real[],
                 CASE WHEN $9::integer IS NOT NULL
                      THEN (($8::timestamptz AT TIME ZONE 'UTC') + make_interval(secs => $9::integer))::date
                      ELSE ($8::timestamptz AT TIME ZONE (SELECT time_zone FROM users WHERE id = $2))::date END)
         RETURNING local_day",
        id,
        new.user_id,
        new.source.as_str(),
        new.external_id,
        p.sport.as_str(),
        p.sub_sport.as_str(),
        new.name,
        p.start,
        p.utc_offset_s,
        t.elapsed_s,
        t.timer_s,
        t.moving_s,
        t.distance_m,
        t.ascent_m,
        t.descent_m,
        t.avg_hr,
        t.max_hr,
        t.avg_speed_mps,
        t.max_speed_mps,
        t.avg_power_w,
        t.max_power_w,
        t.device_np_w,
        t.avg_cadence,
        t.calories_kcal,
        p.device.as_deref(),
        has_route,
        p.format.as_str(),
        new.file_sha256,
        &p.warnings,
        m.and_then(|m| m.np),
        m.and_then(|m| m.intensity_factor),
        m.and_then(|m| m.variability_index),
        m.and_then(|m| m.trimp),
        m.and_then(|m| m.efficiency_factor),
        m.and_then(|m| m.decoupling),
        m.map_or(0.0, |m| m.load),
        m.map_or("none", |m| load_source_str(m.load_source)),
        power_curve.as_deref() as Option<&[Option<f32>]>,
        best_efforts.as_deref() as Option<&[Option<f32>]>,
    )
    .fetch_one(&mut *conn)
    .await?;

    summaries::apply(
        conn,
        new.user_id,
        new.source.as_str(),
        &summaries::Contribution {
            activity: id,
            day: local_day,
            load: m.map_or(0.0, |m| m.load),
            power_curve: power_curve.unwrap_or_default(),
            best_efforts: best_efforts.unwrap_or_default(),
        },
    )
    .await?;
    insert_laps(conn, id, &p.laps).await?;

    let encoded = p.streams.encode();
    sqlx::query!(
        "INSERT INTO activity_streams (activity_id, sample_count, data) VALUES ($1, $2, $3)",
        id,
        i32::try_from(p.streams.t.len()).unwrap_or(i32::MAX),
        encoded
    )
    .execute(&mut *conn)
    .await?;

    if let Some((file_name, gzip, size)) = new.original {
        sqlx::query!(
            "INSERT INTO activity_files (activity_id, file_name, size_bytes, gzip) VALUES ($1, $2, $3, $4)",
            id,
            file_name,
            size,
            gzip
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(Stored::Imported(id))
}

/// Laps in one statement (UNNEST).
async fn insert_laps(
    conn: &mut PgConnection,
    id: Uuid,
    laps: &[crate::domain::Lap],
) -> Result<(), sqlx::Error> {
    if laps.is_empty() {
        return Ok(());
    }
    {
        let mut index = Vec::with_capacity(laps.len());
        let mut start = Vec::with_capacity(laps.len());
        let (
            mut elapsed,
            mut timer,
            mut distance,
            mut avg_hr,
            mut max_hr,
            mut speed,
            mut power,
            mut cadence,
        ) = (
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
            vec![],
        );
        for (i, lap) in laps.iter().enumerate() {
            index.push(i32::try_from(i).unwrap_or(i32::MAX));
            start.push(lap.start_t);
            elapsed.push(lap.totals.elapsed_s);
            timer.push(lap.totals.timer_s);
            distance.push(lap.totals.distance_m);
            avg_hr.push(lap.totals.avg_hr);
            max_hr.push(lap.totals.max_hr);
            speed.push(lap.totals.avg_speed_mps);
            power.push(lap.totals.avg_power_w);
            cadence.push(lap.totals.avg_cadence);
        }
        sqlx::query!(
            "INSERT INTO activity_laps (activity_id, lap_index, start_offset_s, elapsed_s, timer_s, distance_m,
                 avg_hr, max_hr, avg_speed_mps, avg_power_w, avg_cadence)
             SELECT $1, * FROM UNNEST($2::int[], $3::float8[], $4::float8[], $5::float8[], $6::float8[],
                 $7::float8[], $8::float8[], $9::float8[], $10::float8[], $11::float8[])",
            id,
            &index,
            &start,
            &elapsed as &[Option<f64>],
            &timer as &[Option<f64>],
            &distance as &[Option<f64>],
            &avg_hr as &[Option<f64>],
            &max_hr as &[Option<f64>],
            &speed as &[Option<f64>],
            &power as &[Option<f64>],
            &cadence as &[Option<f64>],
        )
        .execute(&mut *conn)
        .await?;
    }

    Ok(())
}

/// Filters and order of the activity list.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub sport: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub search: Option<String>,
    /// `date`, `distance` or `duration`; descending.
    pub sort: String,
    /// Only these sources (coach views); `None` for all.
    pub sources: Option<Vec<String>>,
}

/// A row of the activity list.
#[derive(Debug, Clone)]
pub struct ListRow {
    pub id: Uuid,
    pub name: String,
    pub sport: String,
    pub start_time: DateTime<Utc>,
    pub utc_offset_s: Option<i32>,
    pub timer_s: Option<f64>,
    pub distance_m: Option<f64>,
    pub ascent_m: Option<f64>,
    pub avg_hr: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub source: String,
}

/// Totals of the filtered set.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListTotals {
    pub count: i64,
    pub timer_s: f64,
    pub distance_m: f64,
    pub ascent_m: f64,
}

fn like_pattern(search: &str) -> String {
    format!(
        "%{}%",
        search
            .trim()
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    )
}

/// A page of the list plus the totals of everything that matches; two queries.
///
/// # Errors
/// Database errors.
pub async fn list(
    conn: &mut PgConnection,
    user_id: Uuid,
    filter: &ListFilter,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ListRow>, ListTotals), sqlx::Error> {
    let pattern = filter.search.as_deref().map(like_pattern);
    let rows = sqlx::query_as!(
        ListRow,
        "SELECT id, name, sport, start_time, utc_offset_s, timer_s, distance_m, ascent_m, avg_hr, avg_power_w, source
         FROM activities
         WHERE user_id = $1
           AND ($2::text IS NULL OR sport = $2)
           AND ($3::timestamptz IS NULL OR start_time >= $3)
           AND ($4::timestamptz IS NULL OR start_time < $4)
           AND ($5::text IS NULL OR lower(name) LIKE $5)
           AND ($9::text[] IS NULL OR source = ANY($9))
         ORDER BY
           CASE WHEN $6 = 'distance' THEN coalesce(distance_m, 0) END DESC,
           CASE WHEN $6 = 'duration' THEN coalesce(timer_s, 0) END DESC,
           start_time DESC, id DESC
         LIMIT $7 OFFSET $8",
        user_id,
        filter.sport,
        filter.from,
        filter.until,
        pattern,
        filter.sort,
        limit,
        offset,
        filter.sources.as_deref()
    )
    .fetch_all(&mut *conn)
    .await?;
    let totals = sqlx::query!(
        r#"SELECT count(*) AS "count!", coalesce(sum(timer_s), 0) AS "timer_s!",
                  coalesce(sum(distance_m), 0) AS "distance_m!", coalesce(sum(ascent_m), 0) AS "ascent_m!"
           FROM activities
           WHERE user_id = $1
             AND ($2::text IS NULL OR sport = $2)
             AND ($3::timestamptz IS NULL OR start_time >= $3)
             AND ($4::timestamptz IS NULL OR start_time < $4)
             AND ($5::text IS NULL OR lower(name) LIKE $5)
             AND ($6::text[] IS NULL OR source = ANY($6))"#,
        user_id,
        filter.sport,
        filter.from,
        filter.until,
        pattern,
        filter.sources.as_deref(),
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((
        rows,
        ListTotals {
            count: totals.count,
            timer_s: totals.timer_s,
            distance_m: totals.distance_m,
            ascent_m: totals.ascent_m,
        },
    ))
}

/// One activity with everything its page shows.
#[derive(Debug, Clone)]
pub struct ActivityRow {
    pub id: Uuid,
    pub name: String,
    pub notes: String,
    pub sport: String,
    pub sub_sport: String,
    pub source: String,
    pub start_time: DateTime<Utc>,
    pub utc_offset_s: Option<i32>,
    pub elapsed_s: Option<f64>,
    pub timer_s: Option<f64>,
    pub moving_s: Option<f64>,
    pub distance_m: Option<f64>,
    pub ascent_m: Option<f64>,
    pub descent_m: Option<f64>,
    pub avg_hr: Option<f64>,
    pub max_hr: Option<f64>,
    pub avg_speed_mps: Option<f64>,
    pub max_speed_mps: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub max_power_w: Option<f64>,
    pub device_np_w: Option<f64>,
    pub avg_cadence: Option<f64>,
    pub calories_kcal: Option<f64>,
    pub device: Option<String>,
    pub has_route: bool,
    pub file_format: Option<String>,
    pub has_original: bool,
    pub import_warnings: Vec<String>,
    pub np_w: Option<f64>,
    pub intensity_factor: Option<f64>,
    pub variability_index: Option<f64>,
    pub trimp: Option<f64>,
    pub efficiency_factor: Option<f64>,
    pub decoupling: Option<f64>,
    pub load: f64,
    pub load_source: String,
    pub local_day: chrono::NaiveDate,
    /// The activity's mean-max power on the ladder.
    pub power_curve: Option<Vec<Option<f32>>>,
    /// The athlete's best power per rung over the 90 days ending on this activity's day.
    pub best_90d: Option<Vec<Option<f32>>>,
    pub streams: Option<Vec<u8>>,
}

/// One activity of a user, with its streams, in one query.
///
/// # Errors
/// Database errors.
pub async fn get(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Option<ActivityRow>, sqlx::Error> {
    get_visible(conn, user_id, id, None, true).await
}

/// One activity of a user as a viewer may see it.
///
/// `None` unless its source is one of `sources` (when given); the 90-day best
/// curve counts only those sources; the streams are read only `with_streams`
/// (coaches with summary access never get them).
///
/// # Errors
/// Database errors.
pub async fn get_visible(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    sources: Option<&[String]>,
    with_streams: bool,
) -> Result<Option<ActivityRow>, sqlx::Error> {
    sqlx::query_as!(
        ActivityRow,
        r#"SELECT a.id, a.name, a.notes, a.sport, a.sub_sport, a.source, a.start_time, a.utc_offset_s, a.elapsed_s,
                  a.timer_s, a.moving_s, a.distance_m, a.ascent_m, a.descent_m, a.avg_hr, a.max_hr, a.avg_speed_mps,
                  a.max_speed_mps, a.avg_power_w, a.max_power_w, a.device_np_w, a.avg_cadence, a.calories_kcal,
                  a.device, a.has_route, a.file_format,
                  EXISTS (SELECT 1 FROM activity_files f WHERE f.activity_id = a.id) AS "has_original!",
                  a.import_warnings, a.np_w, a.intensity_factor, a.variability_index, a.trimp,
                  a.efficiency_factor, a.decoupling, a.load, a.load_source, a.local_day,
                  a.power_curve AS "power_curve: Vec<Option<f32>>",
                  (SELECT array_agg(c.best ORDER BY c.i) FROM (
                       SELECT p.i, max(p.v) AS best
                       FROM activities b CROSS JOIN LATERAL unnest(b.power_curve) WITH ORDINALITY AS p(v, i)
                       WHERE b.user_id = a.user_id AND b.power_curve IS NOT NULL
                         AND b.local_day > a.local_day - 90 AND b.local_day <= a.local_day
                         AND ($3::text[] IS NULL OR b.source = ANY($3))
                       GROUP BY p.i) c) AS "best_90d: Vec<Option<f32>>",
                  s.data AS "streams?"
           FROM activities a LEFT JOIN activity_streams s ON s.activity_id = a.id AND $4
           WHERE a.user_id = $1 AND a.id = $2 AND ($3::text[] IS NULL OR a.source = ANY($3))"#,
        user_id,
        id,
        sources,
        with_streams
    )
    .fetch_optional(conn)
    .await
}

/// A lap as the page shows it.
#[derive(Debug, Clone)]
pub struct LapRow {
    pub lap_index: i32,
    pub start_offset_s: f64,
    pub elapsed_s: Option<f64>,
    pub timer_s: Option<f64>,
    pub distance_m: Option<f64>,
    pub avg_hr: Option<f64>,
    pub max_hr: Option<f64>,
    pub avg_speed_mps: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub avg_cadence: Option<f64>,
}

/// The laps of one activity of a user.
///
/// # Errors
/// Database errors.
pub async fn laps(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<Vec<LapRow>, sqlx::Error> {
    sqlx::query_as!(
        LapRow,
        "SELECT l.lap_index, l.start_offset_s, l.elapsed_s, l.timer_s, l.distance_m, l.avg_hr, l.max_hr,
                l.avg_speed_mps, l.avg_power_w, l.avg_cadence
         FROM activity_laps l JOIN activities a ON a.id = l.activity_id
         WHERE a.user_id = $1 AND a.id = $2 ORDER BY l.lap_index",
        user_id,
        id
    )
    .fetch_all(conn)
    .await
}

/// The original file of an activity of a user: (name, gzip bytes); with
/// `sources`, only for an activity from one of them (a coach's view).
///
/// # Errors
/// Database errors.
pub async fn original(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    sources: Option<&[String]>,
) -> Result<Option<(String, Vec<u8>)>, sqlx::Error> {
    let row = sqlx::query!(
        "SELECT f.file_name, f.gzip FROM activity_files f JOIN activities a ON a.id = f.activity_id
         WHERE a.user_id = $1 AND a.id = $2 AND ($3::text[] IS NULL OR a.source = ANY($3))",
        user_id,
        id,
        sources
    )
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.file_name, r.gzip)))
}

/// Change name, sport and notes; the sport it had before, or `None` if there
/// is no such activity of this user.
///
/// # Errors
/// Database errors.
pub async fn update(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
    name: &str,
    sport: &str,
    notes: &str,
) -> Result<Option<String>, sqlx::Error> {
    sqlx::query_scalar!(
        "UPDATE activities a SET name = $3, sport = $4, notes = $5, updated_at = now()
         FROM (SELECT id, sport FROM activities WHERE user_id = $1 AND id = $2 FOR UPDATE) old
         WHERE a.id = old.id
         RETURNING old.sport",
        user_id,
        id,
        name,
        sport,
        notes
    )
    .fetch_optional(conn)
    .await
}

/// Delete one activity of a user (laps, streams and file cascade) and
/// rebuild the athlete's summary, in one transaction.
///
/// # Errors
/// Database errors.
pub async fn delete(conn: &mut PgConnection, user_id: Uuid, id: Uuid) -> Result<bool, sqlx::Error> {
    use sqlx::Connection as _;
    let mut tx = conn.begin().await?;
    let done = sqlx::query!(
        "DELETE FROM activities WHERE user_id = $1 AND id = $2",
        user_id,
        id
    )
    .execute(&mut *tx)
    .await?;
    if done.rows_affected() == 0 {
        return Ok(false);
    }
    summaries::rebuild(&mut tx, user_id).await?;
    tx.commit().await?;
    Ok(true)
}

/// Row counts of the activity tables (tests: nothing half-stored).
///
/// # Errors
/// Database errors.
pub async fn table_counts(conn: &mut PgConnection) -> Result<[i64; 4], sqlx::Error> {
    let row = sqlx::query!(
        r#"SELECT (SELECT count(*) FROM activities) AS "a!", (SELECT count(*) FROM activity_laps) AS "l!",
                  (SELECT count(*) FROM activity_streams) AS "s!", (SELECT count(*) FROM activity_files) AS "f!""#
    )
    .fetch_one(conn)
    .await?;
    Ok([row.a, row.l, row.s, row.f])
}

/// Everything an export needs about one activity (no streams).
#[derive(Debug, Clone)]
pub struct ExportRow {
    pub id: Uuid,
    pub name: String,
    pub sport: String,
    pub start_time: DateTime<Utc>,
    pub timer_s: Option<f64>,
    pub distance_m: Option<f64>,
    pub ascent_m: Option<f64>,
    pub avg_hr: Option<f64>,
    pub avg_power_w: Option<f64>,
    pub source: String,
    pub notes: String,
    pub file_name: Option<String>,
}

/// All of a user's activities, oldest first, for the export.
///
/// # Errors
/// Database errors.
pub async fn export_rows(
    conn: &mut PgConnection,
    user_id: Uuid,
) -> Result<Vec<ExportRow>, sqlx::Error> {
    sqlx::query_as!(
        ExportRow,
        r#"SELECT a.id, a.name, a.sport, a.start_time, a.timer_s, a.distance_m, a.ascent_m, a.avg_hr, a.avg_power_w,
                  a.source, a.notes, f.file_name AS "file_name?"
           FROM activities a LEFT JOIN activity_files f ON f.activity_id = a.id
           WHERE a.user_id = $1 ORDER BY a.start_time, a.id"#,
        user_id
    )
    .fetch_all(conn)
    .await
}

/// The stored original (gzip) or, failing that, the streams of one activity.
///
/// # Errors
/// Database errors.
pub async fn export_payload(
    conn: &mut PgConnection,
    user_id: Uuid,
    id: Uuid,
) -> Result<(Option<Vec<u8>>, Option<ActivityRow>), sqlx::Error> {
    let original = sqlx::query_scalar!(
        "SELECT f.gzip FROM activity_files f JOIN activities a ON a.id = f.activity_id WHERE a.user_id = $1 AND a.id = $2",
        user_id,
        id
    )
    .fetch_optional(&mut *conn)
    .await?;
    if original.is_some() {
        return Ok((original, None));
    }
    Ok((None, get(conn, user_id, id).await?))
}
