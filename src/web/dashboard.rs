//! `GET /dashboard`: the athlete's home.
//!
//! Form, the performance management chart, weekly volume by sport, ramp rate and ACWR, recent activities,
//! power curve, best efforts, a heat map of daily load and new records.
//!
//! Built from three statements (the session lookup and the two in
//! [`crate::db::dashboard`]); everything else is arithmetic on the athlete's
//! summary row. The range switch (`?range=6w|90d|1y|all`) re-renders only the
//! `#dash-range` region when asked by htmx.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{Datelike as _, NaiveDate, TimeDelta};
use serde::Deserialize;

use crate::analytics::curves::DURATION_LADDER;
use crate::analytics::load::{PmcDay, PmcParams, pmc};
use crate::analytics::pace::BEST_EFFORT_DISTANCES;
use crate::auth::CurrentUser;
use crate::charts;
use crate::db::dashboard::{self, Overview, Recent};
use crate::db::summaries::{Record, Scope, Summary};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::format::{self, Units};
use crate::web::forms::{htmx_targets, render_with_status};
use crate::web::layout::PageContext;
use crate::web::subject::{CoachSubject, Subject, SubjectView};
use crate::web::thresholds::RecomputeView;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/dashboard").route(web::get().to(page)))
        .service(web::resource("/coach/athletes/{id}").route(web::get().to(coach_page)));
}

/// The chart range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Range {
    SixWeeks,
    NinetyDays,
    Year,
    All,
}

impl Range {
    const ALL: [Self; 4] = [Self::SixWeeks, Self::NinetyDays, Self::Year, Self::All];

    fn parse(raw: Option<&str>) -> Self {
        match raw {
            Some("6w") => Self::SixWeeks,
            Some("1y") => Self::Year,
            Some("all") => Self::All,
            _ => Self::NinetyDays,
        }
    }

    const fn key(self) -> &'static str {
        match self {
            Self::SixWeeks => "6w",
            Self::NinetyDays => "90d",
            Self::Year => "1y",
            Self::All => "all",
        }
    }

    const fn label(self) -> &'static str {
        match self {
            Self::SixWeeks => "6 weeks",
            Self::NinetyDays => "90 days",
            Self::Year => "1 year",
            Self::All => "All",
        }
    }

    /// Days shown, `None` for all.
    const fn days(self) -> Option<i64> {
        match self {
            Self::SixWeeks => Some(42),
            Self::NinetyDays => Some(90),
            Self::Year => Some(365),
            Self::All => None,
        }
    }

    fn first_day(self, today: NaiveDate) -> Option<NaiveDate> {
        self.days().map(|d| today - TimeDelta::days(d - 1))
    }
}

/// Everything of the page derived from the athlete's summary for one range,
/// day and unit system: the charts (SVG), today's figures and form, the
/// notes and the records.
#[derive(Debug, Default)]
pub struct SummaryView {
    pub pmc_svg: String,
    pub pmc_desc: String,
    pub curve_svg: String,
    pub heat_svg: String,
    pub form: Option<FormStatus>,
    pub today: Option<Today>,
    pub notes: Vec<Note>,
    pub efforts: Vec<RecordView>,
    pub power_records: Vec<RecordView>,
    pub new_records: Vec<RecordView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ChartKey {
    user: uuid::Uuid,
    /// The summary row read (the athlete's, or the coach-visible one). It
    /// also decides the links inside (own pages or `/coach/athletes/{id}/…`).
    scope: Scope,
    range: Range,
    today: NaiveDate,
    units: Units,
    /// The summary's `updated_at`: every import, delete and recompute changes it.
    version: chrono::DateTime<chrono::Utc>,
}

/// The summary-derived part of dashboards, shared by the workers of an instance.
///
/// CALIBRATION.md fix 4: SVG that only changes when the data does. Keyed by
/// athlete, range, day and the summary's version, so a new import, a delete or
/// a recompute is never served stale. Bounded: when full it is emptied (at
/// most [`ChartCache::ENTRIES`] × the size of one dashboard's charts, ~60 KB).
#[derive(Debug, Default)]
pub struct ChartCache {
    entries: Mutex<HashMap<ChartKey, Arc<SummaryView>>>,
}

impl ChartCache {
    /// Most entries kept.
    pub const ENTRIES: usize = 512;

