//! `GET /coach`: the coach's roster of linked athletes.
//!
//! One row per athlete with fitness, fatigue, form, load, ACWR, ramp rate,
//! last activity, a 90-day CTL sparkline and flags; sorting, filtering and the
//! coach's own tags.
//!
//! Figures come from each athlete's `coach` summary row (only sources coaches
//! may see) through the dashboard's own PMC ([`dashboard::pmc_to_today`],
//! [`dashboard::Today`], [`dashboard::form_status`]), so a coach reads the
//! same numbers the athlete's dashboard would show for those activities.
//!
//! Statements per view, whatever the number of athletes: the session lookup,
//! [`roster::links`], and — only when some athlete's figures are not cached —
//! one [`roster::loads`] for all of them. The derived figures are cached per
//! (athlete, summary version, athlete's today) in [`RosterCache`].

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::{CurrentUser, RequireCoach};
use crate::charts;
use crate::db::roster::{self, Link};
use crate::db::summaries::Summary;
use crate::error::AppError;
use crate::state::AppState;
use crate::web::compress;
use crate::web::dashboard::{self, FormStatus, Today};
use crate::web::forms::{htmx_targets, parse_id, redirect, render_with_status};
use crate::web::layout::PageContext;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/coach").route(web::get().to(page)));
    cfg.service(web::resource("/coach/athletes/{id}/tags").route(web::post().to(add_tag)));
    cfg.service(
        web::resource("/coach/athletes/{id}/tags/delete").route(web::post().to(remove_tag)),
    );
}

/// Days of CTL in the sparkline.
const SPARK_DAYS: usize = 90;
/// A tag's length limits, in characters (as the `coach_tags` check).
const TAG_MAX: usize = 40;

/// The figures derived from one athlete's coach summary on one day.
#[derive(Debug, Clone)]
pub struct Figures {
    pub ctl: f64,
    pub tsb: f64,
    pub ramp: f64,
    pub acwr: Option<f64>,
    /// As the dashboard shows them.
    pub today: Today,
    pub form: FormStatus,
    /// The day of the last coach-visible activity.
    pub last_day: NaiveDate,
    /// The sparkline of the last 90 days' CTL (SVG).
    pub spark: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FiguresKey {
    athlete: Uuid,
    /// The coach summary's `updated_at`: every import, delete and recompute changes it.
    version: DateTime<Utc>,
    today: NaiveDate,
}

/// Roster figures shared by the workers of an instance.
///
/// A roster of 200 athletes does not recompute 200 charts per view. Keyed by the summary's
/// version and the day, so nothing is served stale. Bounded: emptied when full.
#[derive(Debug, Default)]
pub struct RosterCache {
    entries: Mutex<HashMap<FiguresKey, Arc<Figures>>>,
    /// The rendered table region per (coach, fingerprint of the view and of every
    /// link's name, access, day, summary version, thresholds and tags): a view
    /// whose inputs did not change is not rendered again.
    regions: Mutex<HashMap<(Uuid, u64), Arc<Region>>>,
}

impl RosterCache {
    /// Most entries kept (a few KB each).
    pub const ENTRIES: usize = 8192;

