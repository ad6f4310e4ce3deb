//! `POST /webhooks/garmin`: Garmin's ping notifications. Validated, queued
//! (one `garmin_ping` job per activity file, see [`crate::sync::garmin`]) and
//! answered 200 at once; the worker pulls the files.
//!
//! Garmin retries pings that are not answered 200, so files of unknown users
//! are acknowledged and dropped rather than refused. A body that is not a ping
//! is 400. `deregistrations` (a user removed Pierre's access in Garmin
//! Connect) revoke the connection and delete its tokens at once.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::AppError;
use crate::state::AppState;
use crate::sync::garmin;

/// Largest ping accepted (a ping lists callback URLs, not data).
const MAX_PING_BYTES: usize = 256 * 1024;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/webhooks/garmin")
            .app_data(web::PayloadConfig::new(MAX_PING_BYTES))
            .route(web::post().to(ping)),
    );
}

async fn ping(state: web::Data<AppState>, body: web::Bytes) -> Result<HttpResponse, AppError> {
    let Ok(notification) = garmin::notices(&body) else {
        return Err(AppError::BadRequest(
            "The body is not a Garmin ping (a JSON object with activityFiles).".to_owned(),
        ));
    };
    if notification.files.is_empty() && notification.deregistered.is_empty() {
        return Ok(HttpResponse::Ok().json(json!({ "queued": 0 })));
    }
    let mut tx = state.db.pool().begin().await?;
    let revoked = garmin::deregister(&mut tx, &notification.deregistered).await?;
    let queued = garmin::enqueue_pings(&mut tx, &notification.files).await?;
    tx.commit().await?;
    if queued.queued > 0 {
        state.jobs.notify();
    }
    if queued.unknown > 0 {
        tracing::info!(
            unknown = queued.unknown,
            "Garmin ping for users not connected here; ignored"
        );
    }
    Ok(HttpResponse::Ok().json(json!({
        "queued": queued.queued,
        "duplicates": queued.duplicates,
        "ignored": queued.unknown,
        "revoked": revoked,
    })))
}