    fn get(&self, key: &ChartKey) -> Option<Arc<SummaryView>> {
        self.lock().get(key).cloned()
    }

    fn insert(&self, key: ChartKey, charts: Arc<SummaryView>) {
        let mut entries = self.lock();
        if entries.len() >= Self::ENTRIES {
            entries.clear();
        }
        entries.insert(key, charts);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ChartKey, Arc<SummaryView>>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Deserialize)]
struct Query {
    range: Option<String>,
}

/// Form as TrainingPeaks reads TSB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormStatus {
    pub label: &'static str,
    /// success | info | warning | error
    pub tone: &'static str,
    pub tsb: String,
    pub explanation: &'static str,
}

/// The form bucket of a TSB value: fresh ≥ 5; neutral −10…5; optimal
/// training −30…−10; overreaching ≤ −30.
#[must_use]
pub fn form_status(tsb: f64) -> FormStatus {
    let (label, tone, explanation) = if tsb >= 5.0 {
        (
            "Fresh",
            "success",
            "Fatigue is below fitness: a good moment to race or test, but fitness fades if this lasts.",
        )
    } else if tsb > -10.0 {
        (
            "Neutral",
            "info",
            "Fitness and fatigue are balanced: maintaining, neither building much nor recovering.",
        )
    } else if tsb > -30.0 {
        (
            "Optimal training",
            "success",
            "Productive fatigue: the load is building fitness. Keep recovery days in the plan.",
        )
    } else {
        (
            "Overreaching",
            "error",
            "Fatigue is far above fitness: risk of illness or injury. Plan easy days soon.",
        )
    };
    FormStatus {
        label,
        tone,
        tsb: signed(tsb),
        explanation,
    }
}

/// A figure with its sign (+7, 0, −12; a true minus sign).
#[must_use]
pub fn signed(v: f64) -> String {
    let r = v.round();
    if r > 0.0 {
        format!("+{r:.0}")
    } else if r == 0.0 {
        "0".to_owned()
    } else {
        format!("−{:.0}", -r)
    }
}

/// A warning or note under the load figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub tone: &'static str,
    pub text: String,
}

/// Ramp rate and ACWR notes: ramp above 8 CTL points a week, ACWR above 1.5
/// (high) or below 0.8 (load falling).
#[must_use]
pub fn load_notes(day: &PmcDay) -> Vec<Note> {
    let mut out = Vec::new();
    if day.ramp > 8.0 {
        out.push(Note {
            tone: "warning",
            text: format!(
                "Fitness is rising by {:.1} a week: ramps above 8 a week raise the risk of injury and illness.",
                day.ramp
            ),
        });
    }
    if let Some(acwr) = day.acwr {
        if acwr > 1.5 {
            out.push(Note {
                tone: "warning",
                text: format!(
                    "Acute:chronic workload ratio {acwr:.2}: this week's load is well above your usual. Above 1.5 injuries become more likely."
                ),
            });
        } else if acwr < 0.8 {
            out.push(Note {
                tone: "info",
                text: format!(
                    "Acute:chronic workload ratio {acwr:.2}: you are training less than usual."
                ),
            });
        }
    }
    out
}

/// One sport's row of the weekly table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekRow {
    pub sport: String,
    pub time: String,
    pub distance: String,
    pub load: String,
    pub avg_time: String,
    pub avg_distance: String,
    pub avg_load: String,
    /// up | down | flat, by load against the four-week average.
    pub trend: &'static str,
}

#[derive(Debug, Default, Clone, Copy)]
struct Volume {
    seconds: f64,
    metres: f64,
    load: f64,
}

/// This week (Monday to today) against the mean of the four weeks before,
/// per sport.
#[must_use]
pub fn weekly(recent: &[Recent], today: NaiveDate, units: Units) -> Vec<WeekRow> {
    let monday = today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()));
    let before = monday - TimeDelta::days(28);
    let mut sports: BTreeMap<&str, (Volume, Volume)> = BTreeMap::new();
    for a in recent {
        if a.local_day < before || a.local_day > today {
            continue;
        }
        let entry = sports.entry(a.sport.as_str()).or_default();
        let v = if a.local_day >= monday {
            &mut entry.0
        } else {
            &mut entry.1
        };
        v.seconds += a.timer_s.unwrap_or(0.0);
        v.metres += a.distance_m.unwrap_or(0.0);
        v.load += a.load;
    }
    sports
        .into_iter()
        .map(|(sport, (now, past))| {
            let avg = Volume {
                seconds: past.seconds / 4.0,
                metres: past.metres / 4.0,
                load: past.load / 4.0,
            };
            let trend = if now.load > avg.load * 1.1 {
                "up"
            } else if now.load < avg.load * 0.9 {
                "down"
            } else {
                "flat"
            };
            WeekRow {
                sport: format::sport_label(sport),
                time: format::duration(Some(now.seconds)),
                distance: format::distance(Some(now.metres), units),
                load: format!("{:.0}", now.load),
                avg_time: format::duration(Some(avg.seconds)),
                avg_distance: format::distance(Some(avg.metres), units),
                avg_load: format!("{:.0}", avg.load),
                trend,
            }
        })
        .collect()
}

