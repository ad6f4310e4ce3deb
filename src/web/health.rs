//! `/health/live` and `/health/ready`, JSON, on the public port.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::db::{ReadinessError, check_ready};
use crate::error::{OwnBody, RETRY_AFTER_SECS};
use crate::state::AppState;

/// Routes of this module.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health/live").route(web::get().to(live)))
        .service(web::resource("/health/ready").route(web::get().to(ready)));
}

/// The process is up and answering.
async fn live() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "status": "live" }))
}

/// The instance can serve traffic: database reachable, migrations applied.
async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match check_ready(&state.db).await {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(json!({ "status": "ready", "database": "ok", "migrations": "applied" })),
        Err(err) => {
            let (database, migrations) = match err {
                ReadinessError::Unreachable => ("unreachable", "unknown"),
                ReadinessError::MigrationsPending => ("ok", "pending"),
            };
            let mut res = HttpResponse::ServiceUnavailable()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::RETRY_AFTER, RETRY_AFTER_SECS))
                .json(json!({
                    "status": "unavailable",
                    "database": database,
                    "migrations": migrations,
                    "reason": err.to_string(),
                }));
            res.extensions_mut().insert(OwnBody);
            res
        }
    }
}
