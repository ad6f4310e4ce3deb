//! Cross-site request forgery defence: one mechanism for every unsafe request.
//!
//! * Every browser gets a random CSRF seed in an `HttpOnly` cookie
//!   (`__Host-pierre_csrf`; `pierre_csrf` on plain-HTTP development).
//! * The token a page carries (form field `csrf_token`, `<meta name="csrf-token">`
//!   for htmx's `X-CSRF-Token` header) is HMAC-SHA256(secret key, seed): a page
//!   from another browser — another session — carries a token that does not
//!   match this browser's seed.
//! * The seed is replaced at sign-in and sign-out, so tokens do not survive a
//!   change of identity.
//! * Unsafe methods (POST, PUT, PATCH, DELETE) also need a same-origin
//!   `Origin` (or, without one, `Sec-Fetch-Site: same-origin`).
//!
//! Anonymous pages therefore need no database row for CSRF (sign-in and
//! sign-up forms stay cheap and work while the database is down).

use actix_web::body::{BoxBody, MessageBody};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{Method, header};
use actix_web::middleware::Next;
use actix_web::{HttpMessage as _, HttpRequest, web};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::StreamExt as _;
use hmac::{Hmac, Mac as _};
use rand::RngCore as _;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::config::Settings;
use crate::error::AppError;

/// Form field carrying the token.
pub const FIELD: &str = "csrf_token";
/// Header carrying the token (htmx).
pub const HEADER: &str = "x-csrf-token";

/// The token for this request's pages, in the request extensions.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

/// The anti-forgery token for pages rendered for this request (empty if the
/// middleware did not run, which only happens outside the app).
#[must_use]
pub fn token_of(req: &HttpRequest) -> String {
    req.extensions()
        .get::<CsrfToken>()
        .map(|t| t.0.clone())
        .unwrap_or_default()
}

/// A new seed to send with this response (first visit, or rotation).
#[derive(Debug, Clone)]
struct NewSeed(String);

/// Paths that receive unsafe requests from other servers, authenticated by
/// their own means (provider webhooks).
const EXEMPT_PREFIXES: &[&str] = &["/webhooks/"];

/// The cookie name: `__Host-` needs `Secure`, which plain-HTTP development cannot send.
#[must_use]
pub const fn cookie_name(https: bool) -> &'static str {
    if https {
        "__Host-pierre_csrf"
    } else {
        "pierre_csrf"
    }
}

fn random_seed() -> String {
    let mut bytes = [0_u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The token that goes with a seed.
#[must_use]
pub fn token_for(secret: &[u8], seed: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(b"pierre-csrf-v1:");
    mac.update(seed.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

fn seed_cookie(https: bool, seed: String) -> Cookie<'static> {
    Cookie::build(cookie_name(https), seed)
        .path("/")
        .http_only(true)
        .secure(https)
        .same_site(SameSite::Strict)
        .finish()
}

/// Replace this browser's seed (sign-in, sign-out): the response sets the new
/// cookie and pages rendered for this request use the new token.
pub fn rotate(req: &HttpRequest, settings: &Settings) {
    let seed = random_seed();
    let token = token_for(settings.secret_key.expose(), &seed);
    req.extensions_mut().insert(CsrfToken(token));
    req.extensions_mut().insert(NewSeed(seed));
}

const fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// Whether the request's `Origin` / `Sec-Fetch-Site` say it comes from this site.
fn same_origin(req: &ServiceRequest, settings: &Settings) -> bool {
    if let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        if origin == settings.public_origin() {
            return true;
        }
        // The origin a browser sends names the site it is on; compare its
        // authority with the Host the request was sent to.
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        return url::Url::parse(origin).ok().is_some_and(|url| {
            let authority = match (url.host_str(), url.port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => return false,
            };
            host == Some(authority.as_str())
        });
    }
    // Neither header (old browser, script): the token alone decides.
    req.headers()
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|site| site == "same-origin")
}

/// Middleware: give every page a token, and refuse unsafe requests without a
/// valid one (403).
///
/// # Errors
/// Inner errors pass through; a failed check is answered with a 403 page.
pub async fn protect(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let Some(settings) = req
        .app_data::<web::Data<crate::state::AppState>>()
        .map(|s| std::sync::Arc::clone(&s.settings))
    else {
        return Ok(next.call(req).await?.map_into_boxed_body());
    };
    let https = settings.is_https();
    let secret = settings.secret_key.expose();
    let path = req.path().to_owned();
    let cookie_seed = req
        .cookie(cookie_name(https))
        .map(|c| c.value().to_owned())
        .filter(|seed| seed.len() >= 32 && seed.len() <= 64);
    let (seed, is_new) = cookie_seed.map_or_else(|| (random_seed(), true), |seed| (seed, false));
    let expected = token_for(secret, &seed);

    if is_unsafe(req.method())
        && !EXEMPT_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
    {
        if !same_origin(&req, &settings) {
            tracing::warn!(path = %path, "cross-origin unsafe request refused");
            return Ok(refuse(req, AppError::Forbidden));
        }
        let from_header = req
            .headers()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        // Multipart uploads without JavaScript carry the token in the form's
        // action URL (the body is a stream the middleware must not buffer).
        let from_query = || {
            let is_multipart = req
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|ct| ct.starts_with("multipart/form-data"));
            is_multipart
                .then(|| {
                    url::form_urlencoded::parse(req.query_string().as_bytes())
                        .find(|(key, _)| key == FIELD)
                        .map(|(_, value)| value.into_owned())
                })
                .flatten()
        };
        let submitted = match from_header.or_else(from_query) {
            Some(token) => Some(token),
            None => match form_field(&mut req, settings.max_body_bytes).await {
                Ok(token) => token,
                Err(err) => return Ok(refuse(req, err)),
            },
        };
        let valid = !is_new
            && submitted
                .is_some_and(|token| bool::from(token.as_bytes().ct_eq(expected.as_bytes())));
        if !valid {
            tracing::warn!(path = %path, "missing or invalid CSRF token");
            return Ok(refuse(req, AppError::Forbidden));
        }
    }

    req.extensions_mut().insert(CsrfToken(expected));
    if is_new {
        req.extensions_mut().insert(NewSeed(seed));
    }
    let mut res = next.call(req).await?.map_into_boxed_body();
    let new_seed = res.request().extensions().get::<NewSeed>().cloned();
    let skip_cookie = path.starts_with("/static/") || path.starts_with("/health/");
    if let Some(NewSeed(seed)) = new_seed.filter(|_| !skip_cookie) {
        res.response_mut().add_cookie(&seed_cookie(https, seed))?;
    }
    Ok(res)
}

/// Read `csrf_token` from an urlencoded body, then put the body back for the
/// handler. Other content types must send the header.
/// Answer with an error (rendered as a page by the error middleware).
fn refuse(req: ServiceRequest, err: AppError) -> ServiceResponse<BoxBody> {
    let res = actix_web::HttpResponse::from_error(err);
    req.into_response(res)
}

async fn form_field(req: &mut ServiceRequest, limit: usize) -> Result<Option<String>, AppError> {
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok(None);
    }
    let mut payload = req.take_payload();
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| AppError::BadRequest("The request body could not be read.".to_owned()))?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    let body = body.freeze();
    let token = url::form_urlencoded::parse(&body)
        .find(|(key, _)| key == FIELD)
        .map(|(_, value)| value.into_owned());
    req.set_payload(actix_web::dev::Payload::from(body));
    Ok(token)
}
