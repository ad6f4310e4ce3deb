//! Activities: the list, one activity's page, edit, delete, the original file
//! and GPX export.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, TimeDelta, TimeZone as _, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::charts::{self, Series};
use crate::db::activities::{self, ActivityRow, LapRow, ListFilter, ListRow, ListTotals};
use crate::domain::{Sport, Streams};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::format::{self, Units};
use crate::web::forms::{FieldErrors, is_htmx, parse_id, redirect, render_with_status, text_field};
use crate::web::layout::PageContext;
use crate::web::subject::{CoachSubject, Subject, SubjectView};

/// Rows per page of the list.
pub const PAGE_SIZE: i64 = 25;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/activities").route(web::get().to(list)))
        .service(
            web::resource("/activities/{id}")
                .route(web::get().to(show))
                .route(web::post().to(edit)),
        )
        .service(web::resource("/activities/{id}/original").route(web::get().to(original)))
        .service(web::resource("/activities/{id}/export.gpx").route(web::get().to(export_gpx)))
        .service(web::resource("/activities/{id}/delete").route(web::post().to(delete)))
        .service(web::resource("/coach/athletes/{id}/activities").route(web::get().to(coach_list)))
        .service(
            web::resource("/coach/athletes/{id}/activities/{activity_id}")
                .route(web::get().to(coach_show)),
        )
        .service(
            web::resource("/coach/athletes/{id}/activities/{activity_id}/original")
                .route(web::get().to(coach_original)),
        );
}

use crate::auth::csrf::token_of as token;

#[derive(Debug, Deserialize, Default)]
struct ListQuery {
    sport: Option<String>,
    from: Option<String>,
    to: Option<String>,
    q: Option<String>,
    sort: Option<String>,
    page: Option<String>,
}

/// A list row formatted for display.
#[derive(Debug)]
pub struct RowView {
    pub id: Uuid,
    pub name: String,
    pub sport: String,
    pub date: String,
    pub duration: String,
    pub distance: String,
    pub ascent: String,
    pub avg_hr: String,
    pub avg_power: String,
    /// Comments by others not read yet.
    pub new_comments: i64,
}

