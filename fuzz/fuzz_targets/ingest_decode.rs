//! The ingest body decoder (`Content-Encoding` gzip/deflate/br/zstd, stacked) under a
//! small decoded-size cap and a smaller shared budget, and its first-line reader. Needs
//! `--features server`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_server::ingest::decode::{decode_body, decode_first_line};
use sextant_server::memory_budget::MemoryBudget;

const CODINGS: [&str; 8] = [
    "gzip",
    "deflate",
    "br",
    "zstd",
    "identity",
    "gzip, br",
    "deflate, zstd",
    "x-gzip",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let coding = CODINGS[usize::from(selector) % CODINGS.len()];
    let cap = usize::from(selector >> 3) * 512;
    let budget = MemoryBudget::new(cap / 2);
    let wire = bytes::Bytes::copy_from_slice(body);
    if let Ok(decoded) = decode_body(Some(coding), wire, cap, &budget) {
        assert!(decoded.len() <= cap, "{} > cap {cap}", decoded.len());
    }
    assert_eq!(budget.used(), 0, "every reserved byte is given back");
    if let Ok(line) = decode_first_line(Some(coding), body, cap) {
        assert!(line.len() <= cap, "{} > cap {cap}", line.len());
    }
});