/// A record line (best effort or power) for the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView {
    pub label: String,
    pub value: String,
    pub detail: String,
    pub date: String,
    pub href: String,
    pub new: bool,
}

fn record_view(
    label: String,
    r: &Record,
    value: String,
    detail: String,
    today: NaiveDate,
) -> RecordView {
    RecordView {
        label,
        value,
        detail,
        date: r.day.format("%-d %b %Y").to_string(),
        href: format!("/activities/{}", r.activity),
        new: format::is_new_record(r.day, today),
    }
}

/// Power durations shown as records on the dashboard.
const RECORD_DURATIONS: [usize; 6] = [5, 60, 300, 1200, 3600, 7200];

fn efforts(s: &Summary, today: NaiveDate, units: Units) -> Vec<RecordView> {
    BEST_EFFORT_DISTANCES
        .iter()
        .zip(&s.efforts)
        .filter_map(|(d, r)| {
            let r = r.as_ref()?;
            let seconds = f64::from(r.value);
            Some(record_view(
                format::effort_distance(*d),
                r,
                format::clock(seconds),
                format::pace(Some(d / seconds), units),
                today,
            ))
        })
        .collect()
}

fn power_records(s: &Summary, today: NaiveDate) -> Vec<RecordView> {
    DURATION_LADDER
        .iter()
        .zip(&s.power)
        .filter(|(d, _)| RECORD_DURATIONS.contains(d))
        .filter_map(|(d, r)| {
            let r = r.as_ref()?;
            Some(record_view(
                format::ladder_duration(*d),
                r,
                format!("{:.0} W", r.value),
                String::new(),
                today,
            ))
        })
        .collect()
}

/// Records of every kind set in the last two weeks.
fn new_records(s: &Summary, today: NaiveDate, units: Units) -> Vec<RecordView> {
    let mut out: Vec<RecordView> = DURATION_LADDER
        .iter()
        .zip(&s.power)
        .filter_map(|(d, r)| {
            let r = r.as_ref()?;
            Some(record_view(
                format!("Best {} power", format::ladder_duration(*d)),
                r,
                format!("{:.0} W", r.value),
                String::new(),
                today,
            ))
        })
        .chain(efforts(s, today, units).into_iter().map(|mut v| {
            v.label = format!("Fastest {}", v.label);
            v
        }))
        .filter(|v| v.new)
        .collect();
    out.truncate(8);
    out
}

/// A recent activity line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecentView {
    pub href: String,
    pub name: String,
    pub sport: String,
    pub date: String,
    pub duration: String,
    pub distance: String,
    pub load: String,
    pub source: &'static str,
}

fn load_source_label(source: &str) -> &'static str {
    match source {
        "power" => "TSS (power)",
        "pace" => "rTSS / sTSS (pace)",
        "heart_rate" => "hrTSS (heart rate)",
        _ => "no load",
    }
}