    /// Most rendered regions kept (about 270 KB of HTML and 37 KB compressed each for 200 athletes).
    pub const REGIONS: usize = 64;

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<FiguresKey, Arc<Figures>>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn regions(&self) -> std::sync::MutexGuard<'_, HashMap<(Uuid, u64), Arc<Region>>> {
        self.regions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A rendered roster region, as HTML and compressed once for gzip bodies.
#[derive(Debug)]
pub struct Region {
    html: Box<str>,
    gz: compress::Deflated,
}

/// Where a full page's body is cut to splice in the precompressed region
/// (a comment no escaped user text can produce).
const SPLICE: &str = "<!--pierre:roster-region-->";

/// What the rendered region depends on: the view and every link's fields
/// (names, access, the athlete's day, the summary version — which fixes the
/// figures —, thresholds present, tags), independent of the rows' order.
fn region_fingerprint(view: &View, links: &[Link]) -> u64 {
    use std::hash::{Hash as _, Hasher as _};
    let (sum, xor) = links
        .iter()
        .map(|l| {
            let mut h = std::hash::DefaultHasher::new();
            (
                l.athlete_id,
                &l.name,
                &l.access,
                l.today,
                l.summary_updated,
                l.has_thresholds,
                &l.tags,
            )
                .hash(&mut h);
            h.finish()
        })
        .fold((0_u64, 0_u64), |(sum, xor), v| {
            (sum.wrapping_add(v), xor ^ v)
        });
    let mut h = std::hash::DefaultHasher::new();
    (view.current(), links.len(), sum, xor).hash(&mut h);
    h.finish()
}

/// The figures of a summary on `today`.
#[must_use]
pub fn figures(s: &Summary, today: NaiveDate) -> Option<Figures> {
    let (_, daily, days) = dashboard::pmc_to_today(s, today);
    let last = days.last()?;
    let from = days.len().saturating_sub(SPARK_DAYS);
    // Every other day, ending today: 45 points are plenty at 120 × 28 and
    // keep a roster of 200 light.
    let mut ctl: Vec<f64> = days
        .get(from..)
        .unwrap_or_default()
        .iter()
        .rev()
        .step_by(2)
        .map(|d| d.ctl)
        .collect();
    ctl.reverse();
    Some(Figures {
        ctl: last.ctl,
        tsb: last.tsb,
        ramp: last.ramp,
        acwr: last.acwr,
        today: Today::of(last, &daily),
        form: dashboard::form_status(last.tsb),
        last_day: s.last_day(),
        spark: charts::sparkline("Fitness (CTL), last 90 days", &ctl),
    })
}

/// A roster flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// TSB below −30.
    Form,
    /// Ramp rate above 8 CTL points a week.
    Ramp,
    /// ACWR above 1.5.
    Acwr,
    /// Nothing recorded (that the coach may see) for 7 days.
    Inactive,
    /// No thresholds entered.
    Thresholds,
}

impl Flag {
    const ALL: [Self; 5] = [
        Self::Form,
        Self::Ramp,
        Self::Acwr,
        Self::Inactive,
        Self::Thresholds,
    ];

    const fn key(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Ramp => "ramp",
            Self::Acwr => "acwr",
            Self::Inactive => "inactive",
            Self::Thresholds => "thresholds",
        }
    }

    const fn label(self) -> &'static str {
        match self {
            Self::Form => "TSB below −30",
            Self::Ramp => "Ramp above 8/week",
            Self::Acwr => "ACWR above 1.5",
            Self::Inactive => "Nothing for 7 days",
            Self::Thresholds => "No thresholds",
        }
    }

    const fn tone(self) -> &'static str {
        match self {
            Self::Form | Self::Acwr => "error",
            Self::Ramp | Self::Inactive | Self::Thresholds => "warning",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.key() == raw)
    }
}

/// The flags of an athlete.
#[must_use]
pub fn flags(f: Option<&Figures>, days_since: Option<i64>, has_thresholds: bool) -> Vec<Flag> {
    let mut out = Vec::new();
    if let Some(f) = f {
        if f.tsb < -30.0 {
            out.push(Flag::Form);
        }
        if f.ramp > 8.0 {
            out.push(Flag::Ramp);
        }
        if f.acwr.is_some_and(|a| a > 1.5) {
            out.push(Flag::Acwr);
        }
    }
    if days_since.is_none_or(|d| d >= 7) {
        out.push(Flag::Inactive);
    }
    if !has_thresholds {
        out.push(Flag::Thresholds);
    }
    out
}

/// How the roster is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Name,
    Tsb,
    Ctl,
    Ramp,
    Acwr,
    Last,
}

impl Sort {
    const ALL: [Self; 6] = [
        Self::Name,
        Self::Ctl,
        Self::Tsb,
        Self::Acwr,
        Self::Ramp,
        Self::Last,
    ];

    fn parse(raw: Option<&str>) -> Self {
        Self::ALL
            .into_iter()
            .find(|s| Some(s.key()) == raw)
            .unwrap_or(Self::Name)
    }

    const fn key(self) -> &'static str {
        match self {
            Self::Name => "name",
            Self::Tsb => "tsb",
            Self::Ctl => "ctl",
            Self::Ramp => "ramp",
            Self::Acwr => "acwr",
            Self::Last => "last",
        }
    }
}

/// The query string of the roster.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct Query {
    sort: Option<String>,
    dir: Option<String>,
    flag: Option<String>,
    tag: Option<String>,
    q: Option<String>,
    /// `groups`: show the forms that add and remove tags.
    edit: Option<String>,
}

