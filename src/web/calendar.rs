//! `/calendar`: a month of training, Monday-first weeks as rows, each day
//! with its activities and load, each week with its totals.
//!
//! `?month=2026-11` picks the month (default: the current month in the
//! athlete's time zone, from the app clock). A month that cannot be read
//! answers 422 with the current month and a message. The previous/next links
//! are plain links that htmx turns into a swap of the calendar region (the
//! `calendar` block) with the URL kept in sync.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike as _, Months, NaiveDate, TimeDelta};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::db::calendar::{self, DayActivity};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::format::{self, Units};
use crate::web::forms::{is_htmx, render_with_status};
use crate::web::layout::PageContext;
use crate::web::subject::{CoachSubject, Subject, SubjectView};

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/calendar").route(web::get().to(month)))
        .service(web::resource("/coach/athletes/{id}/calendar").route(web::get().to(coach_month)));
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One activity in a day cell.
#[derive(Debug)]
pub struct ActivityView {
    pub id: Uuid,
    pub sport: String,
    pub name: String,
    pub duration: String,
    pub load: String,
}

/// One day cell.
#[derive(Debug)]
pub struct DayView {
    pub iso: String,
    pub number: u32,
    pub weekday: &'static str,
    pub in_month: bool,
    pub today: bool,
    pub activities: Vec<ActivityView>,
    pub load: String,
}

/// One week row: seven days and their totals.
#[derive(Debug)]
pub struct WeekView {
    pub start_iso: String,
    pub label: String,
    pub days: Vec<DayView>,
    pub count: usize,
    pub time: String,
    pub distance: String,
    pub load: String,
}

/// A neighbouring month's link.
#[derive(Debug)]
pub struct MonthLink {
    pub param: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "calendar/month.html", blocks = ["calendar"])]
struct Page {
    ctx: PageContext,
    subject: SubjectView,
    label: String,
    prev: Option<MonthLink>,
    next: Option<MonthLink>,
    is_current: bool,
    weeks: Vec<WeekView>,
    /// Activities in the month itself (not the neighbouring days shown).
    month_count: usize,
    month_totals: String,
    error: Option<&'static str>,
}

/// `2026-11` → the first of that month. Four-digit years only.
fn parse_month(raw: &str) -> Option<NaiveDate> {
    let (y, m) = raw.split_once('-')?;
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(y, 4) || !digits(m, 2) {
        return None;
    }
    let year: i32 = y.parse().ok()?;
    let month: u32 = m.parse().ok()?;
    if year < 1000 {
        return None;
    }
    NaiveDate::from_ymd_opt(year, month, 1)
}

fn month_link(first: Option<NaiveDate>) -> Option<MonthLink> {
    first
        .filter(|d| (1000..=9999).contains(&d.year()))
        .map(|d| MonthLink {
            param: d.format("%Y-%m").to_string(),
            label: d.format("%B %Y").to_string(),
        })
}

/// The first and last day shown for the month starting on `first`: whole
/// Monday-first weeks.
fn shown_range(first: NaiveDate) -> (NaiveDate, NaiveDate) {
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    let start = first - TimeDelta::days(i64::from(first.weekday().num_days_from_monday()));
    let end = last + TimeDelta::days(i64::from(6 - last.weekday().num_days_from_monday()));
    (start, end)
}

fn load_text(load: f64) -> String {
    format!("{load:.0}")
}

/// The month's weeks from its activities (sorted by day).
fn weeks(
    first: NaiveDate,
    today: NaiveDate,
    activities: &[DayActivity],
    units: Units,
) -> Vec<WeekView> {
    let (start, end) = shown_range(first);
    let mut out = Vec::new();
    let mut week_start = start;
    while week_start <= end {
        let mut days = Vec::with_capacity(7);
        let (mut count, mut time, mut distance, mut load) = (0, 0.0, 0.0, 0.0);
        for (offset, weekday) in (0_i64..).zip(WEEKDAYS) {
            let date = week_start + TimeDelta::days(offset);
            let on_day: Vec<&DayActivity> =
                activities.iter().filter(|a| a.local_day == date).collect();
            let day_load: f64 = on_day.iter().map(|a| a.load).sum();
            count += on_day.len();
            time += on_day.iter().filter_map(|a| a.timer_s).sum::<f64>();
            distance += on_day.iter().filter_map(|a| a.distance_m).sum::<f64>();
            load += day_load;
            days.push(DayView {
                iso: date.format("%Y-%m-%d").to_string(),
                number: date.day(),
                weekday,
                in_month: date.month() == first.month() && date.year() == first.year(),
                today: date == today,
                activities: on_day
                    .iter()
                    .map(|a| ActivityView {
                        id: a.id,
                        sport: format::sport_label(&a.sport),
                        name: a.name.clone(),
                        duration: format::duration(a.timer_s),
                        load: load_text(a.load),
                    })
                    .collect(),
                load: load_text(day_load),
            });
        }
        out.push(WeekView {
            start_iso: week_start.format("%Y-%m-%d").to_string(),
            label: week_start.format("%-d %b").to_string(),
            days,
            count,
            time: format::duration(Some(time)),
            distance: format::distance(Some(distance), units),
            load: load_text(load),
        });
        week_start += TimeDelta::days(7);
    }
    out
}

/// `GET /calendar?month=YYYY-MM`.
async fn month(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    render(&req, ctx, &state, &user, &Subject::own(&user)).await
}

