//! Strava's OAuth endpoints: the consent page, the token exchange and refresh, and
//! deauthorization.

#![expect(
    clippy::result_large_err,
    reason = "handlers carry finished HTTP answers as their errors"
)]

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde_json::json;
use url::Url;

use super::api::{self, error};
use super::data::athlete_json;
use super::{ACCESS_TOKEN_LIFETIME, CODE_LIFETIME, Code, Grant, REFRESH_MARGIN, Sim, token};

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/oauth/authorize")
            .route(web::get().to(authorize_page))
            .route(web::post().to(authorize_decision)),
    )
    .service(web::resource("/oauth/token").route(web::post().to(token_endpoint)))
    .service(web::resource("/oauth/deauthorize").route(web::post().to(deauthorize)));
}

/// Strava's scopes, with what the consent page says about each. `read` cannot be
/// declined.
const SCOPES: [(&str, &str); 7] = [
    (
        "read",
        "View data about your public segments, routes, profile and activities (required)",
    ),
    (
        "read_all",
        "View data about your private routes and segments",
    ),
    ("profile:read_all", "View your complete profile"),
    ("profile:write", "Update your weight and FTP"),
    ("activity:read", "View data about your activities"),
    (
        "activity:read_all",
        "View data about your private activities and privacy zones",
    ),
    ("activity:write", "Upload activities and edit their data"),
];

/// Form and query fields, in order, repeated keys kept.
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

fn invalid(resource: &str, name: &str) -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "Bad Request",
        &[("resource", resource), ("field", name), ("code", "invalid")],
    )
}

/// Checks client id and redirect URI as Strava does; the parsed redirect URI.
fn check_client(sim: &Sim, fields: &[(String, String)]) -> Result<Url, HttpResponse> {
    let client_ok = field(fields, "client_id")
        .and_then(|id| id.trim().parse::<u64>().ok())
        .is_some_and(|id| id == sim.config.client_id);
    if !client_ok {
        return Err(invalid("Application", "client_id"));
    }
    let redirect = field(fields, "redirect_uri")
        .and_then(|uri| Url::parse(uri).ok())
        .filter(|uri| matches!(uri.scheme(), "http" | "https"))
        .ok_or_else(|| invalid("Application", "redirect_uri"))?;
    let host = redirect.host_str().unwrap_or_default().to_ascii_lowercase();
    let domain = sim.config.callback_domain.to_ascii_lowercase();
    let in_domain = host == domain
        || host.ends_with(&format!(".{domain}"))
        || matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]");
    if in_domain {
        Ok(redirect)
    } else {
        Err(invalid("Application", "redirect_uri"))
    }
}

/// The requested scopes (comma- or space-separated), `read` when none; `None` when one
/// is unknown.
fn requested_scopes(raw: Option<&str>) -> Option<Vec<String>> {
    let mut out = Vec::new();
    for scope in raw
        .unwrap_or("read")
        .split([',', ' '])
        .filter(|s| !s.is_empty())
    {
        if !SCOPES.iter().any(|(name, _)| *name == scope) {
            return None;
        }
        if !out.iter().any(|s| s == scope) {
            out.push(scope.to_owned());
        }
    }
    if out.is_empty() {
        out.push("read".to_owned());
    }
    Some(out)
}

/// One scope line of the consent page.
#[derive(Debug)]
struct ScopeItem {
    name: String,
    description: &'static str,
    required: bool,
}

/// One athlete the visitor can act as.
#[derive(Debug)]
struct AthleteChoice {
    id: u64,
    label: String,
}

#[derive(Template)]
#[template(path = "provider_sim/consent.html")]
struct Consent {
    client_id: u64,
    redirect_uri: String,
    state: String,
    requested: String,
    scopes: Vec<ScopeItem>,
    athletes: Vec<AthleteChoice>,
}

