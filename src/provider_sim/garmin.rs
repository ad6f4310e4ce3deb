//! The Garmin side of the simulator (`/garmin/…`): OAuth 2.0 with PKCE, the
//! user id endpoint, ping notifications and the FIT file pull.
//!
//! Garmin's Connect Developer Program documents these to approved partners
//! only (see `PROVIDERS.md`: "treat as unverified"); the shapes follow what is
//! publicly known:
//!
//! - `GET /garmin/oauth2Confirm?client_id&response_type=code&redirect_uri&state&code_challenge&code_challenge_method=S256`:
//!   a consent page (choose the athlete, approve or deny) → `redirect_uri?code&state`
//!   or `?error=access_denied&state`.
//! - `POST /garmin/di-oauth2-service/oauth/token` (form): `grant_type=authorization_code`
//!   with `client_id, client_secret, code, code_verifier, redirect_uri` (the verifier
//!   must hash to the stored S256 challenge), or `grant_type=refresh_token` with
//!   `refresh_token` (rotated: the old one stops working) → `{access_token, token_type,
//!   expires_in (86400), refresh_token, refresh_token_expires_in, scope}`.
//! - `GET /garmin/wellness-api/rest/user/id` (bearer) → `{"userId": "…"}`.
//! - `DELETE /garmin/wellness-api/rest/user/registration` (bearer): deregistration.
//! - `GET /garmin/wellness-api/rest/activityFile?id&token` (bearer): the FIT file of one
//!   activity ([`super::fit::encode`]); `token` is the pull token from the ping.
//! - `POST /__sim/garmin/ping-url` `{"url": …}`: where pings go (Garmin's developer
//!   portal setting), and `POST /__sim/garmin/pings` `{"athlete_id", "activity_id"?}`:
//!   send a ping `{"activityFiles": [{userId, summaryId, activityId, fileType: "FIT",
//!   callbackURL, startTimeInSeconds, manual}]}` for that activity (a new one when
//!   `activity_id` is absent); answers what was sent and whether the callback took it.

use std::collections::HashMap;

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use base64::Engine as _;
use chrono::{DateTime, TimeDelta, Utc};
use serde::Deserialize;
use serde_json::json;
use sha2::Digest as _;
use url::Url;

use super::api::{bearer, error};
use super::{CODE_LIFETIME, Sim, token};

/// Garmin access tokens live a day.
pub const GARMIN_ACCESS_LIFETIME: TimeDelta = TimeDelta::hours(24);
/// Garmin refresh tokens live about three months.
const REFRESH_LIFETIME_S: i64 = 7_776_000;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/garmin/oauth2Confirm")
            .route(web::get().to(consent_page))
            .route(web::post().to(consent_decision)),
    )
    .service(
        web::resource("/garmin/di-oauth2-service/oauth/token")
            .route(web::post().to(token_endpoint)),
    )
    .service(web::resource("/garmin/wellness-api/rest/user/id").route(web::get().to(user_id)))
    .service(
        web::resource("/garmin/wellness-api/rest/user/registration")
            .route(web::delete().to(deregister)),
    )
    .service(
        web::resource("/garmin/wellness-api/rest/activityFile").route(web::get().to(activity_file)),
    )
    .service(web::resource("/__sim/garmin/ping-url").route(web::post().to(set_ping_url)))
    .service(web::resource("/__sim/garmin/pings").route(web::post().to(send_ping)));
}

/// Garmin's state inside the simulator.
#[derive(Debug, Default)]
pub struct GarminState {
    codes: HashMap<String, GarminCode>,
    grants: Vec<GarminGrant>,
    /// Where pings are sent.
    ping_url: Option<Url>,
    /// Pull tokens handed out in pings, by activity id.
    pulls: HashMap<u64, String>,
}

