//! `decode_store_body` (JSON / base64 / base64+zlib, NaN/Infinity) with a small cap taken
//! from the first byte, then the event pipeline on what it decodes, as `/store/` does.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_protocol::decode_store_body;

fuzz_target!(|data: &[u8]| {
    let Some((&cap, body)) = data.split_first() else {
        return;
    };
    // 0..=16 KiB: small enough that the inflate cap is hit often.
    let cap = usize::from(cap) * 64;
    if let Ok(json) = decode_store_body(body, cap) {
        // NaN (3 bytes) → null (4 bytes) is the only growth after the cap check.
        assert!(
            json.len() <= cap + cap / 3 + 1,
            "{} > cap {cap}",
            json.len()
        );
        sextant_fuzz::check_event(&json);
    }
});