/// `GET /coach/athletes/{id}/calendar?month=YYYY-MM`: a linked athlete's
/// calendar (coach-visible sources only), read-only.
async fn coach_month(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    coach: CoachSubject,
) -> Result<HttpResponse, AppError> {
    render(&req, ctx, &state, &coach.viewer, &coach.subject).await
}

async fn render(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    subject: &Subject,
) -> Result<HttpResponse, AppError> {
    // Read by hand: a repeated or odd parameter is a bad month, not a 400.
    let raw = url::form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "month")
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    let mut conn = state.db.conn().await?;
    // Days are the athlete's: their time zone decides "today".
    let today = calendar::local_today(&mut conn, subject.athlete, state.clock.now()).await;
    let today = conn.check(today)?;
    let this_month = today.with_day(1).unwrap_or(today);
    let (first, error) = match raw.as_deref().map(parse_month) {
        None => (this_month, None),
        Some(Some(first)) => (first, None),
        Some(None) => (
            this_month,
            Some("That month could not be read: months look like 2026-11. Here is this month."),
        ),
    };
    let (start, end) = shown_range(first);
    let listed = calendar::between(&mut conn, subject.athlete, start, end, subject.sources()).await;
    let activities = conn.check(listed)?;
    // Coach views: what is not shown and why (no statement for the athlete).
    let withheld =
        crate::db::subjects::withheld(&mut conn, subject.athlete, subject.sources()).await;
    let withheld = conn.check(withheld)?;
    drop(conn);

    let units = Units::of(user);
    let in_month: Vec<&DayActivity> = activities
        .iter()
        .filter(|a| a.local_day.year() == first.year() && a.local_day.month() == first.month())
        .collect();
    let month_totals = format!(
        "{} · {} · load {}",
        format::duration(Some(in_month.iter().filter_map(|a| a.timer_s).sum())),
        format::distance(
            Some(in_month.iter().filter_map(|a| a.distance_m).sum()),
            units
        ),
        load_text(in_month.iter().map(|a| a.load).sum())
    );
    let page = Page {
        ctx,
        subject: SubjectView::of(subject, &withheld),
        label: first.format("%B %Y").to_string(),
        prev: month_link(first.checked_sub_months(Months::new(1))),
        next: month_link(first.checked_add_months(Months::new(1))),
        is_current: first == this_month,
        weeks: weeks(first, today, &activities, units),
        month_count: in_month.len(),
        month_totals,
        error,
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let mut res = if is_htmx(req) && !req.headers().contains_key("hx-history-restore-request") {
        render_with_status(&page.as_calendar(), status)?
    } else {
        render_with_status(&page, status)?
    };
    res.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("HX-Request"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn months_are_parsed_strictly() {
        assert_eq!(parse_month("2026-11"), Some(d(2026, 11, 1)));
        assert_eq!(parse_month("9999-12"), Some(d(9999, 12, 1)));
        for bad in [
            "2026-13",
            "2026-00",
            "abc",
            "99999-01",
            "2026-1",
            "26-11",
            "2026-11-01",
            "+026-11",
            "0999-01",
            "２０２６-11",
            "",
        ] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
        assert!(month_link(d(9999, 12, 1).checked_add_months(Months::new(1))).is_none());
        assert_eq!(
            month_link(Some(d(2026, 1, 1))).unwrap().param,
            "2026-01".to_owned()
        );
    }

    #[test]
    fn whole_monday_first_weeks_are_shown() {
        // November 2026 starts on a Sunday and ends on a Monday.
        assert_eq!(
            shown_range(d(2026, 11, 1)),
            (d(2026, 10, 26), d(2026, 12, 6))
        );
        // February 2027 starts on a Monday and ends on a Sunday: four weeks.
        assert_eq!(shown_range(d(2027, 2, 1)), (d(2027, 2, 1), d(2027, 2, 28)));
        let w = weeks(d(2027, 2, 1), d(2027, 2, 3), &[], Units::Metric);
        assert_eq!(w.len(), 4);
        assert!(w[0].days[2].today);
        assert_eq!(w[0].days[0].weekday, "Mon");
        assert_eq!(w[0].load, "0");
    }

    #[test]
    fn days_and_weeks_add_up() {
        let act = |day: NaiveDate, load: f64, secs: f64, metres: f64| DayActivity {
            id: Uuid::now_v7(),
            sport: "running".into(),
            name: "Run".into(),
            local_day: day,
            timer_s: Some(secs),
            distance_m: Some(metres),
            load,
        };
        let acts = [
            act(d(2026, 10, 31), 10.0, 600.0, 1000.0),
            act(d(2026, 11, 2), 40.0, 3600.0, 10_000.0),
            act(d(2026, 11, 2), 25.0, 1800.0, 5000.0),
        ];
        let w = weeks(d(2026, 11, 1), d(2026, 11, 20), &acts, Units::Metric);
        assert_eq!(w.len(), 6);
        assert!(!w[0].days[5].in_month);
        assert_eq!(w[0].days[5].activities.len(), 1);
        assert_eq!(w[0].load, "10");
        assert_eq!(w[1].days[0].load, "65");
        assert_eq!(w[1].time, "1:30:00");
        assert_eq!(w[1].distance, "15.00 km");
        assert_eq!(w[1].count, 2);
    }
}