#[derive(Debug, Clone)]
struct GarminCode {
    athlete: usize,
    challenge: String,
    redirect_uri: String,
    expires: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct GarminGrant {
    athlete: usize,
    access_token: String,
    expires_at: DateTime<Utc>,
    refresh_token: String,
}

/// The Garmin user id of athlete `id` (Garmin's are UUIDs).
#[must_use]
pub fn user_id_of(athlete_id: u64) -> String {
    format!("00000000-0000-4000-8000-{athlete_id:012}")
}

/// The S256 code challenge of a verifier.
#[must_use]
pub fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

fn fields(raw: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(raw.as_bytes())
        .into_owned()
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// An OAuth 2.0 error body (RFC 6749 §5.2), as Garmin's token endpoint answers.
fn oauth_error(status: StatusCode, code: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "error": code, "error_description": description }))
}

fn check_client(sim: &Sim, fields: &[(String, String)]) -> bool {
    field(fields, "client_id").map(str::trim) == Some(sim.config.client_id.to_string().as_str())
}

fn redirect_uri(fields: &[(String, String)]) -> Option<Url> {
    field(fields, "redirect_uri")
        .and_then(|uri| Url::parse(uri).ok())
        .filter(|uri| matches!(uri.scheme(), "http" | "https"))
}

#[derive(Debug)]
struct AthleteChoice {
    id: u64,
    label: String,
}

#[derive(Template)]
#[template(path = "provider_sim/garmin_consent.html")]
struct Consent {
    client_id: String,
    redirect_uri: String,
    state: String,
    code_challenge: String,
    athletes: Vec<AthleteChoice>,
}

/// `GET /garmin/oauth2Confirm`: the consent page.
async fn consent_page(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let fields = fields(req.query_string());
    if !check_client(&sim, &fields) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown client_id",
        );
    }
    let Some(redirect) = redirect_uri(&fields) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "redirect_uri");
    };
    if field(&fields, "response_type") != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "code only",
        );
    }
    let challenge = field(&fields, "code_challenge").unwrap_or_default();
    if field(&fields, "code_challenge_method") != Some("S256") || challenge.len() < 43 {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "PKCE is required: code_challenge (43+ characters) with code_challenge_method=S256",
        );
    }
    let page = Consent {
        client_id: sim.config.client_id.to_string(),
        redirect_uri: redirect.to_string(),
        state: field(&fields, "state").unwrap_or_default().to_owned(),
        code_challenge: challenge.to_owned(),
        athletes: sim
            .athletes()
            .into_iter()
            .map(|(id, first, last)| AthleteChoice {
                id,
                label: format!("{first} {last} (Garmin user {})", user_id_of(id)),
            })
            .collect(),
    };
    match page.render() {
        Ok(body) => HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body),
        Err(err) => HttpResponse::InternalServerError().body(err.to_string()),
    }
}

fn redirect_to(mut uri: Url, pairs: &[(&str, &str)]) -> HttpResponse {
    uri.query_pairs_mut().extend_pairs(pairs);
    HttpResponse::Found()
        .insert_header((header::LOCATION, uri.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `POST /garmin/oauth2Confirm`: approve (`decision=approve`) or deny.
async fn consent_decision(body: String, sim: web::Data<Sim>) -> HttpResponse {
    let fields = fields(&body);
    if !check_client(&sim, &fields) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown client_id",
        );
    }
    let Some(redirect) = redirect_uri(&fields) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "redirect_uri");
    };
    let state = field(&fields, "state").unwrap_or_default();
    if field(&fields, "decision") != Some("approve") {
        return redirect_to(redirect, &[("error", "access_denied"), ("state", state)]);
    }
    let athlete_id = field(&fields, "athlete").and_then(|id| id.parse::<u64>().ok());
    let now = sim.clock.now();
    let code = token();
    {
        let mut inner = sim.lock();
        let Some(athlete) = inner
            .world
            .athletes
            .iter()
            .position(|a| Some(a.id) == athlete_id)
        else {
            return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "athlete");
        };
        inner.garmin.codes.retain(|_, c| c.expires > now);
        inner.garmin.codes.insert(
            code.clone(),
            GarminCode {
                athlete,
                challenge: field(&fields, "code_challenge")
                    .unwrap_or_default()
                    .to_owned(),
                redirect_uri: redirect.to_string(),
                expires: now + CODE_LIFETIME,
            },
        );
    }
    redirect_to(redirect, &[("code", &code), ("state", state)])
}

