//! TCX documents into `pierre::import::parse`. Seeds: the fixture TCX file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pierre::import::tcx::parse(data);
    let _ = pierre::import::parse("fuzz.tcx", data);
});
