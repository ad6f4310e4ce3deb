//! `/settings/thresholds`: date-effective thresholds and their history.
//!
//! FTP, heart rates, threshold paces, weight and sex. Paces are entered as
//! m:ss per km (or per mile) and per 100 m for swimming; they are stored as
//! speeds in m/s.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::NaiveDate;
use serde::Deserialize;

use crate::analytics::suggest;
use crate::auth::CurrentUser;
use crate::auth::csrf::token_of as token;
use crate::db::jobs;
use crate::db::suggestions::{self, Evidence};
use crate::db::thresholds::{self, Entry, Thresholds};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::format::{self, Units};
use crate::web::forms::{FieldErrors, is_htmx, redirect, render_with_status};
use crate::web::layout::PageContext;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/settings/thresholds")
            .route(web::get().to(page))
            .route(web::post().to(save)),
    )
    .service(web::resource("/settings/thresholds/{id}/delete").route(web::post().to(delete)))
    .service(
        web::resource("/settings/thresholds/recompute").route(web::get().to(recompute_status)),
    );
}

/// A history row formatted for display.
#[derive(Debug)]
pub struct Row {
    pub id: i64,
    pub sport: String,
    pub date: String,
    pub values: String,
}

/// The form's raw values, kept on errors.
#[derive(Debug, Default, Deserialize)]
pub struct Form {
    #[serde(default)]
    sport: String,
    #[serde(default)]
    effective_from: String,
    #[serde(default)]
    ftp: String,
    #[serde(default)]
    lthr: String,
    #[serde(default)]
    max_hr: String,
    #[serde(default)]
    rest_hr: String,
    #[serde(default)]
    run_pace: String,
    #[serde(default)]
    swim_pace: String,
    #[serde(default)]
    weight: String,
    #[serde(default)]
    sex: String,
}

#[derive(Template)]
#[template(path = "settings/thresholds.html", blocks = ["form"])]
struct Page {
    ctx: PageContext,
    csrf_token: String,
    f: Form,
    errors: FieldErrors,
    rows: Vec<Row>,
    saved: bool,
    pace_unit: &'static str,
    weight_unit: &'static str,
    recompute: Option<RecomputeView>,
    suggestions: Vec<Suggestion>,
    /// Whether any activity gave evidence for a suggestion (shown or not).
    has_evidence: bool,
    /// Today, `YYYY-MM-DD`: the date accepted suggestions apply from.
    today: String,
}

/// A threshold suggested from the athlete's activities, with where it came from
/// and the form fields that accept it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// "FTP", "Max heart rate", "Threshold running pace".
    pub label: &'static str,
    /// The suggested value as shown: "290 W".
    pub value: String,
    /// The value in force: "now 265 W" or "not set".
    pub current: String,
    /// Where it came from, up to the activity: "95 % of your best … 305 W in".
    pub basis: String,
    pub activity_name: String,
    pub activity_href: String,
    /// The activity's day: "3 Nov 2026".
    pub day: String,
    /// The form's `sport` for this value.
    pub sport: &'static str,
    /// The form field and its value in the form's units.
    pub field: &'static str,
    pub field_value: String,
}