fn token_answer(grant: &GarminGrant, now: DateTime<Utc>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({
            "access_token": grant.access_token,
            "token_type": "bearer",
            "expires_in": (grant.expires_at - now).num_seconds().max(0),
            "refresh_token": grant.refresh_token,
            "refresh_token_expires_in": REFRESH_LIFETIME_S,
            "scope": "ACTIVITY_EXPORT",
        }))
}

/// `POST /garmin/di-oauth2-service/oauth/token`.
async fn token_endpoint(body: String, sim: web::Data<Sim>) -> HttpResponse {
    if let Some(response) = super::api::faults_before(&sim).await {
        return response;
    }
    let fields = fields(&body);
    if !check_client(&sim, &fields)
        || field(&fields, "client_secret") != Some(sim.config.client_secret.as_str())
    {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let now = sim.clock.now();
    let mut inner = sim.lock();
    match field(&fields, "grant_type") {
        Some("authorization_code") => {
            let code = field(&fields, "code").unwrap_or_default();
            let Some(found) = inner.garmin.codes.remove(code).filter(|c| c.expires > now) else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown or expired code",
                );
            };
            let verifier = field(&fields, "code_verifier").unwrap_or_default();
            if verifier.len() < 43 || s256(verifier) != found.challenge {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "code_verifier does not match the code_challenge",
                );
            }
            if field(&fields, "redirect_uri").is_some_and(|uri| uri != found.redirect_uri) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "redirect_uri mismatch",
                );
            }
            let grant = GarminGrant {
                athlete: found.athlete,
                access_token: token(),
                expires_at: now + GARMIN_ACCESS_LIFETIME,
                refresh_token: token(),
            };
            inner.garmin.grants.push(grant.clone());
            drop(inner);
            token_answer(&grant, now)
        }
        Some("refresh_token") => {
            let presented = field(&fields, "refresh_token").unwrap_or_default();
            let Some(grant) = inner
                .garmin
                .grants
                .iter_mut()
                .find(|g| !presented.is_empty() && g.refresh_token == presented)
            else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "unknown refresh token",
                );
            };
            grant.refresh_token = token();
            grant.access_token = token();
            grant.expires_at = now + GARMIN_ACCESS_LIFETIME;
            let grant = grant.clone();
            drop(inner);
            token_answer(&grant, now)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type",
        ),
    }
}

/// The athlete (index) of a valid bearer token.
fn authorised(sim: &Sim, req: &HttpRequest) -> Option<usize> {
    let presented = bearer(req)?;
    let now = sim.clock.now();
    sim.lock()
        .garmin
        .grants
        .iter()
        .find(|g| g.access_token == presented && g.expires_at > now)
        .map(|g| g.athlete)
}

fn unauthorized() -> HttpResponse {
    HttpResponse::Unauthorized().json(json!({ "errorMessage": "Unauthorized" }))
}

/// `GET /garmin/wellness-api/rest/user/id`.
async fn user_id(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let Some(athlete) = authorised(&sim, &req) else {
        return unauthorized();
    };
    let id = sim.lock().world.athletes.get(athlete).map(|a| a.id);
    id.map_or_else(unauthorized, |id| {
        HttpResponse::Ok().json(json!({ "userId": user_id_of(id) }))
    })
}

/// `DELETE /garmin/wellness-api/rest/user/registration`: 204, every token of the user revoked.
async fn deregister(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let Some(athlete) = authorised(&sim, &req) else {
        return unauthorized();
    };
    sim.lock().garmin.grants.retain(|g| g.athlete != athlete);
    HttpResponse::NoContent().finish()
}

#[derive(Debug, Deserialize)]
struct PullQuery {
    id: String,
    token: String,
}