/// The parsed view settings.
#[derive(Debug, Clone)]
struct View {
    sort: Sort,
    desc: bool,
    flag: Option<Flag>,
    tag: String,
    q: String,
    /// The tag forms are shown (kept out of the everyday view: a roster of
    /// 200 would carry 200 forms).
    edit: bool,
}

impl View {
    fn of(q: &Query) -> Self {
        Self {
            sort: Sort::parse(q.sort.as_deref()),
            desc: q.dir.as_deref() == Some("desc"),
            flag: q.flag.as_deref().and_then(Flag::parse),
            tag: q.tag.as_deref().unwrap_or("").trim().to_owned(),
            q: q.q.as_deref().unwrap_or("").trim().to_owned(),
            edit: q.edit.as_deref() == Some("groups"),
        }
    }

    /// `/coach?…` with these settings, `sort`/`desc` replaced if given.
    fn href(&self, sort: Sort, desc: bool, flag: Option<Flag>, tag: &str) -> String {
        let mut s = url::form_urlencoded::Serializer::new(String::new());
        if sort != Sort::Name {
            s.append_pair("sort", sort.key());
        }
        if desc {
            s.append_pair("dir", "desc");
        }
        if let Some(f) = flag {
            s.append_pair("flag", f.key());
        }
        if !tag.is_empty() {
            s.append_pair("tag", tag);
        }
        if !self.q.is_empty() {
            s.append_pair("q", &self.q);
        }
        if self.edit {
            s.append_pair("edit", "groups");
        }
        let qs = s.finish();
        if qs.is_empty() {
            "/coach".to_owned()
        } else {
            format!("/coach?{qs}")
        }
    }

    fn current(&self) -> String {
        self.href(self.sort, self.desc, self.flag, &self.tag)
    }
}

/// A column header.
#[derive(Debug)]
pub struct Header {
    label: &'static str,
    href: String,
    /// none | ascending | descending
    aria: &'static str,
}

/// One row of the table.
#[derive(Debug)]
pub struct Row {
    id: Uuid,
    name: String,
    access: String,
    figures: Option<Arc<Figures>>,
    last: String,
    days_since: String,
    flags: Vec<(&'static str, &'static str)>,
    tags: Vec<(String, String)>,
    sort_last: Option<NaiveDate>,
}

#[derive(Template)]
#[template(path = "coach/roster.html", blocks = ["region"])]
struct Page {
    ctx: PageContext,
    /// The region rendered by an earlier view with the same inputs.
    cached_region: Option<Arc<Region>>,
    /// Render [`SPLICE`] in place of the cached region (see [`respond`]).
    splice: bool,
    total: usize,
    rows: Vec<Row>,
    headers: Vec<Header>,
    flag_options: Vec<(&'static str, &'static str, bool)>,
    tag_options: Vec<(String, bool)>,
    q: String,
    sort_key: &'static str,
    dir: &'static str,
    filtered: bool,
    clear_href: String,
    back: String,
    error: String,
    editing: bool,
    /// The same view with the tag forms toggled.
    edit_href: String,
}

async fn page(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    RequireCoach(user): RequireCoach,
    query: web::Query<Query>,
) -> Result<HttpResponse, AppError> {
    let view = View::of(&query);
    let page = build(ctx, &state, &user, &view, String::new()).await?;
    respond(&req, page)
}

impl Page {
    /// The cached region's HTML, or the splice mark when [`respond`] splices it compressed.
    fn region_html(&self) -> &str {
        match &self.cached_region {
            Some(_) if self.splice => SPLICE,
            Some(region) => &region.html,
            None => "",
        }
    }
}

/// The page, or only its region for htmx requests that target it.
///
/// When the region is cached and the client accepts gzip, the body is one gzip
/// member made of the freshly compressed page around the region compressed
/// when it was cached: a view costs compressing the page's few kilobytes of
/// shell, not the region's hundreds.
fn respond(req: &HttpRequest, mut page: Page) -> Result<HttpResponse, AppError> {
    let region_only = htmx_targets(req, "roster-region");
    if let Some(region) = page
        .cached_region
        .clone()
        .filter(|_| compress::headers_accept_gzip(req.headers()))
    {
        if region_only {
            return Ok(compress::gzipped_html(
                StatusCode::OK,
                compress::gzip_around(b"", &region.gz, b""),
            ));
        }
        page.splice = true;
        let html = page.render()?;
        if let Some((before, after)) = html.split_once(SPLICE) {
            return Ok(compress::gzipped_html(
                StatusCode::OK,
                compress::gzip_around(before.as_bytes(), &region.gz, after.as_bytes()),
            ));
        }
        page.splice = false;
    }
    if region_only {
        render_with_status(&page.as_region(), StatusCode::OK)
    } else {
        render_with_status(&page, StatusCode::OK)
    }
}

