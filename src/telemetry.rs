//! Logging and request ids.
//!
//! * [`init_tracing`] installs the subscriber: JSON lines in production,
//!   readable lines in development, filtered by `RUST_LOG`.
//! * [`request_id`] is the outermost middleware: it accepts a sane incoming
//!   `X-Request-Id` or makes one, stores it in the request extensions and echoes
//!   it on the response. Error pages show it so a person can quote it.
//! * [`PierreRootSpan`] makes every request's root span carry that id.

use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::config::Environment;

/// Header carrying the request id, in and out.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one request, as stored in the request extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// Accept a client-supplied id only if it is short and made of safe characters,
    /// so it can go into logs and pages without escaping surprises.
    #[must_use]
    pub fn from_incoming(value: &str) -> Option<Self> {
        let ok = (8..=64).contains(&value.len())
            && value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        ok.then(|| Self(value.to_owned()))
    }

    /// A new random id.
    #[must_use]
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Install the global tracing subscriber. Safe to call more than once (tests):
/// later calls are ignored.
pub fn init_tracing(environment: Environment, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    let result = if environment.is_production() {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_target(false),
            )
            .try_init()
    };
    // A second initialisation (several apps in one test process) is expected and harmless.
    drop(result);
}

/// Middleware: attach a [`RequestId`] to the request and echo it on the response.
///
/// # Errors
/// Passes through the inner service's error unchanged.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
        .and_then(RequestId::from_incoming)
        .unwrap_or_else(RequestId::generate);
    req.extensions_mut().insert(id.clone());
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    Ok(res)
}

/// Root span for every request: method, route pattern, path, client and request id.
#[derive(Debug)]
pub struct PierreRootSpan;

impl RootSpanBuilder for PierreRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default();
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        let peer = request
            .peer_addr()
            .map(|addr| addr.ip().to_string())
            .unwrap_or_default();
        // Secret-bearing paths (coach invitation links) are logged by pattern only.
        let path = if request.path().starts_with("/invitations/") {
            route.as_str()
        } else {
            request.path()
        };
        tracing::info_span!(
            "http_request",
            request_id = %request_id,
            method = %request.method(),
            route = %route,
            path = %path,
            peer = %peer,
            status = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let status = match outcome {
            Ok(res) => res.status(),
            Err(err) => err.as_response_error().status_code(),
        };
        span.record("status", status.as_u16());
        if status.is_server_error() {
            span.in_scope(|| tracing::error!(status = status.as_u16(), "request failed"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_request_ids_are_accepted_only_when_sane() {
        assert!(RequestId::from_incoming("abc-123_DEF.456").is_some());
        assert!(RequestId::from_incoming(&"a".repeat(64)).is_some());
        assert!(RequestId::from_incoming("short").is_none());
        assert!(RequestId::from_incoming(&"a".repeat(65)).is_none());
        assert!(RequestId::from_incoming("has space in it").is_none());
        assert!(RequestId::from_incoming("<script>alert(1)</script>").is_none());
        assert!(RequestId::from_incoming("line\nbreak-injected").is_none());
    }

    #[test]
    fn generated_ids_are_unique_and_sane() {
        let a = RequestId::generate();
        let b = RequestId::generate();
        assert_ne!(a, b);
        assert!(RequestId::from_incoming(a.as_str()).is_some());
    }
}