/// `GET /garmin/wellness-api/rest/activityFile?id&token`: the FIT file.
async fn activity_file(
    req: HttpRequest,
    sim: web::Data<Sim>,
    query: web::Query<PullQuery>,
) -> HttpResponse {
    if let Some(response) = super::api::faults_before(&sim).await {
        return response;
    }
    let Some(athlete) = authorised(&sim, &req) else {
        return unauthorized();
    };
    let id: Option<u64> = query.id.parse().ok();
    let found = {
        let inner = sim.lock();
        id.and_then(|id| {
            let pull_ok = inner.garmin.pulls.get(&id) == Some(&query.token);
            inner
                .world
                .activities
                .get(&id)
                .filter(|a| a.athlete == athlete && pull_ok)
                .and_then(|a| {
                    inner
                        .world
                        .athletes
                        .get(a.athlete)
                        .map(|owner| (owner.profile.clone(), a.session))
                })
        })
    };
    let Some((profile, session)) = found else {
        return HttpResponse::NotFound().json(json!({ "errorMessage": "Not found" }));
    };
    let fit =
        web::block(move || super::fit::encode(&crate::synthetic::activity(&profile, &session)))
            .await;
    match fit {
        Ok(bytes) => HttpResponse::Ok()
            .content_type("application/octet-stream")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}.fit\"", query.id),
            ))
            .body(bytes),
        Err(_) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            &[],
        ),
    }
}

#[derive(Debug, Deserialize)]
struct PingUrl {
    url: String,
}

/// `POST /__sim/garmin/ping-url`.
async fn set_ping_url(sim: web::Data<Sim>, body: web::Json<PingUrl>) -> HttpResponse {
    let Ok(url) = Url::parse(&body.url) else {
        return HttpResponse::BadRequest().json(json!({ "error": "url" }));
    };
    sim.lock().garmin.ping_url = Some(url.clone());
    HttpResponse::Ok().json(json!({ "url": url.to_string() }))
}

#[derive(Debug, Deserialize)]
struct PingRequest {
    athlete_id: u64,
    activity_id: Option<u64>,
}

/// `POST /__sim/garmin/pings`: ping the configured URL about one activity.
async fn send_ping(
    req: HttpRequest,
    sim: web::Data<Sim>,
    body: web::Json<PingRequest>,
) -> HttpResponse {
    let now = sim.clock.now();
    let base = format!(
        "{}://{}",
        req.connection_info().scheme(),
        req.connection_info().host()
    );
    let (ping_url, activity_id, start, pull) = {
        let mut inner = sim.lock();
        let Some(ping_url) = inner.garmin.ping_url.clone() else {
            return HttpResponse::BadRequest()
                .json(json!({ "error": "no ping URL: POST /__sim/garmin/ping-url first" }));
        };
        let Some(athlete) = inner
            .world
            .athletes
            .iter()
            .position(|a| a.id == body.athlete_id)
        else {
            return HttpResponse::BadRequest().json(json!({ "error": "athlete_id" }));
        };
        let id = match body.activity_id {
            Some(id)
                if inner
                    .world
                    .activities
                    .get(&id)
                    .is_some_and(|a| a.athlete == athlete) =>
            {
                id
            }
            Some(_) => return HttpResponse::BadRequest().json(json!({ "error": "activity_id" })),
            None => {
                let session = inner.world.new_session(athlete, now, sim.config.seed);
                inner.world.insert(athlete, session)
            }
        };
        let start = inner
            .world
            .activities
            .get(&id)
            .map_or(0, |a| a.session.start.timestamp());
        let pull = inner.garmin.pulls.entry(id).or_insert_with(token).clone();
        drop(inner);
        (ping_url, id, start, pull)
    };
    let mut callback = Url::parse(&format!("{base}/garmin/wellness-api/rest/activityFile"))
        .unwrap_or_else(|_| ping_url.clone());
    callback
        .query_pairs_mut()
        .append_pair("id", &activity_id.to_string())
        .append_pair("token", &pull);
    let ping = json!({
        "activityFiles": [{
            "userId": user_id_of(body.athlete_id),
            "summaryId": activity_id.to_string(),
            "activityId": activity_id,
            "fileType": "FIT",
            "callbackURL": callback.to_string(),
            "startTimeInSeconds": start,
            "manual": false,
        }]
    });
    let text = ping.to_string();
    let mut attempts = 0;
    let mut delivered = false;
    while attempts < 3 && !delivered {
        attempts += 1;
        delivered = matches!(
            super::push::call("POST", &ping_url, Some(&text)).await,
            Some((200..=299, _))
        );
    }
    HttpResponse::Ok().json(json!({
        "ping": ping,
        "delivered": delivered,
        "attempts": attempts,
    }))
}