/// `GET /oauth/authorize`: the consent page.
async fn authorize_page(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let fields = fields(req.query_string());
    let redirect = match check_client(&sim, &fields) {
        Ok(redirect) => redirect,
        Err(response) => return response,
    };
    if field(&fields, "response_type") != Some("code") {
        return invalid("Application", "response_type");
    }
    let Some(scopes) = requested_scopes(field(&fields, "scope")) else {
        return invalid("Authorize", "scope");
    };
    let page = Consent {
        client_id: sim.config.client_id,
        redirect_uri: redirect.to_string(),
        state: field(&fields, "state").unwrap_or_default().to_owned(),
        requested: scopes.join(","),
        scopes: scopes
            .into_iter()
            .map(|name| {
                let description = SCOPES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or("", |(_, d)| *d);
                ScopeItem {
                    required: name == "read",
                    name,
                    description,
                }
            })
            .collect(),
        athletes: sim
            .athletes()
            .into_iter()
            .map(|(id, first, last)| AthleteChoice {
                id,
                label: format!("{first} {last} (athlete {id})"),
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
    {
        let mut query = uri.query_pairs_mut();
        for (k, v) in pairs {
            query.append_pair(k, v);
        }
    }
    HttpResponse::Found()
        .insert_header((header::LOCATION, uri.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// `POST /oauth/authorize`: the consent form (decision `authorize` or `cancel`).
async fn authorize_decision(body: String, sim: web::Data<Sim>) -> HttpResponse {
    let fields = fields(&body);
    let redirect = match check_client(&sim, &fields) {
        Ok(redirect) => redirect,
        Err(response) => return response,
    };
    let state = field(&fields, "state").unwrap_or_default();
    if field(&fields, "decision") != Some("authorize") {
        return redirect_to(redirect, &[("state", state), ("error", "access_denied")]);
    }
    let ticked: Vec<&str> = fields
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.as_str())
        .collect();
    // `read` always; the rest if requested and ticked, in Strava's order.
    let requested = requested_scopes(field(&fields, "requested")).unwrap_or_default();
    let granted: Vec<String> = SCOPES
        .iter()
        .map(|(name, _)| *name)
        .filter(|name| {
            *name == "read" || (ticked.contains(name) && requested.iter().any(|r| r == name))
        })
        .map(str::to_owned)
        .collect();
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
            return invalid("Athlete", "athlete");
        };
        inner.codes.retain(|_, c| c.expires > now);
        inner.codes.insert(
            code.clone(),
            Code {
                athlete,
                scopes: granted.clone(),
                expires: now + CODE_LIFETIME,
            },
        );
    }
    let scope = granted.join(",");
    redirect_to(
        redirect,
        &[("state", state), ("code", &code), ("scope", &scope)],
    )
}

fn token_answer(grant: &Grant, athlete: Option<serde_json::Value>, now_s: i64) -> HttpResponse {
    let mut body = json!({
        "token_type": "Bearer",
        "expires_at": grant.expires_at.timestamp(),
        "expires_in": (grant.expires_at.timestamp() - now_s).max(0),
        "refresh_token": grant.refresh_token,
        "access_token": grant.access_token,
    });
    if let (Some(athlete), Some(map)) = (athlete, body.as_object_mut()) {
        map.insert("athlete".to_owned(), athlete);
    }
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(body)
}

/// `POST /oauth/token`: exchange a code, or refresh (the refresh token rotates).
async fn token_endpoint(req: HttpRequest, body: String, sim: web::Data<Sim>) -> HttpResponse {
    if let Some(response) = api::faults_before(&sim).await {
        return response;
    }
    let mut fields = fields(req.query_string());
    fields.extend(self::fields(&body));
    let client_ok = field(&fields, "client_id")
        .and_then(|id| id.trim().parse::<u64>().ok())
        .is_some_and(|id| id == sim.config.client_id);
    if !client_ok {
        return invalid("Application", "client_id");
    }
    if field(&fields, "client_secret") != Some(sim.config.client_secret.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "Authorization Error",
            &[
                ("resource", "Application"),
                ("field", "client_secret"),
                ("code", "invalid"),
            ],
        );
    }
    let now = sim.clock.now();
    let mut inner = sim.lock();
    match field(&fields, "grant_type") {
        Some("authorization_code") => {
            let code = field(&fields, "code").unwrap_or_default();
            let Some(found) = inner.codes.remove(code).filter(|c| c.expires > now) else {
                return invalid("AuthorizationCode", "code");
            };
            let grant = Grant {
                athlete: found.athlete,
                scopes: found.scopes,
                access_token: token(),
                expires_at: now + ACCESS_TOKEN_LIFETIME,
                refresh_token: token(),
            };
            let athlete = inner
                .world
                .athletes
                .get(grant.athlete)
                .map(|a| athlete_json(a, false));
            inner.grants.push(grant.clone());
            token_answer(&grant, athlete, now.timestamp())
        }
        Some("refresh_token") => {
            let presented = field(&fields, "refresh_token").unwrap_or_default();
            let Some(grant) = inner
                .grants
                .iter_mut()
                .find(|g| !presented.is_empty() && g.refresh_token == presented)
            else {
                return invalid("RefreshToken", "refresh_token");
            };
            grant.refresh_token = token();
            if grant.expires_at - now <= REFRESH_MARGIN {
                grant.access_token = token();
                grant.expires_at = now + ACCESS_TOKEN_LIFETIME;
            }
            let grant = grant.clone();
            drop(inner);
            token_answer(&grant, None, now.timestamp())
        }
        _ => invalid("Application", "grant_type"),
    }
}

/// `POST /oauth/deauthorize` (`access_token` as a field or a bearer header): revokes
/// every token of that athlete for this app.
async fn deauthorize(req: HttpRequest, body: String, sim: web::Data<Sim>) -> HttpResponse {
    let mut fields = fields(req.query_string());
    fields.extend(self::fields(&body));
    let presented = field(&fields, "access_token")
        .map(str::to_owned)
        .or_else(|| api::bearer(&req));
    let now = sim.clock.now();
    let mut inner = sim.lock();
    let athlete = presented.as_deref().and_then(|t| {
        inner
            .grants
            .iter()
            .find(|g| g.access_token == t && g.expires_at > now)
            .map(|g| g.athlete)
    });
    let Some(athlete) = athlete else {
        return api::unauthorized();
    };
    inner.grants.retain(|g| g.athlete != athlete);
    drop(inner);
    HttpResponse::Ok().json(json!({ "access_token": presented }))
}
