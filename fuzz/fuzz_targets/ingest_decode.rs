//! The ingest body decoder (`Content-Encoding` gzip/deflate/br/zstd, stacked) under a
//! small decoded-size cap. Needs `--features server`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sextant_server::ingest::decode::decode_body;

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
    if let Ok(decoded) = decode_body(Some(coding), bytes::Bytes::copy_from_slice(body), cap) {
        assert!(decoded.len() <= cap, "{} > cap {cap}", decoded.len());
    }
});