/// Suggestions worth showing given the evidence and the values in force on `today`.
///
/// FTP and threshold pace when they differ by at least 2 % from the value in force
/// (or none is set), max HR when higher than every value in force. Values are rounded
/// as the form takes them (whole watts and bpm, whole seconds of pace per km or mile)
/// before comparing, so accepting one makes it disappear.
#[must_use]
pub fn suggestions(
    evidence: &Evidence,
    history: &[Entry],
    today: NaiveDate,
    units: Units,
) -> Vec<Suggestion> {
    let day = |d: NaiveDate| d.format("%-d %b %Y").to_string();
    let href = |id: uuid::Uuid| format!("/activities/{id}");
    let mut out = Vec::new();
    if let Some((p20, source)) = &evidence.best_20min {
        let ftp = suggest::ftp_from_20min(*p20).round();
        let current = thresholds::in_force(history, "cycling", today).ftp_w;
        if (30.0..=700.0).contains(&ftp) && suggest::differs(current, ftp) {
            out.push(Suggestion {
                label: "FTP",
                value: format!("{ftp:.0} W"),
                current: current.map_or_else(|| "not set".to_owned(), |c| format!("now {c:.0} W")),
                basis: format!(
                    "95 % of your best 20-minute power in the last {} days: {p20:.0} W in",
                    suggestions::POWER_WINDOW_DAYS
                ),
                activity_name: source.name.clone(),
                activity_href: href(source.activity),
                day: day(source.day),
                sport: "cycling",
                field: "ftp",
                field_value: format!("{ftp:.0}"),
            });
        }
    }
    if let Some((hr, source)) = &evidence.max_hr {
        let hr = hr.round();
        let current = SPORTS
            .iter()
            .filter_map(|s| thresholds::in_force(history, s, today).max_hr_bpm)
            .max_by(f64::total_cmp);
        if current.is_none_or(|c| hr > c.round()) {
            out.push(Suggestion {
                label: "Max heart rate",
                value: format!("{hr:.0} bpm"),
                current: current
                    .map_or_else(|| "not set".to_owned(), |c| format!("now {c:.0} bpm")),
                basis: format!(
                    "The highest heart rate recorded in the last {} days: {hr:.0} bpm in",
                    suggestions::MAX_HR_WINDOW_DAYS
                ),
                activity_name: source.name.clone(),
                activity_href: href(source.activity),
                day: day(source.day),
                sport: "all",
                field: "max_hr",
                field_value: format!("{hr:.0}"),
            });
        }
    }
    let efforts: Vec<(f64, f64)> = evidence
        .efforts
        .iter()
        .map(|e| (e.distance_m, e.time_s))
        .collect();
    if let Some((i, speed)) = suggest::threshold_speed(&efforts)
        && let Some(effort) = evidence.efforts.get(i)
    {
        let unit_m = units.pace_seconds(1.0);
        let pace_s = units.pace_seconds(speed).round();
        let rounded = unit_m / pace_s;
        let current = thresholds::in_force(history, "running", today).threshold_speed_mps;
        if (1.0..=8.0).contains(&rounded) && suggest::differs(current, rounded) {
            let pace = format::pace(Some(rounded), units);
            out.push(Suggestion {
                label: "Threshold running pace",
                value: pace,
                current: current.map_or_else(
                    || "not set".to_owned(),
                    |c| format!("now {}", format::pace(Some(c), units)),
                ),
                basis: format!(
                    "The pace you could hold for an hour by Riegel's formula, from your best {} in the last {} days: {} in",
                    format::effort_distance(effort.distance_m).to_lowercase(),
                    suggestions::EFFORT_WINDOW_DAYS,
                    format::clock(effort.time_s)
                ),
                activity_name: effort.source.name.clone(),
                activity_href: href(effort.source.activity),
                day: day(effort.source.day),
                sport: "running",
                field: "run_pace",
                field_value: format::clock(pace_s),
            });
        }
    }
    out
}

/// The recompute job's progress as the athlete sees it.
#[derive(Debug, Clone)]
pub struct RecomputeView {
    /// Poll again (queued or running).
    pub active: bool,
    /// `info`, `success` or `danger`.
    pub kind: &'static str,
    pub text: String,
    pub done: i32,
    pub total: i32,
    /// Where the status box polls itself while active.
    pub poll: String,
}

/// Where a job stands, as its status box tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Queued again after a failed attempt.
    Retrying,
    Queued,
    Running,
    /// Finished within the last minute.
    Done,
    Dead,
}

impl RecomputeView {
    /// What to show for the athlete's latest recompute, if anything: active
    /// jobs, and finished ones for a minute after they end.
    #[must_use]
    pub fn of(p: Option<&jobs::Progress>, now: chrono::DateTime<chrono::Utc>) -> Option<Self> {
        let minute = chrono::TimeDelta::minutes(1);
        Self::of_job(
            p,
            now,
            "/settings/thresholds/recompute",
            minute,
            recompute_text,
        )
    }

    /// The status box of any job with progress: the phase (and so whether it
    /// polls `poll`, and its tone) from the job's state, the words from `text`.
    /// A finished job is shown for `done_for` after it ended, a dead one until
    /// the next.
    #[must_use]
    pub fn of_job(
        p: Option<&jobs::Progress>,
        now: chrono::DateTime<chrono::Utc>,
        poll: impl Into<String>,
        done_for: chrono::TimeDelta,
        text: impl Fn(Phase, &jobs::Progress) -> String,
    ) -> Option<Self> {
        let p = p?;
        let (phase, active, kind) = match p.state.as_str() {
            "queued" if p.last_error.is_some() => (Phase::Retrying, true, "error"),
            "queued" => (Phase::Queued, true, "info"),
            "running" => (Phase::Running, true, "info"),
            "done" if now - p.updated_at < done_for => (Phase::Done, false, "success"),
            "dead" => (Phase::Dead, false, "error"),
            _ => return None,
        };
        Some(Self {
            active,
            kind,
            text: text(phase, p),
            done: p.done,
            total: p.total,
            poll: poll.into(),
        })
    }
}