/// "Which metric was used": how many recent activities took their load from each source.
fn load_sources(recent: &[Recent], since: NaiveDate) -> Vec<(String, i64)> {
    let mut counts: BTreeMap<&'static str, i64> = BTreeMap::new();
    for a in recent.iter().filter(|a| a.local_day >= since) {
        *counts.entry(load_source_label(&a.load_source)).or_default() += 1;
    }
    counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The performance management figures of today.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Today {
    pub ctl: String,
    pub atl: String,
    pub tsb: String,
    pub ramp: String,
    pub acwr: String,
    pub week_load: String,
}

#[derive(Template)]
#[template(path = "dashboard/index.html", blocks = ["range"])]
struct Page {
    ctx: PageContext,
    welcome: String,
    /// Whose dashboard, and who is looking.
    subject: SubjectView,
    /// Unread comments by coaches on the athlete's activities (a badge).
    new_comments: i64,
    has_data: bool,
    has_thresholds: bool,
    range_label: &'static str,
    ranges: Vec<(&'static str, &'static str, bool)>,
    weeks: Vec<WeekRow>,
    recent: Vec<RecentView>,
    sources: Vec<(String, i64)>,
    /// Cached per athlete, range, day, units and summary version.
    view: Arc<SummaryView>,
    recompute: Option<RecomputeView>,
}

const RECENT_SHOWN: usize = 6;

/// `GET /dashboard`: the signed-in athlete's own dashboard.
async fn page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<Query>,
) -> Result<HttpResponse, AppError> {
    let subject = Subject::own(&user);
    render(&req, ctx, &state, &user, &subject, &query).await
}

/// `GET /coach/athletes/{id}`: a linked athlete's dashboard, read-only, from
/// the coach-visible summary and sources.
async fn coach_page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    coach: CoachSubject,
    query: web::Query<Query>,
) -> Result<HttpResponse, AppError> {
    render(&req, ctx, &state, &coach.viewer, &coach.subject, &query).await
}

async fn render(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    viewer: &CurrentUser,
    subject: &Subject,
    query: &Query,
) -> Result<HttpResponse, AppError> {
    let range = Range::parse(query.range.as_deref());
    let now = state.clock.now();
    let mut conn = state.db.conn().await?;
    let overview = dashboard::overview(
        &mut conn,
        subject.athlete,
        now,
        i32::try_from(RECENT_SHOWN).unwrap_or(6),
        subject.scope(),
        subject.sources(),
    )
    .await;
    let overview = conn.check(overview)?;
    let units = Units::of(viewer);
    let key = overview.summary_updated.map(|version| ChartKey {
        user: subject.athlete,
        scope: subject.scope(),
        range,
        today: overview.today,
        units,
        version,
    });
    let cached = key.and_then(|k| state.chart_cache.get(&k));
    let view = match (cached, key) {
        (Some(view), _) => view,
        (None, None) => Arc::default(),
        (None, Some(k)) => {
            let read = dashboard::details(
                &mut conn,
                subject.athlete,
                range.first_day(overview.today),
                subject.scope(),
                subject.sources(),
            )
            .await;
            let (summary, range_curve) = conn.check(read)?;
            let view = Arc::new(summary.map_or_else(SummaryView::default, |s| {
                summary_view(range, overview.today, &s, &range_curve, units)
            }));
            state.chart_cache.insert(k, Arc::clone(&view));
            view
        }
    };
    drop(conn);
    let page = build(ctx, units, subject, range, &overview, view, now);
    if htmx_targets(req, "dash-range") {
        render_with_status(&page.as_range(), StatusCode::OK)
    } else {
        render_with_status(&page, StatusCode::OK)
    }
}

fn build(
    ctx: PageContext,
    units: Units,
    subject: &Subject,
    range: Range,
    o: &Overview,
    view: Arc<SummaryView>,
    now: chrono::DateTime<chrono::Utc>,
) -> Page {
    let recent = o.recent.as_slice();
    let today = o.today;
    Page {
        ctx,
        welcome: if subject.is_own() {
            format!("Welcome, {}", subject.name)
        } else {
            format!("{}'s training", subject.name)
        },
        subject: SubjectView::of(subject, &o.withheld),
        // The athlete's own unread comments (0 in a coach's overview).
        new_comments: o.unread_comments,
        has_data: o.summary_updated.is_some(),
        has_thresholds: o.threshold_entries > 0,
        range_label: range.label(),
        ranges: Range::ALL
            .iter()
            .map(|r| (r.key(), r.label(), *r == range))
            .collect(),
        weeks: weekly(recent, today, units),
        recent: recent
            .iter()
            .take(RECENT_SHOWN)
            .map(|a| RecentView {
                href: subject.href(&format!("/activities/{}", a.id)),
                name: a.name.clone(),
                sport: format::sport_label(&a.sport),
                date: format::local_date_time(a.start_time, a.utc_offset_s),
                duration: format::duration(a.timer_s),
                distance: format::distance(a.distance_m, units),
                load: format!("{:.0}", a.load),
                source: load_source_label(&a.load_source),
            })
            .collect(),
        sources: load_sources(recent, today - TimeDelta::days(34)),
        view,
        // The athlete's recompute job (not in a coach's overview).
        recompute: RecomputeView::of(o.recompute.as_ref(), now),
    }
}

