//! Garbage, truncation, bit flips and hostile XML: never a panic, always `Ok` or a
//! specific error, in bounded time.

use pierre::import::{self, ImportError};
use std::fmt::Write as _;

use proptest::prelude::*;

use crate::support::{all_fixtures, fixture};

fn no_panic(name: &str, bytes: &[u8]) -> Result<(), ImportError> {
    import::parse(name, bytes).map(|_| ())
}

#[test]
fn every_prefix_of_every_real_file_is_handled() {
    for f in all_fixtures() {
        let bytes = fixture(&f);
        // Every cut point of small files, about 400 spread over large ones.
        let step = (bytes.len() / 400).max(1);
        for cut in (0..bytes.len()).step_by(step) {
            let r = no_panic(&f, &bytes[..cut]);
            if f.ends_with(".fit") && cut > 0 && cut < bytes.len() {
                assert!(r.is_err(), "{f} cut at {cut} imported");
                if cut >= 14 {
                    assert!(
                        matches!(
                            r,
                            Err(ImportError::Truncated { .. } | ImportError::BadHeader { .. })
                        ),
                        "{f} cut at {cut}: {r:?}"
                    );
                }
            }
        }
    }
}

#[test]
fn truncated_xml_says_it_ends_unexpectedly() {
    let bytes = fixture("tcx/test.tcx");
    let e = import::parse("a.tcx", &bytes[..bytes.len() / 2]).unwrap_err();
    assert!(
        matches!(
            e,
            ImportError::Truncated { format: "TCX", .. } | ImportError::MalformedXml { .. }
        ),
        "{e}"
    );
}

#[test]
fn billion_laughs_entities_are_not_expanded() {
    let mut doc = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE gpx [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        let _ = writeln!(
            doc,
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        );
    }
    doc.push_str("]>\n<gpx><trk><name>&lol9;</name><trkseg>");
    doc.push_str("<trkpt lat=\"1\" lon=\"1\"><time>2020-01-01T00:00:00Z</time></trkpt>");
    doc.push_str("<trkpt lat=\"1\" lon=\"1.0001\"><time>2020-01-01T00:00:01Z</time></trkpt>");
    doc.push_str("</trkseg></trk></gpx>");
    let started = std::time::Instant::now();
    let a = import::parse("laughs.gpx", doc.as_bytes()).unwrap();
    // The unknown entity is dropped, not expanded to 10^9 "lol"s.
    assert_eq!(a.name, None);
    assert!(started.elapsed().as_secs() < 5);
}

#[test]
fn deep_nesting_is_refused() {
    let mut doc = String::from("<gpx>");
    for _ in 0..10_000 {
        doc.push_str("<a>");
    }
    for _ in 0..10_000 {
        doc.push_str("</a>");
    }
    doc.push_str("</gpx>");
    let e = import::parse("deep.gpx", doc.as_bytes()).unwrap_err();
    assert!(e.to_string().contains("nested more than"), "{e}");
}

#[test]
fn huge_attribute_and_text_values_are_bounded() {
    let big = "9".repeat(20 * 1024 * 1024);
    let doc = format!(
        "<gpx><trk><name>{big}</name><trkseg><trkpt lat=\"{big}\" lon=\"1\"><time>2020-01-01T00:00:00Z</time></trkpt><trkpt lat=\"1\" lon=\"1\"><time>2020-01-01T00:00:05Z</time></trkpt></trkseg></trk></gpx>"
    );
    let a = import::parse("big.gpx", doc.as_bytes()).unwrap();
    assert_eq!(
        a.name.as_ref().map(String::len),
        Some(pierre::import::xml::MAX_TEXT)
    );
    assert!(
        a.streams.lat.as_ref().unwrap()[0].is_nan(),
        "an impossible latitude is a gap"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = no_panic("x.fit", &bytes);
    }

    #[test]
    fn random_bytes_after_a_fit_header_never_panic(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let mut bytes = vec![14u8, 0x20, 0x08, 0x08];
        bytes.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(b".FIT\0\0");
        bytes.extend_from_slice(&body);
        let crc = pierre::import::fit::crc16(0, &bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        // The CRC is right, so the record decoder itself sees the garbage.
        let _ = no_panic("x.fit", &bytes);
    }

    #[test]
    fn byte_flips_in_real_files_never_panic(
        file in 0usize..15,
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
    ) {
        let files = all_fixtures();
        let name = &files[file % files.len()];
        let mut bytes = fixture(name);
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        let _ = no_panic(name, &bytes);
    }
}
