//! `gatewatch::server::fuzz::response_head` on libFuzzer's inputs (what it checks: its doc, RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatewatch::server::fuzz::response_head(data));