/// The athlete's words for their recompute's phases.
fn recompute_text(phase: Phase, p: &jobs::Progress) -> String {
    match phase {
        Phase::Retrying => {
            "Recomputing your training history failed and will be retried shortly.".to_owned()
        }
        Phase::Queued => {
            "Your training history will be recomputed with the new thresholds in a moment."
                .to_owned()
        }
        Phase::Running => format!(
            "Recomputing your training history: {} of {} activities.",
            format::thousands(i64::from(p.done)),
            format::thousands(i64::from(p.total))
        ),
        Phase::Done => format!(
            "Training history recomputed with your thresholds ({} {}).",
            format::thousands(i64::from(p.total)),
            if p.total == 1 {
                "activity"
            } else {
                "activities"
            }
        ),
        Phase::Dead => concat!(
            "Recomputing your training history failed. Save your thresholds again to retry; ",
            "if it keeps failing, tell your administrator."
        )
        .to_owned(),
    }
}

#[derive(Template)]
#[template(path = "settings/recompute_status.html")]
struct RecomputeStatus {
    recompute: Option<RecomputeView>,
}

/// The latest recompute's progress, for htmx polling.
async fn recompute_status(
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.db.conn().await?;
    let latest = jobs::latest(&mut conn, user.id(), jobs::RECOMPUTE).await;
    let latest = conn.check(latest)?;
    drop(conn);
    render_with_status(
        &RecomputeStatus {
            recompute: RecomputeView::of(latest.as_ref(), state.clock.now()),
        },
        StatusCode::OK,
    )
}

/// Store thresholds and queue the recompute of the activities they affect,
/// in one transaction.
async fn store_and_recompute(
    state: &AppState,
    user_id: uuid::Uuid,
    sport: &str,
    date: NaiveDate,
    values: &Thresholds,
) -> Result<(), AppError> {
    let mut tx = state.db.pool().begin().await.map_err(AppError::from)?;
    thresholds::upsert(&mut tx, user_id, sport, date, values).await?;
    jobs::enqueue_recompute(&mut tx, user_id, date).await?;
    tx.commit().await?;
    state.jobs.notify();
    Ok(())
}

const SPORTS: [&str; 4] = ["all", "cycling", "running", "swimming"];

fn describe(entry: &Entry, units: Units) -> String {
    let t = &entry.values;
    let mut parts = Vec::new();
    if let Some(v) = t.ftp_w {
        parts.push(format!("FTP {v:.0} W"));
    }
    if let Some(v) = t.lthr_bpm {
        parts.push(format!("threshold HR {v:.0} bpm"));
    }
    if let Some(v) = t.max_hr_bpm {
        parts.push(format!("max HR {v:.0} bpm"));
    }
    if let Some(v) = t.rest_hr_bpm {
        parts.push(format!("resting HR {v:.0} bpm"));
    }
    if let Some(v) = t.threshold_speed_mps {
        parts.push(format!("threshold pace {}", format::pace(Some(v), units)));
    }
    if let Some(v) = t.swim_speed_mps {
        parts.push(format!("swim pace {} /100 m", format::clock(100.0 / v)));
    }
    if let Some(v) = t.weight_kg {
        parts.push(match units {
            Units::Metric => format!("weight {v:.1} kg"),
            Units::Imperial => format!("weight {:.1} lb", v / 0.453_592_37),
        });
    }
    if let Some(sex) = &t.sex {
        parts.push(format!("sex {sex}"));
    }
    parts.join(" · ")
}

/// `m:ss` (or plain seconds) → seconds.
fn parse_clock(raw: &str) -> Option<f64> {
    let raw = raw.trim();
    let (m, s) = raw.split_once(':').map_or(("0", raw), |(m, s)| (m, s));
    let (m, s): (u32, f64) = (m.trim().parse().ok()?, s.trim().parse().ok()?);
    let total = f64::from(m).mul_add(60.0, s);
    ((0.0..60.0).contains(&s) && total > 0.0).then_some(total)
}