#[derive(Template)]
#[template(path = "activities/list.html", blocks = ["results"])]
struct ListPage {
    ctx: PageContext,
    subject: SubjectView,
    rows: Vec<RowView>,
    totals: ListTotals,
    total_duration: String,
    total_distance: String,
    total_ascent: String,
    sport: String,
    from: String,
    to: String,
    q: String,
    sort: String,
    page: i64,
    pages: i64,
    sports: Vec<(&'static str, String)>,
    errors: FieldErrors,
    /// The query string without `page`, for the pagination links.
    base_query: String,
    /// New comments by others on all of the athlete's activities.
    unread_total: i64,
}

fn parse_date(
    errors: &mut FieldErrors,
    field: &'static str,
    raw: Option<&str>,
) -> Option<NaiveDate> {
    let raw = raw.map(str::trim).filter(|s| !s.is_empty())?;
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_or_else(
        |_| {
            errors.add(field, "Enter a date like 2026-03-01.");
            None
        },
        Some,
    )
}

fn row_view(row: ListRow, units: Units) -> RowView {
    RowView {
        id: row.id,
        date: format::local_date_time(row.start_time, row.utc_offset_s),
        duration: format::duration(row.timer_s),
        distance: format::distance(row.distance_m, units),
        ascent: format::elevation(row.ascent_m, units),
        avg_hr: format::bpm(row.avg_hr),
        avg_power: format::watts(row.avg_power_w),
        sport: format::sport_label(&row.sport),
        name: row.name,
        new_comments: 0,
    }
}

/// `GET /activities`: filters, sort, htmx paging with the URL kept in sync.
async fn list(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let subject = Subject::own(&user);
    render_list(&req, ctx, &state, &user, &subject, query.into_inner()).await
}

/// `GET /coach/athletes/{id}/activities`: a linked athlete's list
/// (coach-visible sources only, with the count of the others), read-only.
async fn coach_list(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    coach: CoachSubject,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    render_list(
        &req,
        ctx,
        &state,
        &coach.viewer,
        &coach.subject,
        query.into_inner(),
    )
    .await
}

async fn render_list(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    subject: &Subject,
    query: ListQuery,
) -> Result<HttpResponse, AppError> {
    let units = Units::of(user);
    let mut errors = FieldErrors::default();
    let sport = query.sport.clone().filter(|s| s.parse::<Sport>().is_ok());
    let from = parse_date(&mut errors, "from", query.from.as_deref());
    let to = parse_date(&mut errors, "to", query.to.as_deref());
    let q = text_field(
        &mut errors,
        "q",
        "Search",
        query.q.as_deref().unwrap_or(""),
        false,
        100,
    );
    let order = match query.sort.as_deref() {
        Some("distance") => "distance",
        Some("duration") => "duration",
        _ => "date",
    };
    let page = query
        .page
        .as_deref()
        .and_then(|p| p.parse::<i64>().ok())
        .unwrap_or(1)
        .clamp(1, 100_000);
    let filter = ListFilter {
        sport: sport.clone(),
        from: from
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| Utc.from_utc_datetime(&d)),
        until: to
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| Utc.from_utc_datetime(&d) + TimeDelta::days(1)),
        search: Some(q.clone()).filter(|s| !s.is_empty()),
        sort: order.to_owned(),
        sources: subject.sources().map(<[String]>::to_vec),
    };
    let mut conn = state.db.conn().await?;
    let listed = activities::list(
        &mut conn,
        subject.athlete,
        &filter,
        PAGE_SIZE,
        (page - 1) * PAGE_SIZE,
    )
    .await;
    let (rows, totals) = conn.check(listed)?;
    let withheld =
        crate::db::subjects::withheld(&mut conn, subject.athlete, subject.sources()).await;
    let withheld = conn.check(withheld)?;
    // New comments (the athlete's own list): per row shown and in all, one aggregate query each.
    let (unread, unread_total) = if subject.is_own() {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let unread =
            crate::db::comments::unread_by_activity(&mut conn, subject.athlete, &ids).await;
        let unread = conn.check(unread)?;
        let total = crate::db::comments::unread_for_athlete(&mut conn, subject.athlete).await;
        (unread, conn.check(total)?)
    } else {
        (std::collections::HashMap::default(), 0)
    };
    drop(conn);
    let page_count = ((totals.count + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
    let mut base: Vec<(&str, String)> = Vec::new();
    for (key, value) in [
        ("sport", sport.clone().unwrap_or_default()),
        ("from", query.from.clone().unwrap_or_default()),
        ("to", query.to.clone().unwrap_or_default()),
        ("q", q.clone()),
        (
            "sort",
            if order == "date" {
                String::new()
            } else {
                order.to_owned()
            },
        ),
    ] {
        if !value.trim().is_empty() {
            base.push((key, value));
        }
    }
    let base_query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(base)
        .finish();
    let page_view = ListPage {
        ctx,
        subject: SubjectView::of(subject, &withheld),
        rows: rows
            .into_iter()
            .map(|r| {
                let new_comments = unread.get(&r.id).copied().unwrap_or(0);
                RowView {
                    new_comments,
                    ..row_view(r, units)
                }
            })
            .collect(),
        unread_total,
        total_duration: format::duration(Some(totals.timer_s)),
        total_distance: format::distance(Some(totals.distance_m), units),
        total_ascent: format::elevation(Some(totals.ascent_m), units),
        totals,
        sport: sport.unwrap_or_default(),
        from: query.from.unwrap_or_default(),
        to: query.to.unwrap_or_default(),
        q,
        sort: order.to_owned(),
        page,
        pages: page_count,
        sports: format::sport_options(),
        errors,
        base_query,
    };
    let status = if page_view.errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::UNPROCESSABLE_ENTITY
    };
    let mut res = if is_htmx(req) && !req.headers().contains_key("hx-history-restore-request") {
        render_with_status(&page_view.as_results(), status)?
    } else {
        render_with_status(&page_view, status)?
    };
    res.headers_mut()
        .insert(header::VARY, header::HeaderValue::from_static("HX-Request"));
    Ok(res)
}

/// A summary tile.
#[derive(Debug)]
pub struct Tile {
    pub label: &'static str,
    pub value: String,
}

