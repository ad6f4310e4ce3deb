//! CORS for the JSON endpoints: same-origin by default; origins listed in
//! `CORS_ALLOWED_ORIGINS` may read them cross-origin. HTML pages and forms
//! never get CORS headers.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::state::AppState;

/// Path prefixes that answer JSON.
pub const JSON_PREFIXES: &[&str] = &["/health/", "/api/"];

/// Middleware: answer preflights and add `Access-Control-Allow-Origin` for
/// allowed origins on JSON endpoints.
///
/// # Errors
/// Inner errors pass through.
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let is_json = JSON_PREFIXES
        .iter()
        .any(|prefix| req.path().starts_with(prefix));
    let origin = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = match (&origin, is_json) {
        (Some(origin), true) => req.app_data::<web::Data<AppState>>().is_some_and(|state| {
            state
                .settings
                .cors_allowed_origins
                .iter()
                .any(|o| o == origin)
        }),
        _ => false,
    };
    let is_preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    if is_json && is_preflight {
        let mut res = HttpResponse::build(if allowed {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::FORBIDDEN
        });
        res.insert_header((header::VARY, "Origin"));
        if let (true, Some(origin)) = (allowed, &origin) {
            res.insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.as_str()))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"));
        }
        let mut res = res.finish();
        res.extensions_mut().insert(crate::error::OwnBody);
        return Ok(req.into_response(res));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    if is_json {
        res.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Origin"));
        if let (true, Some(origin)) = (allowed, origin)
            && let Ok(value) = HeaderValue::from_str(&origin)
        {
            res.headers_mut()
                .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        }
    }
    Ok(res)
}