fn number(
    errors: &mut FieldErrors,
    field: &'static str,
    label: &str,
    raw: &str,
    range: (f64, f64),
) -> Option<f64> {
    let raw = raw.trim();
    if raw.is_empty() {
        return None;
    }
    match raw.replace(',', ".").parse::<f64>() {
        Ok(v) if v.is_finite() && v >= range.0 && v <= range.1 => Some(v),
        _ => {
            errors.add(
                field,
                format!("{label}: enter a number from {} to {}.", range.0, range.1),
            );
            None
        }
    }
}

fn validate(f: &Form, units: Units) -> Result<(String, NaiveDate, Thresholds), FieldErrors> {
    let mut errors = FieldErrors::default();
    let sport = f.sport.trim();
    if !SPORTS.contains(&sport) {
        errors.add("sport", "Choose what these values apply to.");
    }
    let date = NaiveDate::parse_from_str(f.effective_from.trim(), "%Y-%m-%d").ok();
    if date.is_none() {
        errors.add(
            "effective_from",
            "Enter the date these values apply from, like 2026-03-01.",
        );
    }
    let (pace_metres, weight_factor) = match units {
        Units::Metric => (1000.0, 1.0),
        Units::Imperial => (1609.344, 0.453_592_37),
    };
    let mut t = Thresholds {
        ftp_w: number(&mut errors, "ftp", "FTP", &f.ftp, (30.0, 700.0)),
        lthr_bpm: number(
            &mut errors,
            "lthr",
            "Threshold heart rate",
            &f.lthr,
            (80.0, 230.0),
        ),
        max_hr_bpm: number(
            &mut errors,
            "max_hr",
            "Max heart rate",
            &f.max_hr,
            (100.0, 240.0),
        ),
        rest_hr_bpm: number(
            &mut errors,
            "rest_hr",
            "Resting heart rate",
            &f.rest_hr,
            (25.0, 120.0),
        ),
        weight_kg: number(
            &mut errors,
            "weight",
            "Weight",
            &f.weight,
            (25.0 / weight_factor, 250.0 / weight_factor),
        )
        .map(|w| w * weight_factor),
        ..Thresholds::default()
    };
    if !f.run_pace.trim().is_empty() {
        match parse_clock(&f.run_pace).map(|s| pace_metres / s) {
            Some(v) if (1.0..=8.0).contains(&v) => t.threshold_speed_mps = Some(v),
            _ => errors.add("run_pace", "Enter a pace like 4:30 (minutes:seconds)."),
        }
    }
    if !f.swim_pace.trim().is_empty() {
        match parse_clock(&f.swim_pace).map(|s| 100.0 / s) {
            Some(v) if (0.3..=3.0).contains(&v) => t.swim_speed_mps = Some(v),
            _ => errors.add("swim_pace", "Enter a pace per 100 m like 1:45."),
        }
    }
    match f.sex.trim() {
        "" => {}
        "female" | "male" => t.sex = Some(f.sex.trim().to_owned()),
        _ => errors.add("sex", "Choose female or male, or leave it empty."),
    }
    if let (Some(max), Some(rest)) = (t.max_hr_bpm, t.rest_hr_bpm)
        && rest >= max
    {
        errors.add(
            "rest_hr",
            "The resting heart rate must be below the max heart rate.",
        );
    }
    if errors.is_empty() && t == Thresholds::default() {
        errors.add("ftp", "Enter at least one value.");
    }
    match (errors.is_empty(), date) {
        (true, Some(date)) => Ok((sport.to_owned(), date, t)),
        _ => Err(errors),
    }
}

async fn render(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    f: Form,
    errors: FieldErrors,
    saved: bool,
) -> Result<HttpResponse, AppError> {
    let units = Units::of(user);
    let today = state.clock.now().date_naive();
    let mut conn = state.db.conn().await?;
    let listed = thresholds::history(&mut conn, user.id()).await;
    let history = conn.check(listed)?;
    let found = suggestions::evidence(&mut conn, user.id(), today).await;
    let evidence = conn.check(found)?;
    let latest = jobs::latest(&mut conn, user.id(), jobs::RECOMPUTE).await;
    let latest = conn.check(latest)?;
    drop(conn);
    let status = if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let page = Page {
        ctx,
        csrf_token: token(req),
        rows: history
            .iter()
            .map(|e| Row {
                id: e.id,
                sport: if e.sport == "all" {
                    "All sports".to_owned()
                } else {
                    format::sport_label(&e.sport)
                },
                date: e.effective_from.format("%Y-%m-%d").to_string(),
                values: describe(e, units),
            })
            .collect(),
        f,
        errors,
        saved,
        pace_unit: if units == Units::Metric { "/km" } else { "/mi" },
        weight_unit: if units == Units::Metric { "kg" } else { "lb" },
        recompute: RecomputeView::of(latest.as_ref(), state.clock.now()),
        suggestions: suggestions(&evidence, &history, today, units),
        has_evidence: evidence != Evidence::default(),
        today: today.format("%Y-%m-%d").to_string(),
    };
    if is_htmx(req) && status != StatusCode::OK {
        render_with_status(&page.as_form(), status)
    } else {
        render_with_status(&page, status)
    }
}