/// The figures of `links`, from the cache or computed (one statement for all misses).
async fn all_figures(
    state: &AppState,
    conn: &mut crate::db::Conn,
    links: &[Link],
) -> Result<HashMap<Uuid, Arc<Figures>>, AppError> {
    let mut out = HashMap::with_capacity(links.len());
    let mut missing: Vec<FiguresKey> = Vec::new();
    {
        let cache = state.roster_cache.lock();
        for l in links {
            let Some(version) = l.summary_updated else {
                continue;
            };
            let key = FiguresKey {
                athlete: l.athlete_id,
                version,
                today: l.today,
            };
            match cache.get(&key) {
                Some(f) => {
                    out.insert(l.athlete_id, Arc::clone(f));
                }
                None => missing.push(key),
            }
        }
    }
    if missing.is_empty() {
        return Ok(out);
    }
    let ids: Vec<Uuid> = missing.iter().map(|k| k.athlete).collect();
    let read = roster::loads(conn, &ids).await;
    let loads = conn.check(read)?;
    let by_id: HashMap<Uuid, (NaiveDate, Vec<f64>)> = loads
        .into_iter()
        .map(|(id, first, loads)| (id, (first, loads)))
        .collect();
    let mut computed = Vec::with_capacity(missing.len());
    for key in missing {
        let Some((first_day, loads)) = by_id.get(&key.athlete) else {
            continue;
        };
        let s = Summary {
            first_day: *first_day,
            loads: loads.clone(),
            power: Vec::new(),
            efforts: Vec::new(),
        };
        if let Some(f) = figures(&s, key.today) {
            let f = Arc::new(f);
            out.insert(key.athlete, Arc::clone(&f));
            computed.push((key, f));
        }
    }
    {
        let mut cache = state.roster_cache.lock();
        if cache.len() + computed.len() > RosterCache::ENTRIES {
            cache.clear();
        }
        cache.extend(computed);
    }
    Ok(out)
}

fn cmp_f64(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    }
}

fn days_label(days: i64) -> String {
    match days {
        ..=0 => "today".to_owned(),
        1 => "yesterday".to_owned(),
        n => format!("{n} days ago"),
    }
}