/// The performance management chart of a summary up to today.
///
/// From its first day (or today, if later): the first day, the daily loads
/// and the chart. What the dashboard and the coach roster both compute
/// figures from.
#[must_use]
pub fn pmc_to_today(s: &Summary, today: NaiveDate) -> (NaiveDate, Vec<f64>, Vec<PmcDay>) {
    let first = s.first_day.min(today);
    let daily = s.series(first, today);
    let days = pmc(&daily, PmcParams::default());
    (first, daily, days)
}

/// The load of the last 7 days of `daily` (which ends today).
#[must_use]
pub fn week_load(daily: &[f64]) -> f64 {
    daily.iter().rev().take(7).sum::<f64>()
}

impl Today {
    /// Today's figures as shown: `last` is today's chart day, `daily` ends today.
    #[must_use]
    pub fn of(last: &PmcDay, daily: &[f64]) -> Self {
        Self {
            ctl: format!("{:.0}", last.ctl),
            atl: format!("{:.0}", last.atl),
            tsb: signed(last.tsb),
            ramp: format!("{:+.1}", last.ramp),
            acwr: last
                .acwr
                .map_or_else(|| "–".to_owned(), |a| format!("{a:.2}")),
            week_load: format!("{:.0}", week_load(daily)),
        }
    }
}

/// The summary-derived part of the page: today's figures, form and notes
/// from the PMC, the records, and the charts of the range.
fn summary_view(
    range: Range,
    today: NaiveDate,
    s: &Summary,
    range_curve: &[Option<f32>],
    units: Units,
) -> SummaryView {
    let (first, daily, days) = pmc_to_today(s, today);
    let mut view = SummaryView {
        efforts: efforts(s, today, units),
        power_records: power_records(s, today),
        new_records: new_records(s, today, units),
        heat_svg: heat_map(s, today),
        curve_svg: curve_chart(range_curve, s, range),
        ..SummaryView::default()
    };
    if let Some(last) = days.last() {
        view.form = Some(form_status(last.tsb));
        view.notes = load_notes(last);
        view.today = Some(Today::of(last, &daily));
    }
    let shown_from = range.first_day(today).unwrap_or(first).max(first);
    let skip = usize::try_from((shown_from - first).num_days()).unwrap_or(0);
    let shown = days.get(skip..).unwrap_or_default();
    (view.pmc_svg, view.pmc_desc) = pmc_chart(shown, shown_from);
    view
}

fn pmc_chart(shown: &[PmcDay], from: NaiveDate) -> (String, String) {
    let Some(last) = shown.last() else {
        return (String::new(), String::new());
    };
    #[expect(clippy::cast_precision_loss, reason = "day numbers are small")]
    let x0 = charts::day_number(from) as f64;
    let pts = |f: fn(&PmcDay) -> f64| -> Vec<(f64, f64)> {
        shown
            .iter()
            .enumerate()
            .map(|(i, d)| {
                #[expect(clippy::cast_precision_loss, reason = "day counts are small")]
                let x = x0 + i as f64;
                (x, f(d))
            })
            .collect()
    };
    let desc = format!(
        "Fitness (CTL) {:.0}, fatigue (ATL) {:.0}, form (TSB) {} today; daily load as bars on the right axis.",
        last.ctl,
        last.atl,
        signed(last.tsb)
    );
    let day_label = |x: f64| {
        #[expect(clippy::cast_possible_truncation, reason = "day numbers are small")]
        let day = charts::date_of_day(x.round() as i64);
        day.map_or_else(String::new, |d| d.format("%-d %b %y").to_string())
    };
    let svg = charts::chart(&charts::Chart {
        id: "pmc",
        title: "Performance management chart",
        description: &desc,
        x: charts::XScale::Days,
        x_label: &day_label,
        y_label: &|y| format!("{y:.0}"),
        lines: vec![
            charts::Series::new("Fitness (CTL)", "series-fitness", pts(|d| d.ctl)),
            charts::Series::new("Fatigue (ATL)", "series-fatigue", pts(|d| d.atl)),
            charts::Series::new("Form (TSB)", "series-form", pts(|d| d.tsb)),
        ],
        bars: Some(charts::Bars {
            label: "Daily load".to_owned(),
            class: "series-load",
            points: pts(|d| d.load),
            y_label: |v| format!("{v:.0}"),
        }),
        zero_line: true,
    });
    (svg, desc)
}

