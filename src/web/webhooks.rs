//! Strava's webhook endpoint: subscription validation (`GET`) and event
//! delivery (`POST`).
//!
//! No session and no CSRF token (the CSRF middleware exempts `/webhooks/`):
//! a validation proves itself with the app's verify token (compared in
//! constant time), an event with the app's subscription id. An event is
//! checked, queued as a `SYNC_EVENT` job (one per event: the dedupe key makes
//! Strava's retries and duplicate deliveries one job) and answered 200 at
//! once; the provider is never called while Strava waits.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq as _;

use crate::crypto::{Aad, Sealed};
use crate::db::oauth_apps::{self, column};
use crate::db::{jobs, provider_errors};
use crate::domain::provider::Provider;
use crate::error::AppError;
use crate::providers::tokens;
use crate::state::AppState;

/// Largest event body accepted (Strava's are a few hundred bytes).
pub const MAX_EVENT_BYTES: usize = 16 * 1024;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/strava")
            .app_data(web::PayloadConfig::new(MAX_EVENT_BYTES))
            .route(web::get().to(validate))
            .route(web::post().to(receive)),
    );
}

fn answer(status: StatusCode, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "message": message }))
}

/// `GET /webhooks/strava?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…`.
async fn validate(
    state: web::Data<AppState>,
    query: web::Query<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let (Some("subscribe"), Some(challenge), Some(offered)) = (
        param("hub.mode"),
        param("hub.challenge"),
        param("hub.verify_token"),
    ) else {
        return Ok(answer(
            StatusCode::BAD_REQUEST,
            "not a subscription validation",
        ));
    };
    let mut conn = state.db.conn().await?;
    let app = oauth_apps::get(&mut conn, Provider::Strava.as_str()).await;
    let app = conn.check(app)?;
    let expected = app.and_then(|a| a.webhook_verify_token).and_then(|sealed| {
        let sealed = Sealed::from_bytes(&sealed).ok()?;
        state
            .settings
            .data_keys
            .open(
                &sealed,
                &Aad::app(Provider::Strava.as_str(), column::WEBHOOK_VERIFY_TOKEN),
            )
            .ok()
    });
    let matches = expected.is_some_and(|token| {
        use secrecy::ExposeSecret as _;
        bool::from(token.expose_secret().as_bytes().ct_eq(offered.as_bytes()))
    });
    if !matches {
        tracing::warn!("Strava webhook validation with a wrong verify token refused");
        return Ok(answer(StatusCode::FORBIDDEN, "verify token mismatch"));
    }
    Ok(HttpResponse::Ok().json(json!({ "hub.challenge": challenge })))
}

/// A Strava webhook event, as documented.
#[derive(Debug, Deserialize)]
#[expect(clippy::struct_field_names, reason = "Strava's field names, as sent")]
struct Event {
    object_type: String,
    object_id: u64,
    aspect_type: String,
    owner_id: u64,
    subscription_id: u64,
    event_time: i64,
    #[serde(default)]
    updates: serde_json::Map<String, Value>,
}

/// `POST /webhooks/strava`: check, queue, answer 200.
async fn receive(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let Ok(event) = serde_json::from_slice::<Event>(&body) else {
        return Ok(answer(StatusCode::BAD_REQUEST, "not a Strava event"));
    };
    let known = matches!(
        (event.object_type.as_str(), event.aspect_type.as_str()),
        ("activity", "create" | "update" | "delete") | ("athlete", "update" | "delete")
    );
    if !known {
        return Ok(answer(StatusCode::BAD_REQUEST, "unknown event kind"));
    }
    let mut conn = state.db.conn().await?;
    let app = oauth_apps::get(&mut conn, Provider::Strava.as_str()).await;
    let app = conn.check(app)?;
    let subscribed = app
        .and_then(|a| a.subscription_id)
        .is_some_and(|id| id.trim() == event.subscription_id.to_string());
    if !subscribed {
        tracing::warn!(
            subscription_id = event.subscription_id,
            "Strava event for another subscription refused"
        );
        let message = format!(
            "an event for subscription {} was refused: it is not this app's subscription",
            event.subscription_id
        );
        let recorded = provider_errors::insert(
            &mut conn,
            Provider::Strava.as_str(),
            None,
            "webhook",
            Some(403),
            &message,
        )
        .await;
        conn.check(recorded)?;
        return Ok(answer(StatusCode::FORBIDDEN, "unknown subscription"));
    }
    let connection =
        tokens::by_external(&mut conn, Provider::Strava, &event.owner_id.to_string()).await;
    let connection = conn.check(connection)?;
    let Some(connection) = connection else {
        tracing::info!(
            owner = event.owner_id,
            "Strava event for an athlete not connected: ignored"
        );
        return Ok(answer(StatusCode::OK, "ignored"));
    };
    let key = format!(
        "strava:{}:{}:{}:{}",
        event.object_type, event.object_id, event.aspect_type, event.event_time
    );
    let payload = json!({
        "provider": Provider::Strava.as_str(),
        "object_type": event.object_type,
        "object_id": event.object_id,
        "aspect_type": event.aspect_type,
        "owner_id": event.owner_id,
        "subscription_id": event.subscription_id,
        "event_time": event.event_time,
        "updates": event.updates,
    });
    let queued = jobs::enqueue(
        &mut conn,
        jobs::SYNC_EVENT,
        Some(connection.user_id),
        &payload,
        Some(&key),
    )
    .await;
    if conn.check(queued)?.is_some() {
        state.jobs.notify();
    }
    Ok(answer(StatusCode::OK, "queued"))
}
