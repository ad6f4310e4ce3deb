//! Static assets, embedded in the binary and served under content-hashed URLs.
//!
//! Every file under `static/` is compiled in. At first use each gets a short
//! SHA-256 content hash and, for text types, a gzip copy made once. Templates
//! ask for `url("css/app.css")` and get `/static/<hash>/css/app.css`; such
//! URLs are cached by browsers for a year (`immutable`), and a changed file
//! gets a new URL. In production Nginx serves the same paths from disk (see
//! `nginx/nginx.conf`), ignoring the hash segment.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use flate2::Compression;
use flate2::write::GzEncoder;
use include_dir::{Dir, include_dir};
use sha2::{Digest as _, Sha256};

use crate::error::AppError;

static STATIC_DIR: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/static");

/// One embedded file.
#[derive(Debug)]
pub struct Asset {
    pub hash: String,
    pub content_type: &'static str,
    pub raw: &'static [u8],
    pub gzip: Option<web::Bytes>,
}

static ASSETS: LazyLock<HashMap<String, Asset>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    collect(&STATIC_DIR, &mut map);
    map
});

fn collect(dir: &'static Dir<'static>, map: &mut HashMap<String, Asset>) {
    for file in dir.files() {
        let Some(path) = file.path().to_str() else {
            continue;
        };
        let raw = file.contents();
        let digest = Sha256::digest(raw);
        let hash = digest
            .iter()
            .take(6)
            .fold(String::with_capacity(12), |mut hex, byte| {
                let _ = write!(hex, "{byte:02x}");
                hex
            });
        let content_type = content_type(path);
        let gzip = is_compressible(content_type).then(|| gzip(raw)).flatten();
        map.insert(
            path.to_owned(),
            Asset {
                hash,
                content_type,
                raw,
                gzip,
            },
        );
    }
    for sub in dir.dirs() {
        collect(sub, map);
    }
}

fn gzip(raw: &[u8]) -> Option<web::Bytes> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(raw.len() / 3), Compression::best());
    encoder.write_all(raw).ok()?;
    let compressed = encoder.finish().ok()?;
    (compressed.len() < raw.len()).then(|| web::Bytes::from(compressed))
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "json" | "webmanifest" => "application/json",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn is_compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("image/svg")
        || content_type.starts_with("application/json")
}

/// Look up an embedded asset by its path under `static/`.
#[must_use]
pub fn get(name: &str) -> Option<&'static Asset> {
    ASSETS.get(name)
}

/// The versioned URL of an asset. An unknown name yields an unversioned URL
/// (which will 404), so a typo shows up in tests rather than panicking.
#[must_use]
pub fn url(name: &str) -> String {
    get(name).map_or_else(
        || format!("/static/missing/{name}"),
        |asset| format!("/static/{}/{name}", asset.hash),
    )
}

/// Total bytes of the given assets as sent to a browser accepting gzip.
#[must_use]
pub fn shipped_bytes(names: &[&str]) -> usize {
    names
        .iter()
        .filter_map(|name| get(name))
        .map(|asset| asset.gzip.as_ref().map_or(asset.raw.len(), web::Bytes::len))
        .sum()
}

/// `GET /static/{hash}/{path}`.
///
/// # Errors
/// [`AppError::NotFound`] for an unknown path.
pub async fn serve(
    req: HttpRequest,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let (hash, name) = path.into_inner();
    let asset = get(&name).ok_or(AppError::NotFound)?;
    let cache = if hash == asset.hash {
        "public, max-age=31536000, immutable"
    } else {
        // An old or made-up hash (e.g. during a rolling deploy): serve the
        // current file, but do not let it be cached under the wrong name.
        "no-cache"
    };
    let accepts_gzip = req
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|item| item.trim().starts_with("gzip")));
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::VARY, "Accept-Encoding"));
    match (&asset.gzip, accepts_gzip) {
        (Some(gz), true) => Ok(res
            .insert_header((header::CONTENT_ENCODING, HeaderValue::from_static("gzip")))
            .body(gz.clone())),
        _ => Ok(res
            .insert_header((
                header::CONTENT_ENCODING,
                HeaderValue::from_static("identity"),
            ))
            .body(asset.raw)),
    }
}