async fn page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let f = Form {
        sport: "all".to_owned(),
        effective_from: state.clock.now().format("%Y-%m-%d").to_string(),
        ..Form::default()
    };
    render(&req, ctx, &state, &user, f, FieldErrors::default(), false).await
}

async fn save(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    form: web::Form<Form>,
) -> Result<HttpResponse, AppError> {
    let f = form.into_inner();
    match validate(&f, Units::of(&user)) {
        Err(errors) => render(&req, ctx, &state, &user, f, errors, false).await,
        Ok((sport, date, values)) => {
            store_and_recompute(&state, user.id(), &sport, date, &values).await?;
            if is_htmx(&req) {
                return Ok(redirect(&req, "/settings/thresholds?saved=1"));
            }
            render(
                &req,
                ctx,
                &state,
                &user,
                Form {
                    sport,
                    effective_from: f.effective_from,
                    ..Form::default()
                },
                FieldErrors::default(),
                true,
            )
            .await
        }
    }
}

async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id: i64 = path.parse().map_err(|_| AppError::NotFound)?;
    let mut tx = state.db.pool().begin().await.map_err(AppError::from)?;
    let Some(from) = thresholds::delete(&mut tx, user.id(), id).await? else {
        return Err(AppError::NotFound);
    };
    jobs::enqueue_recompute(&mut tx, user.id(), from).await?;
    tx.commit().await?;
    state.jobs.notify();
    Ok(redirect(&req, "/settings/thresholds"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jobs_state_gives_the_phase_tone_and_polling_of_its_status_box() {
        let now = chrono::Utc::now();
        let progress = |state: &str, error: Option<&str>, age_secs: i64| jobs::Progress {
            id: 1,
            state: state.to_owned(),
            done: 3,
            total: 7,
            last_error: error.map(str::to_owned),
            updated_at: now - chrono::TimeDelta::seconds(age_secs),
        };
        let show = |p: &jobs::Progress| {
            RecomputeView::of_job(
                Some(p),
                now,
                "/poll",
                chrono::TimeDelta::minutes(1),
                |phase, p| format!("{phase:?} {}/{}", p.done, p.total),
            )
            .map(|v| (v.text, v.kind, v.active, v.poll))
        };
        let cases = [
            (
                progress("queued", None, 0),
                Some(("Queued 3/7", "info", true)),
            ),
            (
                progress("queued", Some("boom"), 0),
                Some(("Retrying 3/7", "error", true)),
            ),
            (
                progress("running", None, 0),
                Some(("Running 3/7", "info", true)),
            ),
            (
                progress("done", None, 10),
                Some(("Done 3/7", "success", false)),
            ),
            (progress("done", None, 120), None),
            (
                progress("dead", Some("boom"), 9999),
                Some(("Dead 3/7", "error", false)),
            ),
        ];
        for (p, expected) in cases {
            let got = show(&p);
            assert_eq!(
                got.as_ref().map(|(t, k, a, _)| (t.as_str(), *k, *a)),
                expected,
                "{} {:?}",
                p.state,
                p.last_error
            );
            if let Some((_, _, _, poll)) = got {
                assert_eq!(poll, "/poll");
            }
        }
        let minute = chrono::TimeDelta::minutes(1);
        assert!(RecomputeView::of_job(None, now, "/poll", minute, |_, _| String::new()).is_none());
    }

    #[test]
    fn paces_and_values_are_validated_and_converted() {
        let f = Form {
            sport: "running".into(),
            effective_from: "2026-03-01".into(),
            run_pace: "4:10".into(),
            swim_pace: "1:40".into(),
            max_hr: "190".into(),
            rest_hr: "48".into(),
            weight: "154".into(),
            ..Form::default()
        };
        let (sport, date, t) = validate(&f, Units::Imperial).unwrap();
        assert_eq!(sport, "running");
        assert_eq!(date, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert!((t.threshold_speed_mps.unwrap() - 1609.344 / 250.0).abs() < 1e-9);
        assert!((t.swim_speed_mps.unwrap() - 1.0).abs() < 1e-9);
        assert!((t.weight_kg.unwrap() - 69.85).abs() < 0.01);
        let bad = Form {
            sport: "chess".into(),
            effective_from: "soon".into(),
            ftp: "9000".into(),
            run_pace: "fast".into(),
            ..Form::default()
        };
        let errors = validate(&bad, Units::Metric).unwrap_err();
        for field in ["sport", "effective_from", "ftp", "run_pace"] {
            assert!(errors.get(field).is_some(), "{field}");
        }
        let empty = Form {
            sport: "all".into(),
            effective_from: "2026-01-01".into(),
            ..Form::default()
        };
        assert!(
            validate(&empty, Units::Metric)
                .unwrap_err()
                .get("ftp")
                .unwrap()
                .contains("at least one")
        );
        assert_eq!(parse_clock("4:60"), None);
        assert_eq!(parse_clock("0:00"), None);
    }

    #[test]
    fn suggestions_show_only_meaningful_changes_with_their_source() {
        use crate::db::suggestions::{Effort, Source};
        let day = NaiveDate::from_ymd_opt(2026, 11, 3).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let source = |name: &str| Source {
            activity: uuid::Uuid::nil(),
            name: name.to_owned(),
            day,
        };
        let evidence = Evidence {
            best_20min: Some((305.0, source("Morning ride"))),
            max_hr: Some((191.6, source("Hill repeats"))),
            efforts: vec![
                Effort {
                    distance_m: 5000.0,
                    time_s: 1200.0,
                    source: source("Parkrun"),
                },
                Effort {
                    distance_m: 10_000.0,
                    time_s: 2400.0,
                    source: source("10 km race"),
                },
            ],
        };
        let all = suggestions(&evidence, &[], today, Units::Metric);
        assert_eq!(all.len(), 3);
        // 0.95 × 305 = 289.75 → 290 W.
        assert_eq!((all[0].field, all[0].field_value.as_str()), ("ftp", "290"));
        assert_eq!(all[0].sport, "cycling");
        assert_eq!(
            all[0].basis,
            "95 % of your best 20-minute power in the last 90 days: 305 W in"
        );
        assert_eq!(all[0].day, "3 Nov 2026");
        assert_eq!(all[0].current, "not set");
        assert_eq!(
            (all[1].field, all[1].field_value.as_str()),
            ("max_hr", "192")
        );
        assert_eq!(all[1].sport, "all");
        // The 10 km gives 4.07213 m/s = 245.57 s/km → 4:06 /km (the 5 km only 4:15).
        assert_eq!(
            (all[2].field, all[2].field_value.as_str()),
            ("run_pace", "4:06")
        );
        assert_eq!(all[2].activity_name, "10 km race");
        assert!(all[2].basis.contains("best 10 km"), "{}", all[2].basis);
        let miles = suggestions(&evidence, &[], today, Units::Imperial);
        // 1609.344 / 4.07213 = 395.21 s → 6:35 /mi.
        assert_eq!(miles[2].field_value, "6:35");

        // In force: FTP 285 W (1.8 % off), max HR 192, pace 4:06 → nothing to suggest.
        let entry = |sport: &str, t: Thresholds| Entry {
            id: 1,
            sport: sport.to_owned(),
            effective_from: day,
            values: t,
        };
        let history = vec![
            entry(
                "cycling",
                Thresholds {
                    ftp_w: Some(285.0),
                    ..Thresholds::default()
                },
            ),
            entry(
                "running",
                Thresholds {
                    max_hr_bpm: Some(192.0),
                    threshold_speed_mps: Some(1000.0 / 246.0),
                    ..Thresholds::default()
                },
            ),
        ];
        assert_eq!(
            suggestions(&evidence, &history, today, Units::Metric),
            vec![]
        );
        // A lower FTP 2 % or more below the value in force is suggested too.
        let lower = Evidence {
            best_20min: Some((290.0, source("Morning ride"))),
            ..Evidence::default()
        };
        let s = suggestions(&lower, &history, today, Units::Metric);
        assert_eq!(s[0].field_value, "276");
        assert_eq!(s[0].current, "now 285 W");
    }
}
