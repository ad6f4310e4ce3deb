//! The XML walk shared by the GPX and TCX parsers, on `quick-xml`.
//!
//! - Elements are matched by **local name** (the namespace prefix is ignored:
//!   `gpxtpx:hr`, `ns3:hr` and `hr` are the same).
//! - Entities: only the five predefined ones and character references are resolved;
//!   `quick-xml` never expands DTD entities, so "billion laughs" documents cost nothing
//!   (unknown references are dropped).
//! - Limits: nesting deeper than [`MAX_DEPTH`] is refused, captured text is cut at
//!   [`MAX_TEXT`] bytes; the walk is linear in the input.
//! - Non-UTF-8 text is read lossily (a Latin-1 track name must not fail an import).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::error::ImportError;

/// Deepest element nesting accepted.
pub const MAX_DEPTH: usize = 256;
/// Longest text kept from one element, bytes.
pub const MAX_TEXT: usize = 4096;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// What the walk reports.
#[derive(Debug)]
pub enum Node<'a> {
    /// An element opens (empty elements report `Start` then `End`). Its local name is
    /// [`Walker::name`] at depth [`Walker::depth`].
    Start(BytesStart<'a>),
    /// An element closes; the stack still holds it while this is handled.
    End,
    /// Text or CDATA directly inside the current element.
    Text(Cow<'a, str>),
}

/// A streaming walk over an XML document with a stack of local names.
#[derive(Debug)]
pub struct Walker<'a> {
    reader: Reader<&'a [u8]>,
    format: &'static str,
    base: u64,
    len: u64,
    names: Vec<u8>,
    ends: Vec<usize>,
    pending_end: bool,
}

impl<'a> Walker<'a> {
    /// Starts a walk; `format` names the file type in error messages.
    #[must_use]
    pub fn new(bytes: &'a [u8], format: &'static str) -> Self {
        let (body, base) = bytes.strip_prefix(BOM).map_or((bytes, 0), |b| (b, 3));
        let mut reader = Reader::from_reader(body);
        let config = reader.config_mut();
        config.expand_empty_elements = true;
        config.check_end_names = true;
        config.trim_text(false);
        Self {
            reader,
            format,
            base,
            len: bytes.len() as u64,
            names: Vec::with_capacity(256),
            ends: Vec::with_capacity(32),
            pending_end: false,
        }
    }

    /// Current depth: 1 inside the root element.
    #[must_use]
    pub const fn depth(&self) -> usize {
        self.ends.len()
    }

    /// Local name of the element at `depth` (1 = root), if that deep.
    #[must_use]
    pub fn name_at(&self, depth: usize) -> Option<&[u8]> {
        let end = *self.ends.get(depth.checked_sub(1)?)?;
        let start = if depth >= 2 { self.ends[depth - 2] } else { 0 };
        self.names.get(start..end)
    }

    /// Local name of the current element.
    #[must_use]
    pub fn name(&self) -> &[u8] {
        self.name_at(self.depth()).unwrap_or_default()
    }

    /// Local name of the current element's parent (`up` = 1), grandparent (2), ….
    #[must_use]
    pub fn ancestor(&self, up: usize) -> &[u8] {
        self.depth()
            .checked_sub(up)
            .and_then(|d| self.name_at(d))
            .unwrap_or_default()
    }

    /// The byte offset the reader has reached (for messages).
    #[must_use]
    pub const fn position(&self) -> u64 {
        self.base + self.reader.buffer_position()
    }

    fn malformed(&self, offset: u64, reason: impl Into<String>) -> ImportError {
        ImportError::MalformedXml {
            format: self.format,
            offset,
            reason: reason.into(),
        }
    }

