//! `/records`: all-time and recent records.
//!
//! All-time running best efforts and best power per duration come from the
//! athlete's summary row; the records of the last 90
//! days from one aggregate query. Records set in the last 14 days are
//! marked "new".

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use chrono::{NaiveDate, TimeDelta};
use uuid::Uuid;

use crate::analytics::curves::DURATION_LADDER;
use crate::analytics::pace::BEST_EFFORT_DISTANCES;
use crate::auth::CurrentUser;
use crate::db::summaries::{self, Record};
use crate::db::{calendar, records, thresholds};
use crate::error::AppError;
use crate::state::AppState;
use crate::web::format::{self, Units};
use crate::web::forms::render_with_status;
use crate::web::layout::PageContext;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/records").route(web::get().to(page)));
}

/// Days over which the "recent" records are taken.
pub const RECENT_DAYS: i64 = 90;
/// The power durations shown as tiles above the full table.
const HIGHLIGHTS: [usize; 5] = [5, 60, 300, 1200, 3600];

/// Where a record was set.
#[derive(Debug)]
pub struct SetBy {
    pub href: String,
    pub name: String,
    pub date: String,
    pub new: bool,
}

/// A power row (one ladder rung).
#[derive(Debug)]
pub struct PowerRow {
    pub seconds: usize,
    pub label: String,
    pub watts: String,
    pub wkg: String,
    pub set: Option<SetBy>,
}

/// A best-effort row (one distance).
#[derive(Debug)]
pub struct EffortRow {
    pub metres: String,
    pub label: String,
    pub time: String,
    pub pace: String,
    pub set: Option<SetBy>,
}

#[derive(Template)]
#[template(path = "records/index.html")]
struct Page {
    ctx: PageContext,
    highlights: Vec<PowerRow>,
    power: Vec<PowerRow>,
    efforts: Vec<EffortRow>,
    has_power: bool,
    has_efforts: bool,
    has_weight: bool,
    recent_power: Vec<PowerRow>,
    recent_efforts: Vec<EffortRow>,
    recent_from: String,
}

struct Ctx<'a> {
    today: NaiveDate,
    names: &'a HashMap<Uuid, String>,
    weight_kg: Option<f64>,
    units: Units,
}

impl Ctx<'_> {
    fn set_by(&self, r: &Record) -> SetBy {
        SetBy {
            href: format!("/activities/{}", r.activity),
            name: self
                .names
                .get(&r.activity)
                .cloned()
                .unwrap_or_else(|| "Activity".to_owned()),
            date: r.day.format("%Y-%m-%d").to_string(),
            new: format::is_new_record(r.day, self.today),
        }
    }

    fn power_row(&self, seconds: usize, r: Option<&Record>) -> PowerRow {
        let watts = r.map(|r| f64::from(r.value));
        PowerRow {
            seconds,
            label: format::ladder_duration(seconds),
            watts: format::watts(watts),
            wkg: match (watts, self.weight_kg) {
                (Some(w), Some(kg)) if kg > 0.0 => format!("{:.2}", w / kg),
                _ => "–".to_owned(),
            },
            set: r.map(|r| self.set_by(r)),
        }
    }

    fn effort_row(&self, i: usize, r: Option<&Record>) -> EffortRow {
        let metres = BEST_EFFORT_DISTANCES.get(i).copied().unwrap_or_default();
        let secs = r.map(|r| f64::from(r.value));
        EffortRow {
            metres: format!("{metres:.0}"),
            label: format::effort_distance(metres),
            time: format::duration(secs),
            pace: format::pace(secs.map(|s| metres / s), self.units),
            set: r.map(|r| self.set_by(r)),
        }
    }
}

/// `GET /records`.
async fn page(
    ctx: PageContext,
    state: web::Data<AppState>,
    user: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let mut conn = state.db.conn().await?;
    let today = calendar::local_today(&mut conn, user.id(), state.clock.now()).await;
    let today = conn.check(today)?;
    let summary = summaries::get(&mut conn, user.id(), summaries::Scope::All).await;
    let summary = conn.check(summary)?;
    let recent_from = today - TimeDelta::days(RECENT_DAYS - 1);
    let recent = records::over_range(&mut conn, user.id(), recent_from, today).await;
    let recent = conn.check(recent)?;
    let history = thresholds::history(&mut conn, user.id()).await;
    let history = conn.check(history)?;
    let (all_power, all_efforts) = summary.map_or_else(
        || {
            (
                vec![None; DURATION_LADDER.len()],
                vec![None; BEST_EFFORT_DISTANCES.len()],
            )
        },
        |s| (s.power, s.efforts),
    );
    let mut ids: Vec<Uuid> = all_power
        .iter()
        .chain(&all_efforts)
        .chain(&recent.power)
        .chain(&recent.efforts)
        .flatten()
        .map(|r| r.activity)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let names = records::names(&mut conn, user.id(), &ids).await;
    let names: HashMap<Uuid, String> = conn.check(names)?.into_iter().collect();
    drop(conn);

    let weight_kg = thresholds::in_force(&history, "cycling", today).weight_kg;
    let c = Ctx {
        today,
        names: &names,
        weight_kg,
        units: Units::of(&user),
    };
    let power: Vec<PowerRow> = DURATION_LADDER
        .iter()
        .zip(&all_power)
        .map(|(s, r)| c.power_row(*s, r.as_ref()))
        .collect();
    let page = Page {
        ctx,
        highlights: HIGHLIGHTS
            .iter()
            .filter_map(|h| {
                let i = DURATION_LADDER.iter().position(|s| s == h)?;
                Some(c.power_row(*h, all_power.get(i)?.as_ref()))
            })
            .collect(),
        has_power: all_power.iter().any(Option::is_some),
        has_efforts: all_efforts.iter().any(Option::is_some),
        has_weight: weight_kg.is_some(),
        power,
        efforts: all_efforts
            .iter()
            .enumerate()
            .map(|(i, r)| c.effort_row(i, r.as_ref()))
            .collect(),
        recent_power: DURATION_LADDER
            .iter()
            .zip(&recent.power)
            .filter_map(|(s, r)| r.as_ref().map(|r| c.power_row(*s, Some(r))))
            .collect(),
        recent_efforts: recent
            .efforts
            .iter()
            .enumerate()
            .filter_map(|(i, r)| r.as_ref().map(|r| c.effort_row(i, Some(r))))
            .collect(),
        recent_from: recent_from.format("%Y-%m-%d").to_string(),
    };
    render_with_status(&page, StatusCode::OK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlights_are_ladder_rungs() {
        assert!(HIGHLIGHTS.iter().all(|h| DURATION_LADDER.contains(h)));
    }
}
