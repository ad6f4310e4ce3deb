//! Activity files in, [`ParsedActivity`] out: FIT, GPX and TCX, optionally gzipped.
//! Pure: bytes in, no I/O, no database.
//!
//! [`parse`] detects the format **by content** — the FIT header's `.FIT` signature, the
//! XML root element `gpx` or `TrainingCenterDatabase` (with or without declaration, a
//! UTF-8 BOM tolerated), gzip's magic bytes — and uses the file name only to word the
//! error when the content is none of these. Every failure is an [`ImportError`] whose
//! text a user can act on; no input makes the parsers panic (see `fuzz/` and the property
//! tests in `tests/import/`).
//!
//! Conventions of the result (units, time base, gaps, pauses): [`crate::domain::streams`].
//! Export back to GPX/TCX: [`export`].

pub mod error;
pub mod export;
pub mod fit;
pub mod gpx;
pub mod segments;
pub mod tcx;
pub mod xml;

use std::io::Read;

pub use error::ImportError;

use crate::domain::{FileFormat, ParsedActivity};

/// Largest decompressed size accepted from a `.gz` upload, bytes (200 MB).
pub const MAX_DECOMPRESSED_BYTES: u64 = 200 * 1024 * 1024;

/// Parses an activity file, with the default decompression limit
/// ([`MAX_DECOMPRESSED_BYTES`]).
///
/// # Errors
/// See [`ImportError`]: each variant says what is wrong in words for the user.
pub fn parse(file_name: &str, bytes: &[u8]) -> Result<ParsedActivity, ImportError> {
    parse_with_limit(file_name, bytes, MAX_DECOMPRESSED_BYTES)
}

/// Parses an activity file; a gzip file may decompress to at most `max_decompressed` bytes.
///
/// # Errors
/// See [`ImportError`].
pub fn parse_with_limit(
    file_name: &str,
    bytes: &[u8],
    max_decompressed: u64,
) -> Result<ParsedActivity, ImportError> {
    if bytes.starts_with(&[0x1F, 0x8B]) {
        let inner = gunzip(bytes, max_decompressed)?;
        if inner.starts_with(&[0x1F, 0x8B]) {
            return Err(ImportError::UnsupportedFormat(
                "the file is compressed twice; decompress it once and upload the result".to_owned(),
            ));
        }
        let name = file_name
            .strip_suffix(".gz")
            .or_else(|| file_name.strip_suffix(".GZ"))
            .unwrap_or(file_name);
        return parse_plain(name, &inner);
    }
    parse_plain(file_name, bytes)
}

/// The format of `bytes` by content, or `None` (gzip is not looked into).
#[must_use]
pub fn detect(bytes: &[u8]) -> Option<FileFormat> {
    if fit::looks_like_fit(bytes) {
        return Some(FileFormat::Fit);
    }
    match xml::root_element(bytes)?.as_str() {
        "gpx" => Some(FileFormat::Gpx),
        "trainingcenterdatabase" => Some(FileFormat::Tcx),
        _ => None,
    }
}

fn parse_plain(file_name: &str, bytes: &[u8]) -> Result<ParsedActivity, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    match detect(bytes) {
        Some(FileFormat::Fit) => fit::parse(bytes),
        Some(FileFormat::Gpx) => gpx::parse(bytes),
        Some(FileFormat::Tcx) => tcx::parse(bytes),
        None => Err(unsupported(file_name, bytes)),
    }
}

fn unsupported(file_name: &str, bytes: &[u8]) -> ImportError {
    let ext = file_name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    let claimed = match ext.as_str() {
        "fit" => Some("FIT"),
        "gpx" => Some("GPX"),
        "tcx" => Some("TCX"),
        _ => None,
    };
    let what = if bytes.len() >= 12 && bytes[0] >= 12 && bytes.get(8..11) == Some(b".FI") {
        "a damaged FIT file"
    } else if xml::root_element(bytes).is_some() {
        "an XML document of another kind"
    } else {
        "not a FIT, GPX or TCX file"
    };
    let msg = match claimed {
        Some(f) if what.starts_with("not") => {
            format!("the name ends in .{ext} but the content is not a {f} file")
        }
        Some(f) => format!("the name ends in .{ext} but the content is {what}, not a {f} file"),
        None if what.starts_with("not") => {
            format!("{what} (supported: .fit, .gpx, .tcx, optionally .gz)")
        }
        None => format!("{what}, not a FIT, GPX or TCX file"),
    };
    ImportError::UnsupportedFormat(msg)
}

fn gunzip(bytes: &[u8], limit: u64) -> Result<Vec<u8>, ImportError> {
    let mut out = Vec::new();
    let mut decoder = flate2::read::MultiGzDecoder::new(bytes).take(limit.saturating_add(1));
    decoder
        .read_to_end(&mut out)
        .map_err(|e| ImportError::BadGzip(e.to_string()))?;
    if out.len() as u64 > limit {
        return Err(ImportError::TooLarge {
            limit_mb: limit / (1024 * 1024),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn empty_and_unknown_files_say_so() {
        assert_eq!(parse("a.fit", b"").unwrap_err(), ImportError::Empty);
        assert_eq!(parse("a.gpx", b"  \n").unwrap_err(), ImportError::Empty);
        let e = parse("a.fit", b"hello world").unwrap_err().to_string();
        assert_eq!(e, "the name ends in .fit but the content is not a FIT file");
        let e = parse("a.txt", b"hello world").unwrap_err().to_string();
        assert!(e.contains("not a FIT, GPX or TCX file"), "{e}");
        let e = parse("a.gpx", b"<html><body/></html>")
            .unwrap_err()
            .to_string();
        assert!(e.contains("XML document of another kind"), "{e}");
    }

    #[test]
    fn gzip_is_decompressed_within_the_limit() {
        let gpx = br#"<gpx><trk><trkseg><trkpt lat="1" lon="2"><time>2020-01-01T00:00:00Z</time></trkpt><trkpt lat="1" lon="2.001"><time>2020-01-01T00:00:01Z</time></trkpt></trkseg></trk></gpx>"#;
        let a = parse("x.gpx.gz", &gz(gpx)).unwrap();
        assert_eq!(a.streams.len(), 2);
        let big = gz(&vec![b' '; 3 * 1024 * 1024]);
        assert_eq!(
            parse_with_limit("x.gz", &big, 1024 * 1024).unwrap_err(),
            ImportError::TooLarge { limit_mb: 1 }
        );
        assert!(matches!(
            parse("x.gz", &[0x1F, 0x8B, 8, 0, 1, 2]).unwrap_err(),
            ImportError::BadGzip(_)
        ));
    }
}
