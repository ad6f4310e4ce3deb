//! Strava's push subscriptions (one per app, validated by a GET to the callback) and
//! webhook event delivery (`POST /__sim/events` makes one happen).
//!
//! The callback is called with a minimal HTTP/1.1 client over plain TCP (`http://` only,
//! which is all a local simulator needs), 2 s per attempt, up to 3 attempts for events.

#![expect(
    clippy::result_large_err,
    reason = "handlers carry finished HTTP answers as their errors"
)]

use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use url::Url;

use super::api::error;
use super::{Sim, Subscription, token};

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/api/v3/push_subscriptions")
            .route(web::post().to(create))
            .route(web::get().to(list)),
    )
    .service(web::resource("/api/v3/push_subscriptions/{id}").route(web::delete().to(delete)))
    .service(web::resource("/__sim/events").route(web::post().to(event)));
}

const TIMEOUT: Duration = Duration::from_secs(2);
const MAX_ANSWER: u64 = 64 * 1024;

/// Status and body of one plain-HTTP request.
pub(super) async fn call(method: &str, url: &Url, body: Option<&str>) -> Option<(u16, String)> {
    if url.scheme() != "http" {
        return None;
    }
    let host = url.host_str()?;
    let port = url.port_or_known_default()?;
    let path = url
        .query()
        .map_or_else(|| url.path().to_owned(), |q| format!("{}?{q}", url.path()));
    let body = body.unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\
         User-Agent: pierre-provider-sim\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect((host, port)).await.ok()?;
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        stream.take(MAX_ANSWER).read_to_end(&mut raw).await.ok()?;
        Some(raw)
    };
    let raw = tokio::time::timeout(TIMEOUT, exchange).await.ok()??;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head
        .lines()
        .any(|l| l.to_ascii_lowercase().replace(' ', "") == "transfer-encoding:chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Some((status, body))
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

fn fields(req: &HttpRequest, body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .chain(url::form_urlencoded::parse(body.as_bytes()))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The app's credentials, as Strava checks them: an unknown client id, or a
/// secret that does not belong to it, is a 401 naming the field that failed.
fn check_app(sim: &Sim, fields: &[(String, String)]) -> Result<(), HttpResponse> {
    let id_ok = field(fields, "client_id")
        .and_then(|id| id.trim().parse::<u64>().ok())
        .is_some_and(|id| id == sim.config.client_id);
    let secret_ok = field(fields, "client_secret") == Some(sim.config.client_secret.as_str());
    let failed = if !id_ok {
        "client_id"
    } else if !secret_ok {
        "client_secret"
    } else {
        return Ok(());
    };
    Err(error(
        StatusCode::UNAUTHORIZED,
        "Authorization Error",
        &[
            ("resource", "Application"),
            ("field", failed),
            ("code", "invalid"),
        ],
    ))
}

fn push_error(field: &str, code: &str) -> HttpResponse {
    error(
        StatusCode::BAD_REQUEST,
        "Bad Request",
        &[
            ("resource", "PushSubscription"),
            ("field", field),
            ("code", code),
        ],
    )
}

/// `POST /api/v3/push_subscriptions`: validate the callback, then store the one
/// subscription.
async fn create(req: HttpRequest, body: String, sim: web::Data<Sim>) -> HttpResponse {
    let fields = fields(&req, &body);
    if let Err(response) = check_app(&sim, &fields) {
        return response;
    }
    if sim.lock().subscription.is_some() {
        return push_error("", "already exists");
    }
    let (Some(callback), Some(verify)) = (
        field(&fields, "callback_url").and_then(|u| Url::parse(u).ok()),
        field(&fields, "verify_token"),
    ) else {
        return push_error("callback url", "invalid");
    };
    let challenge = token();
    let mut check = callback.clone();
    check
        .query_pairs_mut()
        .append_pair("hub.mode", "subscribe")
        .append_pair("hub.challenge", &challenge)
        .append_pair("hub.verify_token", verify);
    let echoed = match call("GET", &check, None).await {
        Some((200, body)) => serde_json::from_str::<Value>(&body)
            .ok()
            .is_some_and(|v| v["hub.challenge"] == challenge.as_str()),
        _ => false,
    };
    if !echoed {
        return push_error("callback url", "GET to callback URL does not return 200");
    }
    let mut inner = sim.lock();
    if inner.subscription.is_some() {
        return push_error("", "already exists");
    }
    inner.next_subscription += 1;
    let id = inner.next_subscription;
    inner.subscription = Some(Subscription {
        id,
        callback_url: callback,
    });
    drop(inner);
    HttpResponse::Created().json(json!({ "id": id }))
}

/// `GET /api/v3/push_subscriptions?client_id&client_secret`.
async fn list(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let fields = fields(&req, "");
    if let Err(response) = check_app(&sim, &fields) {
        return response;
    }
    let subscription = sim.lock().subscription.clone();
    let list: Vec<Value> = subscription
        .into_iter()
        .map(|s| {
            json!({
                "id": s.id,
                "application_id": sim.config.client_id,
                "callback_url": s.callback_url.to_string(),
            })
        })
        .collect();
    HttpResponse::Ok().json(list)
}

/// `DELETE /api/v3/push_subscriptions/{id}?client_id&client_secret`: 204.
async fn delete(req: HttpRequest, sim: web::Data<Sim>) -> HttpResponse {
    let fields = fields(&req, "");
    if let Err(response) = check_app(&sim, &fields) {
        return response;
    }
    let id: Option<u64> = req.match_info().get("id").and_then(|id| id.parse().ok());
    let mut inner = sim.lock();
    if id.is_some() && inner.subscription.as_ref().map(|s| s.id) == id {
        inner.subscription = None;
        drop(inner);
        HttpResponse::NoContent().finish()
    } else {
        drop(inner);
        error(
            StatusCode::NOT_FOUND,
            "Resource Not Found",
            &[
                ("resource", "PushSubscription"),
                ("field", "id"),
                ("code", "not found"),
            ],
        )
    }
}

/// `POST /__sim/events` body: what happens, to whom.
#[derive(Debug, Deserialize)]
struct EventRequest {
    /// `activity` or `athlete`.
    object_type: String,
    /// `create`, `update` or `delete` (`update` for an athlete: deauthorization).
    aspect_type: String,
    /// The athlete.
    athlete_id: u64,
    /// The activity, for update and delete (create makes a new one).
    activity_id: Option<u64>,
    /// New title, for an activity update.
    name: Option<String>,
}

/// `POST /__sim/events`: change the world as the event says, then deliver it to the
/// subscription's callback (up to 3 attempts). Answers what was sent and whether the
/// callback took it.
async fn event(sim: web::Data<Sim>, request: web::Json<EventRequest>) -> HttpResponse {
    let now = sim.clock.now();
    let outcome = {
        let mut inner = sim.lock();
        let Some(subscription) = inner.subscription.clone() else {
            return push_error("subscription", "missing");
        };
        let Some(athlete) = inner
            .world
            .athletes
            .iter()
            .position(|a| a.id == request.athlete_id)
        else {
            return push_error("athlete_id", "invalid");
        };
        let owned = |inner: &super::Inner, id: Option<u64>| {
            id.filter(|id| {
                inner
                    .world
                    .activities
                    .get(id)
                    .is_some_and(|a| a.athlete == athlete)
            })
        };
        let (object_id, updates) =
            match (request.object_type.as_str(), request.aspect_type.as_str()) {
                ("activity", "create") => {
                    let session = inner.world.new_session(athlete, now, sim.config.seed);
                    (inner.world.insert(athlete, session), json!({}))
                }
                ("activity", "update") => {
                    let Some(id) = owned(&inner, request.activity_id) else {
                        return push_error("activity_id", "invalid");
                    };
                    let name = request
                        .name
                        .clone()
                        .unwrap_or_else(|| "Renamed activity".to_owned());
                    if let Some(activity) = inner.world.activities.get_mut(&id) {
                        activity.name.clone_from(&name);
                    }
                    (id, json!({ "title": name }))
                }
                ("activity", "delete") => {
                    let Some(id) = owned(&inner, request.activity_id) else {
                        return push_error("activity_id", "invalid");
                    };
                    inner.world.activities.remove(&id);
                    inner.streams.remove(&id);
                    (id, json!({}))
                }
                ("athlete", "update") => {
                    inner.grants.retain(|g| g.athlete != athlete);
                    (request.athlete_id, json!({ "authorized": "false" }))
                }
                _ => return push_error("aspect_type", "invalid"),
            };
        drop(inner);
        (subscription, object_id, updates)
    };
    let (subscription, object_id, updates) = outcome;
    let event = json!({
        "object_type": request.object_type,
        "object_id": object_id,
        "aspect_type": request.aspect_type,
        "owner_id": request.athlete_id,
        "subscription_id": subscription.id,
        "event_time": now.timestamp(),
        "updates": updates,
    });
    let body = event.to_string();
    let mut attempts = 0;
    let mut delivered = false;
    while attempts < 3 && !delivered {
        attempts += 1;
        delivered = matches!(
            call("POST", &subscription.callback_url, Some(&body)).await,
            Some((200..=299, _))
        );
    }
    HttpResponse::Ok().json(json!({
        "event": event,
        "delivered": delivered,
        "attempts": attempts,
    }))
}
