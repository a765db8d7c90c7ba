//! normalize_event + group + issue_metadata + to_json on arbitrary bytes (seeded with the
//! recorded events and `event.dict`, libFuzzer's mutations give mostly-JSON inputs).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    sextant_fuzz::check_event(data);
});
