use std::path::PathBuf;

use pierre::domain::ParsedActivity;
use pierre::import::{self, ImportError};

pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/activities")
        .join(rel)
}

pub fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

pub fn import(rel: &str) -> Result<ParsedActivity, ImportError> {
    import::parse(rel, &fixture(rel))
}

pub fn ok(rel: &str) -> ParsedActivity {
    import(rel).unwrap_or_else(|e| panic!("{rel} should import: {e}"))
}

/// Every activity file in the fixtures (not CSVs or licences).
pub fn all_fixtures() -> Vec<String> {
    let mut out = Vec::new();
    for dir in ["fit", "gpx", "tcx"] {
        for entry in std::fs::read_dir(fixture_path(dir)).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".fit") || name.ends_with(".gpx") || name.ends_with(".tcx") {
                out.push(format!("{dir}/{name}"));
            }
        }
    }
    out.sort();
    out
}