fn curve_chart(range_curve: &[Option<f32>], s: &Summary, range: Range) -> String {
    let all_time: Vec<Option<f32>> = s.power.iter().map(|r| r.map(|r| r.value)).collect();
    if range == Range::All {
        return crate::web::activity_analysis::power_curve_chart(
            "power-curve-svg",
            "Power curve",
            "Best mean power for each duration, all time.",
            ("All time", &all_time),
            ("", &[]),
        );
    }
    let label = format!("Best in {}", range.label());
    crate::web::activity_analysis::power_curve_chart(
        "power-curve-svg",
        "Power curve",
        "Best mean power for each duration in the range, with the all-time curve behind it.",
        (&label, range_curve),
        ("All time", &all_time),
    )
}

fn heat_map(s: &Summary, today: NaiveDate) -> String {
    let from = today - TimeDelta::days(364);
    let loads = s.series(from, today);
    if loads.iter().all(|l| *l <= 0.0) {
        return String::new();
    }
    charts::heat_map(
        "heat",
        "Daily training load, last 12 months",
        from,
        &loads,
        today,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_buckets_follow_tsb() {
        assert_eq!(form_status(12.0).label, "Fresh");
        assert_eq!(form_status(5.0).label, "Fresh");
        assert_eq!(form_status(4.9).label, "Neutral");
        assert_eq!(form_status(-9.9).label, "Neutral");
        assert_eq!(form_status(-10.0).label, "Optimal training");
        assert_eq!(form_status(-29.9).label, "Optimal training");
        assert_eq!(form_status(-30.0).label, "Overreaching");
        assert_eq!(form_status(-30.0).tsb, "−30");
        assert_eq!(form_status(7.4).tsb, "+7");
    }

    #[test]
    fn ramp_and_acwr_warnings() {
        let day = |ramp, acwr| PmcDay {
            load: 0.0,
            ctl: 50.0,
            atl: 60.0,
            tsb: -10.0,
            ramp,
            acwr,
        };
        assert!(load_notes(&day(3.0, Some(1.1))).is_empty());
        assert_eq!(load_notes(&day(9.0, Some(1.6))).len(), 2);
        assert_eq!(load_notes(&day(1.0, Some(0.5)))[0].tone, "info");
    }

    #[test]
    fn weekly_compares_this_week_with_the_mean_of_four() {
        // Wednesday 2026-11-25; Monday is the 23rd; the four weeks before start 26 Oct.
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let a = |day: u32, month: u32, sport: &str, load: f64| Recent {
            id: uuid::Uuid::nil(),
            sport: sport.to_owned(),
            name: "x".to_owned(),
            start_time: chrono::Utc::now(),
            utc_offset_s: None,
            local_day: NaiveDate::from_ymd_opt(2026, month, day).unwrap(),
            timer_s: Some(3600.0),
            distance_m: Some(10_000.0),
            load,
            load_source: "power".to_owned(),
        };
        let recent = vec![
            a(24, 11, "cycling", 100.0),
            a(23, 11, "cycling", 50.0),
            a(22, 11, "cycling", 80.0),
            a(26, 10, "cycling", 80.0),
            a(25, 10, "cycling", 1000.0), // before the window
            a(20, 11, "running", 40.0),
        ];
        let rows = weekly(&recent, today, Units::Metric);
        assert_eq!(rows.len(), 2);
        let ride = rows.iter().find(|r| r.sport == "Cycling").unwrap();
        assert_eq!(ride.load, "150");
        assert_eq!(ride.avg_load, "40");
        assert_eq!(ride.trend, "up");
        assert_eq!(ride.time, format::duration(Some(7200.0)));
        let run = rows.iter().find(|r| r.sport == "Running").unwrap();
        assert_eq!(run.load, "0");
        assert_eq!(run.avg_load, "10");
        assert_eq!(run.trend, "down");
    }

    #[test]
    fn labels() {
        assert_eq!(Range::parse(Some("bogus")), Range::NinetyDays);
        assert_eq!(
            Range::parse(Some("all")).first_day(NaiveDate::default()),
            None
        );
    }
}
