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
use flate2::write::GzEncoder;
use flate2::{Compress, Compression, Crc, FlushCompress, Status};

/// Bodies smaller than this are not worth compressing.
const MIN_BYTES: usize = 512;
/// Bodies larger than this are left alone (they are not pages).
const MAX_BYTES: usize = 2 * 1024 * 1024;
/// Fast level: most of the size win at a fraction of the default level's cost.
const LEVEL: u32 = 3;

fn accepts_gzip(req: &ServiceRequest) -> bool {
    headers_accept_gzip(req.headers())
}

/// Whether request headers accept a gzip body (`gzip` or `*`, not at `q=0`).
#[must_use]
pub fn headers_accept_gzip(headers: &header::HeaderMap) -> bool {
    headers
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

/// A piece of a page compressed once and spliced into many gzip bodies.
///
/// Raw deflate from a fresh compressor ended by a sync flush: it refers to
/// nothing before its own start and ends on a byte boundary without a final
/// block, so it can follow any other such piece in one deflate stream
/// ([`gzip_around`]). Its CRC-32 and length are kept for the gzip trailer.
#[derive(Debug)]
pub struct Deflated {
    deflate: Vec<u8>,
    crc: Crc,
}

impl Deflated {
    /// Compress `raw` at [`LEVEL`].
    #[must_use]
    pub fn new(raw: &[u8]) -> Self {
        let mut crc = Crc::new();
        crc.update(raw);
        Self {
            deflate: deflate(raw, FlushCompress::Sync),
            crc,
        }
    }

    /// The compressed size in bytes.
    #[must_use]
    pub const fn compressed_len(&self) -> usize {
        self.deflate.len()
    }
}

/// Raw deflate of `raw` from a fresh compressor, ended by `flush`
/// (`Sync`: byte-aligned, not final; `Finish`: with the final block).
fn deflate(raw: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut c = Compress::new(Compression::new(LEVEL), false);
    let mut out = Vec::with_capacity(raw.len() / 4 + 64);
    loop {
        if out.len() == out.capacity() {
            out.reserve(out.capacity().max(64));
        }
        let consumed = usize::try_from(c.total_in())
            .unwrap_or(raw.len())
            .min(raw.len());
        // Only out-of-memory or misuse can fail here; both end the loop with what was written.
        let Ok(status) = c.compress_vec(&raw[consumed..], &mut out, flush) else {
            break;
        };
        let all_in = usize::try_from(c.total_in()).is_ok_and(|n| n == raw.len());
        let done = match flush {
            FlushCompress::Finish => status == Status::StreamEnd,
            // A flush is complete when all input is in and the output was not filled.
            _ => all_in && out.len() < out.capacity(),
        };
        if done {
            break;
        }
    }
    out
}

/// One gzip member: `prefix`, the precompressed `middle`, then `suffix`.
///
/// `prefix` and `suffix` are compressed now (they are the small per-request
/// parts of a page); `middle` as it was compressed once. The CRC-32 of the
/// whole is combined from the parts' CRCs, so `middle` is not read again.
#[must_use]
pub fn gzip_around(prefix: &[u8], middle: &Deflated, suffix: &[u8]) -> Vec<u8> {
    let head = deflate(prefix, FlushCompress::Sync);
    let tail = deflate(suffix, FlushCompress::Finish);
    let mut crc = Crc::new();
    crc.update(prefix);
    crc.combine(&middle.crc);
    let mut tail_crc = Crc::new();
    tail_crc.update(suffix);
    crc.combine(&tail_crc);
    let mut out = Vec::with_capacity(18 + head.len() + middle.deflate.len() + tail.len());
    // Header: magic, deflate, no flags, no mtime, no extra flags, unknown OS.
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    out.extend_from_slice(&head);
    out.extend_from_slice(&middle.deflate);
    out.extend_from_slice(&tail);
    out.extend_from_slice(&crc.sum().to_le_bytes());
    // ISIZE: the length modulo 2^32, as the format defines it.
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

/// An HTML response whose body is already gzip (see [`gzip_around`]).
///
/// [`compress`] leaves a body with a `Content-Encoding` alone.
#[must_use]
pub fn gzipped_html(status: actix_web::http::StatusCode, gzip: Vec<u8>) -> actix_web::HttpResponse {
    let mut res = actix_web::HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
        .insert_header((header::VARY, HeaderValue::from_static("Accept-Encoding")))
        .body(gzip);
    res.extensions_mut().insert(crate::error::OwnBody);
    res
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
    use std::fmt::Write as _;
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

    fn gunzip(bytes: &[u8]) -> String {
        let mut out = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn a_precompressed_middle_splices_into_one_valid_gzip_member() {
        let mut middle = String::new();
        for i in 0..20_000 {
            let _ = write!(middle, "<tr><td>{i}</td></tr>");
        }
        let piece = Deflated::new(middle.as_bytes());
        assert!(piece.compressed_len() < middle.len() / 4);
        for (prefix, suffix) in [
            (
                "<!doctype html><p>per request token 1</p>",
                "</main></html>",
            ),
            ("", ""),
            ("", "only after"),
            ("only before", ""),
        ] {
            let body = gzip_around(prefix.as_bytes(), &piece, suffix.as_bytes());
            assert_eq!(gunzip(&body), format!("{prefix}{middle}{suffix}"));
            // Exactly one member: a strict single-member decoder reads it all.
            let mut d = flate2::bufread::GzDecoder::new(body.as_slice());
            std::io::copy(&mut d, &mut std::io::sink()).unwrap();
            assert!(d.into_inner().is_empty(), "bytes after the gzip member");
        }
    }

    #[test]
    fn splicing_an_empty_or_incompressible_middle_still_round_trips() {
        let empty = Deflated::new(b"");
        assert_eq!(gunzip(&gzip_around(b"a", &empty, b"b")), "ab");
        // Pseudo-random bytes as text: stored blocks rather than Huffman ones.
        let mut x: u32 = 12345;
        let noise: String = (0..300_000)
            .map(|_| {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                char::from(b'!' + u8::try_from((x >> 16) % 90).unwrap())
            })
            .collect();
        let piece = Deflated::new(noise.as_bytes());
        assert_eq!(
            gunzip(&gzip_around(b"<", &piece, b">")),
            format!("<{noise}>")
        );
    }
}
