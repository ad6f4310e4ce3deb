//! One application error type and the error pages.
//!
//! Handlers return `Result<_, AppError>`. [`AppError`] maps to a status code;
//! its `Display` is what a person may read. Internal details (`Internal`,
//! database errors) are logged with the request id and never shown.
//!
//! The [`render_error_pages`] middleware turns *every* error response without
//! a body of its own — handler errors, actix's own 404/405/413, extractor
//! failures — into the styled error page (or an htmx fragment when the request
//! carries `HX-Request`), showing the request id. So there is one place that
//! decides what an error looks like.

use std::time::Duration;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpResponse, ResponseError};
use askama::Template as _;

use crate::db::is_connection_error;
use crate::telemetry::RequestId;
use crate::web::layout::{ErrorPage, PageContext};

/// Seconds a client is asked to wait after a 503.
pub const RETRY_AFTER_SECS: u64 = 5;

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The thing asked for does not exist — or belongs to someone else.
    #[error("We could not find that page.")]
    NotFound,
    /// The request was understood but the data in it is not acceptable.
    #[error("{0}")]
    Unprocessable(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Not signed in: go to the sign-in page, then come back to `next`.
    #[error("Please sign in to continue.")]
    SignInRequired { next: Option<String> },
    /// Signed in, but not allowed.
    #[error("You do not have access to this page.")]
    Forbidden,
    /// The body is larger than allowed.
    #[error("That upload is too large.")]
    PayloadTooLarge,
    /// Too many attempts; try again after the given time.
    #[error("Too many attempts. Please wait a moment and try again.")]
    TooManyRequests(Duration),
    /// A dependency (the database) is unavailable; try again shortly.
    #[error("Pierre is briefly unavailable. Please try again in a few seconds.")]
    Unavailable,
    /// Anything unexpected. Logged in full, shown as a generic sentence.
    #[error("Something went wrong on our side.")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    /// Wrap an unexpected error.
    pub fn internal(err: impl Into<anyhow::Error>) -> Self {
        Self::Internal(err.into())
    }
}

impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        if matches!(err, sqlx::Error::RowNotFound) {
            Self::NotFound
        } else if is_connection_error(&err) {
            tracing::warn!(error = %err, "database unavailable");
            Self::Unavailable
        } else {
            Self::Internal(err.into())
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        Self::Internal(err.into())
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Unprocessable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::SignInRequired { .. } => StatusCode::SEE_OTHER,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A bodiless response; [`render_error_pages`] fills in the page.
    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::new(self.status_code());
        match self {
            Self::TooManyRequests(wait) => {
                let secs = wait.as_secs().max(1);
                if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                    res.headers_mut().insert(header::RETRY_AFTER, value);
                }
            }
            Self::Unavailable => {
                res.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECS));
            }
            Self::SignInRequired { next } => {
                let location = next.as_deref().map_or_else(
                    || "/login".to_owned(),
                    |next| {
                        let encoded: String =
                            url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                        format!("/login?next={encoded}")
                    },
                );
                if let Ok(value) = HeaderValue::from_str(&location) {
                    res.headers_mut().insert(header::LOCATION, value.clone());
                    // htmx follows a 303 inside its request; this makes it navigate instead.
                    res.headers_mut()
                        .insert(HeaderName::from_static("hx-redirect"), value);
                }
            }
            _ => {}
        }
        res
    }
}

/// What the error page says for a status, when no more specific message exists.
#[must_use]
pub fn default_message(status: StatusCode) -> (&'static str, &'static str) {
    match status.as_u16() {
        400 => (
            "Bad request",
            "The request could not be understood. Please check what you sent and try again.",
        ),
        403 => (
            "Access denied",
            "You do not have access to this page, or the form expired. Reload the page and try again.",
        ),
        404 => (
            "Page not found",
            "We could not find that page. Check the address, or go back to the start.",
        ),
        405 => (
            "Method not allowed",
            "This address does not accept that kind of request.",
        ),
        413 => (
            "Too large",
            "What you sent is larger than Pierre accepts. Try a smaller file or fewer files at once.",
        ),
        415 => (
            "Unsupported content",
            "Pierre cannot read that kind of content here.",
        ),
        422 => (
            "Check your input",
            "Some of what you entered could not be accepted. Please correct it and try again.",
        ),
        429 => (
            "Slow down",
            "Too many attempts. Please wait a moment and try again.",
        ),
        503 => (
            "Temporarily unavailable",
            "Pierre is briefly unavailable. Please try again in a few seconds.",
        ),
        500..=599 => (
            "Something went wrong",
            "Something went wrong on our side. It has been logged; please try again.",
        ),
        _ => ("Request failed", "The request could not be completed."),
    }
}

/// Marker placed in a response's extensions by handlers that render their own
/// error body (a form re-rendered with 422, a JSON API error): the error-page
/// middleware leaves those alone.
#[derive(Debug, Clone, Copy)]
pub struct OwnBody;

/// Middleware: give every bodiless error response the styled error page.
///
/// # Errors
/// Passes on an error returned by an inner middleware.
pub async fn render_error_pages(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // Route and extractor errors arrive here as responses carrying the error;
    // an `Err` would only come from a failing middleware and is passed on.
    // (The request must not be cloned before routing: actix needs it unshared.)
    let res = next.call(req).await?.map_into_boxed_body();
    let status = res.status();
    let has_own_body = res.response().extensions().get::<OwnBody>().is_some();
    if !(status.is_client_error() || status.is_server_error()) || has_own_body {
        return Ok(res);
    }

    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|id| id.0.clone())
        .unwrap_or_default();
    let app_error = res
        .response()
        .error()
        .and_then(|err| err.as_error::<AppError>());
    if let Some(AppError::Internal(inner)) = app_error {
        tracing::error!(request_id = %request_id, error = ?inner, "internal error");
    }
    let (title, default_text) = default_message(status);
    let message = match app_error {
        Some(AppError::Unprocessable(text) | AppError::BadRequest(text)) => text.clone(),
        _ => default_text.to_owned(),
    };

    let ctx = PageContext::from_request(res.request());
    let is_htmx = res.request().headers().contains_key("hx-request");
    let page = ErrorPage {
        ctx,
        status: status.as_u16(),
        title,
        message,
        request_id,
    };
    let rendered = if is_htmx {
        page.render_fragment()
    } else {
        page.render()
    };
    let (req, mut response) = res.into_parts();
    let body = match rendered {
        Ok(html) => html,
        Err(err) => {
            tracing::error!(error = %err, "could not render the error page");
            format!("{status}")
        }
    };
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let response = response.set_body(body).map_into_boxed_body();
    Ok(ServiceResponse::new(req, response))
}