async fn build(
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    view: &View,
    error: String,
) -> Result<Page, AppError> {
    let now = state.clock.now();
    let mut conn = state.db.conn().await?;
    let read = roster::links(&mut conn, user.id(), now).await;
    let links = conn.check(read)?;
    // The region carries no form (and no token) unless editing or showing an error.
    let region_key =
        (error.is_empty() && !view.edit).then(|| (user.id(), region_fingerprint(view, &links)));
    let cached_region = region_key.and_then(|k| state.roster_cache.regions().get(&k).cloned());
    let figures = if cached_region.is_some() {
        HashMap::new()
    } else {
        all_figures(state, &mut conn, &links).await?
    };
    drop(conn);

    let total = links.len();
    let mut all_tags: Vec<String> = links.iter().flat_map(|l| l.tags.iter().cloned()).collect();
    all_tags.sort();
    all_tags.dedup();
    let needle = view.q.to_lowercase();
    let links = if cached_region.is_some() {
        Vec::new()
    } else {
        links
    };
    let mut rows: Vec<Row> = links
        .into_iter()
        .filter_map(|l| {
            let f = figures.get(&l.athlete_id).cloned();
            let last_day = f.as_ref().map(|f| f.last_day);
            let days_since = last_day.map(|d| (l.today - d).num_days().max(0));
            let fl = flags(f.as_deref(), days_since, l.has_thresholds);
            if view.flag.is_some_and(|wanted| !fl.contains(&wanted)) {
                return None;
            }
            if !view.tag.is_empty() && !l.tags.contains(&view.tag) {
                return None;
            }
            if !needle.is_empty() && !l.name.to_lowercase().contains(&needle) {
                return None;
            }
            Some(Row {
                id: l.athlete_id,
                tags: l
                    .tags
                    .iter()
                    .map(|t| (t.clone(), view.href(view.sort, view.desc, view.flag, t)))
                    .collect(),
                name: l.name,
                access: l.access,
                last: last_day.map_or_else(
                    || "Nothing yet".to_owned(),
                    |d| d.format("%-d %b %Y").to_string(),
                ),
                days_since: days_since.map(days_label).unwrap_or_default(),
                flags: fl.iter().map(|f| (f.label(), f.tone())).collect(),
                figures: f,
                sort_last: last_day,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        let metric = |r: &Row, m: fn(&Figures) -> Option<f64>| r.figures.as_deref().and_then(m);
        let by = match view.sort {
            Sort::Name => a.name.to_lowercase().cmp(&b.name.to_lowercase()),
            Sort::Tsb => cmp_f64(metric(a, |f| Some(f.tsb)), metric(b, |f| Some(f.tsb))),
            Sort::Ctl => cmp_f64(metric(a, |f| Some(f.ctl)), metric(b, |f| Some(f.ctl))),
            Sort::Ramp => cmp_f64(metric(a, |f| Some(f.ramp)), metric(b, |f| Some(f.ramp))),
            Sort::Acwr => cmp_f64(metric(a, |f| f.acwr), metric(b, |f| f.acwr)),
            Sort::Last => a.sort_last.cmp(&b.sort_last),
        };
        let by = if view.desc { by.reverse() } else { by };
        by.then_with(|| a.name.cmp(&b.name)).then(a.id.cmp(&b.id))
    });
    let header = |label, sort: Sort| {
        let on = view.sort == sort;
        Header {
            label,
            href: view.href(sort, on && !view.desc, view.flag, &view.tag),
            aria: match (on, view.desc) {
                (false, _) => "none",
                (true, false) => "ascending",
                (true, true) => "descending",
            },
        }
    };
    let mut page = Page {
        ctx,
        cached_region,
        splice: false,
        total,
        rows,
        headers: vec![
            header("Athlete", Sort::Name),
            header("Fitness (CTL)", Sort::Ctl),
            header("Form (TSB)", Sort::Tsb),
            header("ACWR", Sort::Acwr),
            header("Ramp /week", Sort::Ramp),
            header("Last activity", Sort::Last),
        ],
        flag_options: Flag::ALL
            .iter()
            .map(|f| (f.key(), f.label(), view.flag == Some(*f)))
            .collect(),
        tag_options: all_tags
            .into_iter()
            .map(|t| {
                let on = t == view.tag;
                (t, on)
            })
            .collect(),
        q: view.q.clone(),
        sort_key: view.sort.key(),
        dir: if view.desc { "desc" } else { "asc" },
        filtered: view.flag.is_some() || !view.tag.is_empty() || !view.q.is_empty(),
        clear_href: View {
            flag: None,
            tag: String::new(),
            q: String::new(),
            ..view.clone()
        }
        .current(),
        back: view.current(),
        error,
        editing: view.edit,
        edit_href: View {
            edit: !view.edit,
            ..view.clone()
        }
        .current(),
    };
    if let (Some(key), None) = (region_key, &page.cached_region) {
        page.cached_region = Some(remember_region(state, key, &page)?);
    }
    Ok(page)
}

/// Render the page's region once and keep it for the next view with the same inputs.
fn remember_region(
    state: &AppState,
    key: (Uuid, u64),
    page: &Page,
) -> Result<Arc<Region>, AppError> {
    let html = page
        .as_region()
        .render()
        .map_err(|e| AppError::Internal(anyhow::anyhow!("roster region: {e}")))?;
    let rendered = Arc::new(Region {
        gz: compress::Deflated::new(html.as_bytes()),
        html: html.into_boxed_str(),
    });
    {
        let mut regions = state.roster_cache.regions();
        if regions.len() >= RosterCache::REGIONS {
            regions.clear();
        }
        regions.insert(key, Arc::clone(&rendered));
    }
    Ok(rendered)
}

/// The tag forms.
#[derive(Debug, Deserialize)]
struct TagForm {
    #[serde(default)]
    tag: String,
    /// The roster URL to return to (only its query string is kept).
    #[serde(default)]
    back: String,
}

/// The roster view a `back` field names (anything else: the default view).
fn back_view(back: &str) -> View {
    let qs = back.strip_prefix("/coach").unwrap_or("");
    let qs = qs.strip_prefix('?').unwrap_or("");
    let q = web::Query::<Query>::from_query(qs)
        .map(web::Query::into_inner)
        .unwrap_or_default();
    View::of(&q)
}

/// A tag as stored: trimmed, 1–40 characters, no control characters.
fn valid_tag(raw: &str) -> Result<String, String> {
    let tag = raw.trim();
    let len = tag.chars().count();
    if len == 0 || len > TAG_MAX {
        return Err(format!("A tag has 1 to {TAG_MAX} characters."));
    }
    if tag.chars().any(char::is_control) {
        return Err("A tag cannot contain control characters.".to_owned());
    }
    Ok(tag.to_owned())
}

async fn add_tag(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    RequireCoach(user): RequireCoach,
    path: web::Path<String>,
    form: web::Form<TagForm>,
) -> Result<HttpResponse, AppError> {
    let athlete = parse_id(&path)?;
    let view = back_view(&form.back);
    let tag = match valid_tag(&form.tag) {
        Ok(tag) => tag,
        Err(message) => {
            let page = build(ctx, &state, &user, &view, message).await?;
            return render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY);
        }
    };
    let mut conn = state.db.conn().await?;
    let done = roster::add_tag(&mut conn, user.id(), athlete, &tag).await;
    if !conn.check(done)? {
        return Err(AppError::NotFound);
    }
    Ok(redirect(&req, &view.current()))
}

async fn remove_tag(
    req: HttpRequest,
    state: web::Data<AppState>,
    RequireCoach(user): RequireCoach,
    path: web::Path<String>,
    form: web::Form<TagForm>,
) -> Result<HttpResponse, AppError> {
    let athlete = parse_id(&path)?;
    let mut view = back_view(&form.back);
    let mut conn = state.db.conn().await?;
    let done = roster::remove_tag(&mut conn, user.id(), athlete, form.tag.trim()).await;
    if !conn.check(done)? {
        return Err(AppError::NotFound);
    }
    if view.tag == form.tag.trim() {
        // The filter by the tag just removed would hide the athlete.
        view.tag.clear();
    }
    Ok(redirect(&req, &view.current()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn figures_match_the_dashboard_pmc() {
        let s = Summary {
            first_day: day(1),
            loads: vec![100.0; 20],
            power: Vec::new(),
            efforts: Vec::new(),
        };
        let f = figures(&s, day(25)).unwrap();
        let (_, daily, days) = dashboard::pmc_to_today(&s, day(25));
        let last = days.last().unwrap();
        assert!((f.ctl - last.ctl).abs() < 1e-12);
        assert_eq!(f.today, Today::of(last, &daily));
        assert_eq!(f.last_day, day(20));
        assert!(f.spark.starts_with("<svg"));
    }

    #[test]
    fn flags_follow_the_thresholds() {
        let s = Summary {
            first_day: day(1),
            loads: vec![50.0; 25],
            power: Vec::new(),
            efforts: Vec::new(),
        };
        let mut f = figures(&s, day(25)).unwrap();
        assert!(flags(Some(&f), Some(0), true).is_empty());
        f.ramp = 8.5;
        assert_eq!(flags(Some(&f), Some(0), true), vec![Flag::Ramp]);
        f.tsb = -31.0;
        f.ramp = 2.0;
        f.acwr = Some(1.6);
        assert_eq!(
            flags(Some(&f), Some(7), false),
            vec![Flag::Form, Flag::Acwr, Flag::Inactive, Flag::Thresholds]
        );
        assert_eq!(flags(None, None, true), vec![Flag::Inactive]);
        assert_eq!(flags(Some(&f), Some(6), true).len(), 2);
    }

    #[test]
    fn tags_are_validated() {
        assert_eq!(valid_tag("  juniors ").unwrap(), "juniors");
        assert!(valid_tag("   ").is_err());
        assert!(valid_tag(&"é".repeat(40)).is_ok());
        assert!(valid_tag(&"é".repeat(41)).is_err());
        assert!(valid_tag("a\u{7}b").is_err());
    }

    #[test]
    fn hrefs_keep_the_view() {
        let v = View::of(&Query {
            sort: Some("tsb".into()),
            dir: Some("desc".into()),
            flag: Some("ramp".into()),
            tag: Some("a b".into()),
            q: Some("ana".into()),
            edit: None,
        });
        let href = v.current();
        assert_eq!(href, "/coach?sort=tsb&dir=desc&flag=ramp&tag=a+b&q=ana");
        let back = back_view(&href);
        assert_eq!(back.current(), href);
        assert_eq!(back_view("https://evil.example/").current(), "/coach");
        assert_eq!(View::of(&Query::default()).current(), "/coach");
    }
}
