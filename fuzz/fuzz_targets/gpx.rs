//! GPX documents into `pierre::import::parse`. Seeds: the fixture GPX files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pierre::import::gpx::parse(data);
    let _ = pierre::import::parse("fuzz.gpx", data);
});
