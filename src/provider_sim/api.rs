//! Strava's `/api/v3` read endpoints behind bearer tokens, with per-app rate limits
//! (Strava's headers and windows) and injected faults.

#![expect(
    clippy::result_large_err,
    reason = "handlers carry finished HTTP answers as their errors"
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};

use super::data::{activity_json, athlete_json, streams_json};
use super::{Inner, STREAM_CACHE, Sim};
use crate::synthetic;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/api/v3/athlete").route(web::get().to(athlete)))
        .service(web::resource("/api/v3/athlete/activities").route(web::get().to(activities)))
        .service(web::resource("/api/v3/activities/{id}").route(web::get().to(activity)))
        .service(web::resource("/api/v3/activities/{id}/streams").route(web::get().to(streams)));
}

/// A Strava-style error: `{"message": …, "errors": [{resource, field, code}]}`.
#[must_use]
pub fn error(status: StatusCode, message: &str, detail: &[(&str, &str)]) -> HttpResponse {
    let detail: serde_json::Map<String, Value> = detail
        .iter()
        .map(|(k, v)| ((*k).to_owned(), json!(v)))
        .collect();
    HttpResponse::build(status).json(json!({ "message": message, "errors": [detail] }))
}

/// 401 for a missing, unknown, expired or revoked access token.
#[must_use]
pub fn unauthorized() -> HttpResponse {
    error(
        StatusCode::UNAUTHORIZED,
        "Authorization Error",
        &[
            ("resource", "Athlete"),
            ("field", "access_token"),
            ("code", "invalid"),
        ],
    )
}

fn rate_limited() -> HttpResponse {
    error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate Limit Exceeded",
        &[
            ("resource", "Application"),
            ("field", "rate limit"),
            ("code", "exceeded"),
        ],
    )
}

fn server_error() -> HttpResponse {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Internal Server Error",
        &[("resource", "Application"), ("code", "error")],
    )
}

fn not_found(resource: &str) -> HttpResponse {
    error(
        StatusCode::NOT_FOUND,
        "Resource Not Found",
        &[
            ("resource", resource),
            ("field", "id"),
            ("code", "not found"),
        ],
    )
}

fn bad_request(field: &str) -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "Bad Request",
        &[
            ("resource", "Application"),
            ("field", field),
            ("code", "invalid"),
        ],
    )
}

/// The bearer token of a request, if any.
#[must_use]
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// The delay and the one-shot 429 / 500 faults, for the token endpoint (which has no
/// rate-limit headers). `None`: go on.
pub async fn faults_before(sim: &Sim) -> Option<HttpResponse> {
    let delay = sim.lock().faults.delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let faults = &mut sim.lock().faults;
    if faults.rate_limited > 0 {
        faults.rate_limited -= 1;
        Some(rate_limited())
    } else if faults.server_errors > 0 {
        faults.server_errors -= 1;
        Some(server_error())
    } else {
        None
    }
}

