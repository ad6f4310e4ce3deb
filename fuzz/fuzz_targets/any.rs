//! Any bytes (gzip included) into `pierre::import::parse`, then the stored-streams
//! decoder. Seeds: every fixture file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(a) = pierre::import::parse("upload", data) {
        let encoded = a.streams.encode();
        assert!(pierre::domain::Streams::decode(&encoded).is_ok());
        let _ = pierre::import::export::to_gpx(&a);
    }
    let _ = pierre::domain::Streams::decode(data);
});
