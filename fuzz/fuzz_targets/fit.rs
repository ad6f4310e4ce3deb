//! FIT bytes straight into `pierre::import::parse`. Seeds: the fixture FIT files.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = pierre::import::parse("fuzz.fit", data);
    // The decoder alone, past the CRC check: give the data a valid checksum.
    if pierre::import::fit::looks_like_fit(data) && data.len() > 14 {
        let mut fixed = data[..data.len() - 2].to_vec();
        let size = u32::try_from(fixed.len().saturating_sub(usize::from(fixed[0]))).unwrap_or(0);
        fixed[4..8].copy_from_slice(&size.to_le_bytes());
        if fixed[0] >= 14 {
            fixed[12] = 0;
            fixed[13] = 0;
        }
        let crc = pierre::import::fit::crc16(0, &fixed);
        fixed.extend_from_slice(&crc.to_le_bytes());
        let _ = pierre::import::parse("fuzz.fit", &fixed);
    }
});