/// The four rate-limit headers, as of one request.
#[derive(Debug, Clone)]
struct RateHeaders([(&'static str, String); 4]);

impl RateHeaders {
    fn apply(self, mut response: HttpResponse) -> HttpResponse {
        for (name, value) in self.0 {
            if let Ok(value) = header::HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(header::HeaderName::from_static(name), value);
            }
        }
        response
    }
}

fn rate_headers(inner: &Inner) -> RateHeaders {
    let (l, u) = (&inner.limits, &inner.usage);
    RateHeaders([
        (
            "x-ratelimit-limit",
            format!("{},{}", l.overall_15min, l.overall_daily),
        ),
        (
            "x-ratelimit-usage",
            format!("{},{}", u.overall_15min, u.overall_daily),
        ),
        (
            "x-readratelimit-limit",
            format!("{},{}", l.read_15min, l.read_daily),
        ),
        (
            "x-readratelimit-usage",
            format!("{},{}", u.read_15min, u.read_daily),
        ),
    ])
}

/// A request that passed faults, limits and authentication.
#[derive(Debug)]
struct Admitted {
    athlete: usize,
    scopes: Vec<String>,
    headers: RateHeaders,
}

impl Admitted {
    fn may_read_activities(&self) -> bool {
        self.scopes
            .iter()
            .any(|s| s == "activity:read" || s == "activity:read_all")
    }
}

fn missing_activity_scope() -> HttpResponse {
    error(
        StatusCode::UNAUTHORIZED,
        "Authorization Error",
        &[
            ("resource", "AccessToken"),
            ("field", "activity:read_permission"),
            ("code", "missing"),
        ],
    )
}

/// Delay, faults, windows and budgets (`read`: a GET), then the bearer token.
async fn admit(req: &HttpRequest, sim: &Sim, read: bool) -> Result<Admitted, HttpResponse> {
    let delay = sim.lock().faults.delay_ms;
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let now = sim.clock.now();
    let mut inner = sim.lock();
    let window = now.timestamp().div_euclid(900);
    let day = now.date_naive();
    let usage = &mut inner.usage;
    if usage.window != window {
        usage.window = window;
        usage.overall_15min = 0;
        usage.read_15min = 0;
    }
    if usage.day != Some(day) {
        usage.day = Some(day);
        usage.overall_daily = 0;
        usage.read_daily = 0;
    }
    if inner.faults.rate_limited > 0 {
        inner.faults.rate_limited -= 1;
        return Err(rate_headers(&inner).apply(rate_limited()));
    }
    let (l, u) = (inner.limits, &inner.usage);
    let over = u.overall_15min >= l.overall_15min
        || u.overall_daily >= l.overall_daily
        || (read && (u.read_15min >= l.read_15min || u.read_daily >= l.read_daily));
    if over {
        return Err(rate_headers(&inner).apply(rate_limited()));
    }
    let usage = &mut inner.usage;
    usage.overall_15min += 1;
    usage.overall_daily += 1;
    if read {
        usage.read_15min += 1;
        usage.read_daily += 1;
    }
    let headers = rate_headers(&inner);
    if inner.faults.server_errors > 0 {
        inner.faults.server_errors -= 1;
        return Err(headers.apply(server_error()));
    }
    let token = bearer(req);
    let grant = token.as_deref().and_then(|t| {
        inner
            .grants
            .iter()
            .find(|g| g.access_token == t && g.expires_at > now)
    });
    let grant = grant.map(|g| (g.athlete, g.scopes.clone()));
    drop(inner);
    match grant {
        Some((athlete, scopes)) => Ok(Admitted {
            athlete,
            scopes,
            headers,
        }),
        None => Err(headers.apply(unauthorized())),
    }
}

/// The answer with the rate headers, its body cut short when a truncation fault is
/// pending.
fn finish(sim: &Sim, headers: RateHeaders, result: Result<Value, HttpResponse>) -> HttpResponse {
    let response = match result {
        Ok(value) => {
            let mut body = value.to_string();
            let mut inner = sim.lock();
            if inner.faults.truncated > 0 {
                inner.faults.truncated -= 1;
                let mut cut = body.len() / 2;
                while !body.is_char_boundary(cut) {
                    cut -= 1;
                }
                body.truncate(cut);
            }
            drop(inner);
            HttpResponse::Ok()
                .content_type("application/json; charset=utf-8")
                .body(body)
        }
        Err(response) => response,
    };
    headers.apply(response)
}

/// `GET /api/v3/athlete`.
async fn athlete(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let admitted = match admit(&req, &sim, true).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let value = sim
        .lock()
        .world
        .athletes
        .get(admitted.athlete)
        .map(|a| athlete_json(a, true))
        .ok_or_else(|| not_found("Athlete"));
    finish(&sim, admitted.headers, value)
}

fn int_param(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>, HttpResponse> {
    query
        .get(name)
        .filter(|v| !v.is_empty())
        .map_or(Ok(None), |v| {
            v.trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| bad_request(name))
        })
}

/// `GET /api/v3/athlete/activities?before&after&page&per_page`: newest first.
async fn activities(
    req: HttpRequest,
    sim: web::Data<Sim>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let admitted = match admit(&req, &sim, true).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let result = (|| {
        if !admitted.may_read_activities() {
            return Err(missing_activity_scope());
        }
        let before = int_param(&query, "before")?;
        let after = int_param(&query, "after")?;
        let page = int_param(&query, "page")?.unwrap_or(1).max(1);
        let per_page = int_param(&query, "per_page")?.unwrap_or(30).clamp(1, 200);
        let inner = sim.lock();
        let mut list: Vec<_> = inner
            .world
            .activities
            .values()
            .filter(|a| a.athlete == admitted.athlete)
            .filter(|a| before.is_none_or(|b| a.session.start.timestamp() < b))
            .filter(|a| after.is_none_or(|b| a.session.start.timestamp() > b))
            .collect();
        list.sort_by_key(|a| std::cmp::Reverse((a.session.start, a.id)));
        let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
        let take = usize::try_from(per_page).unwrap_or(200);
        let page: Vec<Value> = list
            .into_iter()
            .skip(skip)
            .take(take)
            .map(|a| activity_json(&inner.world, a, false))
            .collect();
        drop(inner);
        Ok(Value::Array(page))
    })();
    finish(&sim, admitted.headers, result)
}

fn activity_id(req: &HttpRequest) -> Option<u64> {
    req.match_info().get("id")?.parse().ok()
}

/// `GET /api/v3/activities/{id}`: the owner's activity, 404 for anyone else's.
async fn activity(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let admitted = match admit(&req, &sim, true).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let result = if admitted.may_read_activities() {
        let inner = sim.lock();
        activity_id(&req)
            .and_then(|id| inner.world.activities.get(&id))
            .filter(|a| a.athlete == admitted.athlete)
            .map(|a| activity_json(&inner.world, a, true))
            .ok_or_else(|| not_found("Activity"))
    } else {
        Err(missing_activity_scope())
    };
    finish(&sim, admitted.headers, result)
}

/// `GET /api/v3/activities/{id}/streams?keys=…&key_by_type=true`: generated on first
/// request, kept in a small cache.
async fn streams(
    req: HttpRequest,
    sim: web::Data<Sim>,
    query: web::Query<HashMap<String, String>>,
) -> HttpResponse {
    let admitted = match admit(&req, &sim, true).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    if !admitted.may_read_activities() {
        return finish(&sim, admitted.headers, Err(missing_activity_scope()));
    }
    let keys: Vec<&str> = query
        .get("keys")
        .map(|k| {
            k.split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if keys.is_empty() {
        return finish(&sim, admitted.headers, Err(bad_request("keys")));
    }
    let key_by_type = query.get("key_by_type").is_some_and(|v| v == "true");
    let found = {
        let inner = sim.lock();
        activity_id(&req)
            .and_then(|id| inner.world.activities.get(&id))
            .filter(|a| a.athlete == admitted.athlete)
            .and_then(|a| {
                let cached = inner.streams.get(&a.id).cloned();
                let profile = inner.world.athletes.get(a.athlete)?.profile.clone();
                Some((a.id, a.session, profile, cached))
            })
    };
    let Some((id, session, profile, cached)) = found else {
        return finish(&sim, admitted.headers, Err(not_found("Activity")));
    };
    let streams = if let Some(streams) = cached {
        streams
    } else {
        let generated = web::block(move || synthetic::activity(&profile, &session).streams).await;
        let Ok(generated) = generated else {
            return finish(&sim, admitted.headers, Err(server_error()));
        };
        let generated = Arc::new(generated);
        let mut inner = sim.lock();
        if inner.streams.len() >= STREAM_CACHE {
            inner.streams.clear();
        }
        inner.streams.insert(id, Arc::clone(&generated));
        generated
    };
    let value = streams_json(&streams, &keys, key_by_type);
    finish(&sim, admitted.headers, Ok(value))
}
