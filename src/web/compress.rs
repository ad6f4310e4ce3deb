//! Gzip for HTML and JSON responses, done inline.
//!
//! actix-web's `Compress` middleware hands every body over 1 KB to
//! `spawn_blocking`, which on this stack cut the landing page from ~55,000 to
//! ~2,500 req/s with p50 rising from 1 ms to 43 ms (measured with wrk and
//! `Accept-Encoding: gzip`, see docs/PERFORMANCE.md). Pages are rendered into
//! memory anyway and are small, so compressing them on the worker at a fast
//! level costs a few tens of microseconds and no thread hop. Static files come
//! precompressed (`web::assets`) and are left alone.

use std::io::Write as _;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use flate2::Compression;
use flate2::write::GzEncoder;

/// Bodies smaller than this are not worth compressing.
const MIN_BYTES: usize = 512;
/// Bodies larger than this are left alone (they are not pages).
const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Fast level: most of the size win at a fraction of the default level's cost.
const LEVEL: u32 = 3;

fn accepts_gzip(req: &ServiceRequest) -> bool {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|value| {
            value.split(',').any(|item| {
                let mut parts = item.trim().split(';');
                let coding = parts.next().unwrap_or_default().trim();
                let refused = parts.any(|p| p.trim().replace(' ', "") == "q=0");
                (coding == "gzip" || coding == "*") && !refused
            })
        })
}

fn is_compressible(content_type: Option<&HeaderValue>) -> bool {
    content_type
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.starts_with("text/html")
                || ct.starts_with("application/json")
                || ct.starts_with("text/plain")
        })
}

/// Compress `bytes` with gzip at [`LEVEL`].
#[must_use]
pub fn gzip(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 3 + 64),
        Compression::new(LEVEL),
    );
    encoder.write_all(bytes).ok()?;
    encoder.finish().ok()
}

/// Middleware: gzip HTML and JSON bodies for clients that accept it.
///
/// # Errors
/// Inner errors pass through.
pub async fn compress(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let wants_gzip = accepts_gzip(&req);
    let res = next.call(req).await?.map_into_boxed_body();
    let compressible = is_compressible(res.headers().get(header::CONTENT_TYPE))
        && !res.headers().contains_key(header::CONTENT_ENCODING);
    if !compressible {
        return Ok(res);
    }
    let (req, mut response) = res.into_parts();
    response
        .headers_mut()
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if !wants_gzip {
        return Ok(ServiceResponse::new(req, response));
    }
    let (response, body) = response.into_parts();
    let bytes = match body.try_into_bytes() {
        Ok(bytes) => bytes,
        // A streaming body: leave it as it is.
        Err(body) => return Ok(ServiceResponse::new(req, response.set_body(body))),
    };
    if !(MIN_BYTES..=MAX_BYTES).contains(&bytes.len()) {
        return Ok(ServiceResponse::new(
            req,
            response.set_body(BoxBody::new(bytes)),
        ));
    }
    let Some(compressed) = gzip(&bytes) else {
        return Ok(ServiceResponse::new(
            req,
            response.set_body(BoxBody::new(bytes)),
        ));
    };
    let mut response = response.set_body(BoxBody::new(Bytes::from(compressed)));
    response
        .headers_mut()
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    response.headers_mut().remove(header::CONTENT_LENGTH);
    Ok(ServiceResponse::new(req, response))
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn gzip_round_trips() {
        let text = "<p>Pierre</p>".repeat(200);
        let compressed = gzip(text.as_bytes()).unwrap();
        assert!(compressed.len() < text.len() / 4);
        let mut out = String::new();
        flate2::read::GzDecoder::new(compressed.as_slice())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text);
    }
}