#[derive(Template)]
#[template(path = "activities/show.html", blocks = ["edit_form", "summary"])]
struct ShowPage {
    ctx: PageContext,
    subject: SubjectView,
    csrf_token: String,
    activity: ActivityRow,
    sport_label: String,
    date: String,
    tiles: Vec<Tile>,
    charts: Vec<(String, String)>,
    /// Charts drawn against distance (`?x=distance`) rather than time.
    by_distance: bool,
    has_distance: bool,
    route: String,
    /// Time-in-zone bars (title, SVG).
    zones: Vec<crate::web::activity_analysis::Figure>,
    /// This activity's power curve against the 90-day best.
    curve: String,
    laps: Vec<Vec<String>>,
    lap_headers: Vec<&'static str>,
    sports: Vec<(&'static str, String)>,
    errors: FieldErrors,
    // Named apart from the form macros' own parameters (`name`, …), which
    // would shadow them inside `{% call %}` arguments.
    edit_name: String,
    edit_notes: String,
    edit_sport: String,
    /// Comments by the athlete and their coaches (`web::comments`).
    comments: crate::web::comments::CommentsSection,
}

fn tiles(a: &ActivityRow, units: Units) -> Vec<Tile> {
    let mut tiles = vec![
        Tile {
            label: "Distance",
            value: format::distance(a.distance_m, units),
        },
        Tile {
            label: "Moving time",
            value: format::duration(a.moving_s.or(a.timer_s)),
        },
        Tile {
            label: "Elapsed time",
            value: format::duration(a.elapsed_s),
        },
        Tile {
            label: "Elevation gain",
            value: format::elevation(a.ascent_m, units),
        },
    ];
    let running = matches!(
        a.sport.parse::<Sport>().ok(),
        Some(Sport::Running | Sport::Walking | Sport::Hiking)
    );
    if a.avg_speed_mps.is_some() {
        tiles.push(if running {
            Tile {
                label: "Average pace",
                value: format::pace(a.avg_speed_mps, units),
            }
        } else {
            Tile {
                label: "Average speed",
                value: format::speed(a.avg_speed_mps, units),
            }
        });
    }
    let load_label = match a.load_source.as_str() {
        "power" => "TSS",
        "pace" if a.sport == "swimming" => "sTSS",
        "pace" => "rTSS",
        "heart_rate" => "hrTSS",
        _ => "",
    };
    tiles.push(Tile {
        label: "Training load",
        value: if load_label.is_empty() {
            "– (add thresholds)".to_owned()
        } else {
            format!("{:.0} {load_label}", a.load)
        },
    });
    for (label, value) in [
        ("Normalized Power", a.np_w.map(|v| format!("{v:.0} W"))),
        (
            "Intensity factor",
            a.intensity_factor.map(|v| format!("{v:.2}")),
        ),
        (
            "Variability index",
            a.variability_index.map(|v| format!("{v:.2}")),
        ),
        ("TRIMP", a.trimp.map(|v| format!("{v:.0}"))),
        (
            "Efficiency factor",
            a.efficiency_factor.map(|v| format!("{v:.2}")),
        ),
        (
            "Aerobic decoupling",
            a.decoupling.map(|v| format!("{:.1} %", v * 100.0)),
        ),
        (
            "Average heart rate",
            a.avg_hr.map(|_| format::bpm(a.avg_hr)),
        ),
        ("Max heart rate", a.max_hr.map(|_| format::bpm(a.max_hr))),
        (
            "Average power",
            a.avg_power_w.map(|_| format::watts(a.avg_power_w)),
        ),
        (
            "Max power",
            a.max_power_w.map(|_| format::watts(a.max_power_w)),
        ),
        (
            "Average cadence",
            a.avg_cadence.map(|c| format!("{c:.0} rpm")),
        ),
        ("Calories", a.calories_kcal.map(|c| format!("{c:.0} kcal"))),
    ] {
        if let Some(value) = value {
            tiles.push(Tile { label, value });
        }
    }
    tiles
}

/// The activity's charts: (title, svg) against time.
fn stream_charts(
    streams: &Streams,
    units: Units,
    running: bool,
    by_distance: bool,
) -> Vec<(String, String)> {
    // The x axis: seconds since the start, or distance (km / mi) when asked
    // for and recorded. Samples without a distance are left out of that view.
    let by_distance = by_distance && streams.distance.is_some();
    let x_values: Vec<f64> = match (&streams.distance, by_distance) {
        (Some(d), true) => d
            .iter()
            .map(|m| match units {
                Units::Metric => m / 1000.0,
                Units::Imperial => m / 1609.344,
            })
            .collect(),
        _ => streams.t.clone(),
    };
    let t = &x_values;
    let mut out = Vec::new();
    let unit = if units == Units::Metric { "km" } else { "mi" };
    let x_label = |x: f64| {
        if by_distance {
            format!("{x:.1} {unit}")
        } else {
            format::clock(x)
        }
    };
    let channel = |values: Option<&Vec<f32>>| -> Option<Vec<(f64, f64)>> {
        values.map(|v| {
            t.iter()
                .zip(v)
                .map(|(x, y)| (*x, f64::from(*y)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
    };
    let mut push = |title: &str,
                    class: &'static str,
                    points: Option<Vec<(f64, f64)>>,
                    y: &dyn Fn(f64) -> String| {
        if let Some(points) = points.filter(|p| p.len() >= 2) {
            let svg = charts::line_chart(
                title,
                &[Series {
                    label: title.to_owned(),
                    class,
                    points,
                    emphasis: charts::Emphasis::Normal,
                }],
                if by_distance {
                    charts::XAxis::Number
                } else {
                    charts::XAxis::Seconds
                },
                x_label,
                y,
            );
            out.push((title.to_owned(), svg));
        }
    };
    push(
        "Heart rate",
        "series-hr",
        channel(streams.heart_rate.as_ref()),
        &|v| format!("{v:.0}"),
    );
    push(
        "Power",
        "series-power",
        channel(streams.power.as_ref()),
        &|v| format!("{v:.0}"),
    );
    if running {
        let pace = channel(streams.speed.as_ref()).map(|p| {
            p.into_iter()
                .filter(|(_, s)| *s > 0.8)
                .map(|(x, s)| (x, -units.pace_seconds(s)))
                .collect::<Vec<_>>()
        });
        push("Pace", "series-speed", pace, &|v| format::pace_clock(-v));
    } else {
        let speed = channel(streams.speed.as_ref())
            .map(|p| p.into_iter().map(|(x, s)| (x, units.speed(s))).collect());
        push("Speed", "series-speed", speed, &|v| format!("{v:.0}"));
    }
    push(
        "Cadence",
        "series-cadence",
        channel(streams.cadence.as_ref()),
        &|v| format!("{v:.0}"),
    );
    let altitude = channel(streams.altitude.as_ref()).map(|p| {
        p.into_iter()
            .map(|(x, a)| (x, units.elevation(a)))
            .collect()
    });
    push("Elevation", "series-elevation", altitude, &|v| {
        format!("{v:.0}")
    });
    out
}

fn lap_rows(laps: &[LapRow], units: Units) -> Vec<Vec<String>> {
    laps.iter()
        .map(|l| {
            vec![
                (l.lap_index + 1).to_string(),
                format::duration(l.timer_s.or(l.elapsed_s)),
                format::distance(l.distance_m, units),
                format::speed(l.avg_speed_mps, units),
                format::bpm(l.avg_hr),
                format::watts(l.avg_power_w),
            ]
        })
        .collect()
}

/// The activity page of `subject`'s activity `id` for `user`: all of it for
/// the athlete and full-access coaches; for summary access only the figures
/// (no streams are read: no charts, route, zones, curve, laps or files).
async fn load_page(
    req: &HttpRequest,
    ctx: PageContext,
    state: &AppState,
    user: &CurrentUser,
    subject: &Subject,
    id: Uuid,
) -> Result<ShowPage, AppError> {
    let by_distance = req
        .query_string()
        .split('&')
        .any(|pair| pair == "x=distance");
    let full = subject.full();
    let mut conn = state.db.conn().await?;
    let found =
        activities::get_visible(&mut conn, subject.athlete, id, subject.sources(), full).await;
    let activity = conn.check(found)?.ok_or(AppError::NotFound)?;
    let (laps, history) = if full {
        let laps = activities::laps(&mut conn, subject.athlete, id).await;
        let laps = conn.check(laps)?;
        let history = crate::db::thresholds::history(&mut conn, subject.athlete).await;
        (laps, conn.check(history)?)
    } else {
        (Vec::new(), Vec::new())
    };
    // Comments: the athlete's and the linked coach's conversation on this activity.
    let action = if subject.is_own() {
        crate::web::comments::athlete_action(id)
    } else {
        crate::web::comments::coach_action(subject.athlete, id)
    };
    let comments = crate::web::comments::section(
        &mut conn,
        user.id(),
        id,
        action,
        token(req),
        state.clock.now(),
    )
    .await;
    let comments = conn.check(comments)?;
    drop(conn);
    let units = Units::of(user);
    let running = matches!(
        activity.sport.parse::<Sport>().ok(),
        Some(Sport::Running | Sport::Walking | Sport::Hiking)
    );
    let streams = activity
        .streams
        .as_deref()
        .and_then(|bytes| Streams::decode(bytes).ok());
    let has_distance = streams.as_ref().is_some_and(|s| s.distance.is_some());
    let (charts, route) = streams.as_ref().map_or_else(
        || (Vec::new(), String::new()),
        |s| {
            let route = match (&s.lat, &s.lon) {
                (Some(lat), Some(lon)) => {
                    charts::route(&format!("Route of {}", activity.name), lat, lon)
                }
                _ => String::new(),
            };
            (stream_charts(s, units, running, by_distance), route)
        },
    );
    let sport = activity.sport.parse::<Sport>().unwrap_or(Sport::Other);
    let zones = streams.as_ref().map_or_else(Vec::new, |s| {
        let th = crate::training::thresholds_for(&history, sport, activity.local_day);
        crate::web::activity_analysis::zone_figures(sport, s, &th)
    });
    let curve = activity.power_curve.as_deref().filter(|_| full).map_or_else(String::new, |mine| {
        crate::web::activity_analysis::power_curve_chart(
            "activity-curve",
            "Power curve",
            "Best mean power of this activity for each duration, against your best of the 90 days up to it.",
            ("This activity", mine),
            ("90-day best", activity.best_90d.as_deref().unwrap_or_default()),
        )
    });
    Ok(ShowPage {
        ctx,
        subject: SubjectView::of(subject, &[]),
        csrf_token: token(req),
        sport_label: format::sport_label(&activity.sport),
        date: format::local_date_time(activity.start_time, activity.utc_offset_s),
        tiles: tiles(&activity, units),
        charts,
        by_distance: by_distance && has_distance,
        has_distance,
        route,
        zones,
        curve,
        laps: lap_rows(&laps, units),
        lap_headers: vec!["Lap", "Time", "Distance", "Speed", "Heart rate", "Power"],
        sports: format::sport_options(),
        errors: FieldErrors::default(),
        edit_name: activity.name.clone(),
        edit_notes: activity.notes.clone(),
        edit_sport: activity.sport.clone(),
        comments,
        activity,
    })
}

/// `GET /activities/{id}`.
async fn show(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let page = load_page(&req, ctx, &state, &user, &Subject::own(&user), id).await?;
    render_with_status(&page, StatusCode::OK)
}

/// `GET /coach/athletes/{id}/activities/{activity_id}`: one activity of a
/// linked athlete, read-only; 404 for activities of withheld sources and of
/// anyone else.
async fn coach_show(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    coach: CoachSubject,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path.1)?;
    let page = load_page(&req, ctx, &state, &coach.viewer, &coach.subject, id).await?;
    render_with_status(&page, StatusCode::OK)
}

#[derive(Debug, Deserialize)]
struct EditForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    sport: String,
    #[serde(default)]
    notes: String,
}

/// `POST /activities/{id}`: change name, sport and notes (inline, htmx).
async fn edit(
    req: HttpRequest,
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let mut errors = FieldErrors::default();
    let name = text_field(&mut errors, "name", "Name", &form.name, true, 200);
    let notes: String = form
        .notes
        .chars()
        .filter(|c| *c == '\n' || *c == '\t' || !c.is_control())
        .collect();
    if notes.chars().count() > 10_000 {
        errors.add("notes", "Notes must be at most 10,000 characters.");
    }
    let sport = form.sport.trim().parse::<Sport>().ok();
    if sport.is_none() {
        errors.add("sport", "Choose a sport from the list.");
    }
    if errors.is_empty() {
        let sport = sport.map_or("other", Sport::as_str);
        let mut tx = state.db.pool().begin().await.map_err(AppError::from)?;
        let Some(before) = activities::update(&mut tx, user.id(), id, &name, sport, &notes).await?
        else {
            return Err(AppError::NotFound);
        };
        if before != sport {
            // Other thresholds may apply to the new sport: recompute its
            // metrics and the athlete's summary with it.
            let history = crate::db::thresholds::history(&mut tx, user.id()).await?;
            crate::training::recompute(&mut tx, user.id(), &[id], &history).await?;
            crate::db::summaries::rebuild(&mut tx, user.id()).await?;
        }
        tx.commit().await?;
        if !is_htmx(&req) {
            return Ok(redirect(&req, &format!("/activities/{id}")));
        }
        // The page (streams decoded, charts drawn) is built only when it is shown.
        let page = load_page(&req, ctx, &state, &user, &Subject::own(&user), id).await?;
        return render_with_status(&page.as_edit_form(), StatusCode::OK);
    }
    let mut page = load_page(&req, ctx, &state, &user, &Subject::own(&user), id).await?;
    page.errors = errors;
    page.edit_name = name;
    page.edit_notes = notes;
    page.edit_sport.clone_from(&form.sport);
    if is_htmx(&req) {
        render_with_status(&page.as_edit_form(), StatusCode::UNPROCESSABLE_ENTITY)
    } else {
        render_with_status(&page, StatusCode::UNPROCESSABLE_ENTITY)
    }
}

/// `POST /activities/{id}/delete`.
async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let deleted = activities::delete(&mut conn, user.id(), id).await;
    if !conn.check(deleted)? {
        return Err(AppError::NotFound);
    }
    Ok(redirect(&req, "/activities?deleted=1"))
}

/// `Content-Disposition: attachment` with a safe file name.
#[must_use]
pub fn attachment(name: &str) -> ContentDisposition {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    ContentDisposition {
        disposition: DispositionType::Attachment,
        parameters: vec![DispositionParam::Filename(if safe.is_empty() {
            "activity".to_owned()
        } else {
            safe
        })],
    }
}

/// `GET /activities/{id}/original`: the uploaded file, as it was.
async fn original(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let found = activities::original(&mut conn, user.id(), id, None).await;
    let (name, gzip) = conn.check(found)?.ok_or(AppError::NotFound)?;
    drop(conn);
    send_original(&req, name, gzip).await
}

/// `GET /coach/athletes/{id}/activities/{activity_id}/original`: the
/// original file, for coaches with full access to an activity they may see
/// (404 otherwise: summary access, a withheld source, someone else's id).
async fn coach_original(
    req: HttpRequest,
    state: web::Data<AppState>,
    coach: CoachSubject,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path.1)?;
    let subject = &coach.subject;
    if !subject.full() {
        return Err(AppError::NotFound);
    }
    let mut conn = state.db.conn().await?;
    let found = activities::original(&mut conn, subject.athlete, id, subject.sources()).await;
    let (name, gzip) = conn.check(found)?.ok_or(AppError::NotFound)?;
    drop(conn);
    send_original(&req, name, gzip).await
}

async fn send_original(
    req: &HttpRequest,
    name: String,
    gzip: Vec<u8>,
) -> Result<HttpResponse, AppError> {
    let accepts_gzip = crate::web::compress::headers_accept_gzip(req.headers());
    let mut res = HttpResponse::Ok();
    res.insert_header(attachment(&name))
        .insert_header((header::CONTENT_TYPE, "application/octet-stream"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    if name.to_ascii_lowercase().ends_with(".gz") {
        return Ok(res.body(gzip));
    }
    if accepts_gzip {
        return Ok(res
            .insert_header((header::CONTENT_ENCODING, "gzip"))
            .body(gzip));
    }
    let plain = web::block(move || {
        use std::io::Read as _;
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(gzip.as_slice())
            .read_to_end(&mut out)
            .map(|_| out)
    })
    .await
    .map_err(AppError::internal)?
    .map_err(AppError::internal)?;
    Ok(res.body(plain))
}

/// `GET /activities/{id}/export.gpx`.
async fn export_gpx(
    state: web::Data<AppState>,
    user: CurrentUser,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let found = activities::get(&mut conn, user.id(), id).await;
    let activity = conn.check(found)?.ok_or(AppError::NotFound)?;
    drop(conn);
    let gpx = web::block(move || crate::web::export::activity_gpx(&activity))
        .await
        .map_err(AppError::internal)??;
    let file = format!("{}.gpx", gpx.0);
    Ok(HttpResponse::Ok()
        .insert_header(attachment(&file))
        .insert_header((header::CONTENT_TYPE, "application/gpx+xml"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(gpx.1))
}