    /// The next node, `None` at a well-formed end of the document.
    ///
    /// # Errors
    /// Malformed XML, excessive nesting, or a document that stops with open elements.
    pub fn next_node(&mut self) -> Result<Option<Node<'a>>, ImportError> {
        if self.pending_end {
            self.pending_end = false;
            self.ends.pop();
            self.names.truncate(self.ends.last().copied().unwrap_or(0));
        }
        loop {
            let event = match self.reader.read_event() {
                Ok(e) => e,
                Err(e) => {
                    let at = self.base + self.reader.error_position();
                    if matches!(e, quick_xml::Error::Syntax(_)) && self.position() >= self.len {
                        return Err(ImportError::Truncated {
                            format: self.format,
                            offset: self.len,
                        });
                    }
                    return Err(self.malformed(at, e.to_string()));
                }
            };
            match event {
                Event::Start(e) => {
                    if self.ends.len() >= MAX_DEPTH {
                        return Err(self.malformed(
                            self.position(),
                            format!("elements nested more than {MAX_DEPTH} deep"),
                        ));
                    }
                    self.names.extend_from_slice(e.local_name().as_ref());
                    self.ends.push(self.names.len());
                    return Ok(Some(Node::Start(e)));
                }
                Event::End(_) => {
                    self.pending_end = true;
                    return Ok(Some(Node::End));
                }
                Event::Text(t) if !self.ends.is_empty() => {
                    return Ok(Some(Node::Text(lossy(t.into_inner()))));
                }
                Event::CData(t) if !self.ends.is_empty() => {
                    return Ok(Some(Node::Text(lossy(t.into_inner()))));
                }
                Event::GeneralRef(r) if !self.ends.is_empty() => {
                    let name: &[u8] = &r;
                    let resolved = match name {
                        b"amp" => Some('&'),
                        b"lt" => Some('<'),
                        b"gt" => Some('>'),
                        b"quot" => Some('"'),
                        b"apos" => Some('\''),
                        _ => r.resolve_char_ref().ok().flatten(),
                    };
                    if let Some(c) = resolved {
                        return Ok(Some(Node::Text(Cow::Owned(c.to_string()))));
                    }
                }
                Event::Eof => {
                    if self.ends.is_empty() {
                        return Ok(None);
                    }
                    return Err(ImportError::Truncated {
                        format: self.format,
                        offset: self.len,
                    });
                }
                _ => {}
            }
        }
    }
}

fn lossy(bytes: Cow<'_, [u8]>) -> Cow<'_, str> {
    match bytes {
        Cow::Borrowed(b) => String::from_utf8_lossy(b),
        Cow::Owned(b) => Cow::Owned(String::from_utf8_lossy(&b).into_owned()),
    }
}

/// Text accumulated for one element, bounded by [`MAX_TEXT`].
#[derive(Debug, Default)]
pub struct TextBuf {
    text: String,
    depth: usize,
    active: bool,
}

impl TextBuf {
    /// Starts capturing text directly inside the element at `depth`.
    pub fn start(&mut self, depth: usize) {
        self.text.clear();
        self.depth = depth;
        self.active = true;
    }

    /// Adds text seen at `depth` (ignored unless capturing at that depth).
    pub fn push(&mut self, depth: usize, s: &str) {
        if self.active && depth == self.depth && self.text.len() < MAX_TEXT {
            let room = MAX_TEXT - self.text.len();
            let mut cut = s.len().min(room);
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.text.push_str(&s[..cut]);
        }
    }

    /// Ends the capture if it belongs to `depth`, returning the trimmed text.
    pub fn take(&mut self, depth: usize) -> Option<&str> {
        if self.active && depth == self.depth {
            self.active = false;
            Some(self.text.trim())
        } else {
            None
        }
    }
}

/// The local name of the root element, lowercased, if the bytes look like XML
/// (after an optional BOM, whitespace, declaration, comments and DOCTYPE).
#[must_use]
pub fn root_element(bytes: &[u8]) -> Option<String> {
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let first = body.iter().find(|b| !b.is_ascii_whitespace())?;
    if *first != b'<' {
        return None;
    }
    let mut reader = Reader::from_reader(body);
    for _ in 0..10_000 {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                return Some(String::from_utf8_lossy(e.local_name().as_ref()).to_ascii_lowercase());
            }
            Ok(Event::Eof) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    None
}

/// The value of the attribute with this local name, lossily decoded.
#[must_use]
pub fn attribute(e: &BytesStart<'_>, local: &[u8]) -> Option<String> {
    e.attributes()
        .with_checks(false)
        .filter_map(Result::ok)
        .find(|a| a.key.local_name().as_ref() == local)
        .map(|a| String::from_utf8_lossy(&a.value).trim().to_owned())
}

/// A finite number, or `None`.
#[must_use]
pub fn number(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// An ISO 8601 / RFC 3339 timestamp; without a zone it is taken as UTC.
#[must_use]
pub fn time(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.fZ",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .map(|n| n.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_found_after_bom_declaration_and_comments() {
        let doc = b"\xEF\xBB\xBF  <?xml version=\"1.0\"?><!-- hi --><!DOCTYPE x><ns:gpx a='1'/>";
        assert_eq!(root_element(doc).as_deref(), Some("gpx"));
        assert_eq!(root_element(b"hello"), None);
    }

    #[test]
    fn times_with_and_without_zone() {
        assert_eq!(
            time("2013-07-06T17:26:26Z").unwrap().to_rfc3339(),
            "2013-07-06T17:26:26+00:00"
        );
        assert_eq!(
            time("2013-07-06T19:26:26.500+02:00")
                .unwrap()
                .timestamp_millis()
                % 1000,
            500
        );
        assert!(time("2013-07-06T17:26:26").is_some());
        assert!(time("yesterday").is_none());
    }

    #[test]
    fn numbers_must_be_finite() {
        assert_eq!(number(" 12.5 "), Some(12.5));
        assert_eq!(number("NaN"), None);
        assert_eq!(number("inf"), None);
    }
}
