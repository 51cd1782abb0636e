//! `gatewatch::server::fuzz::request_path` on libFuzzer's inputs (what it checks: its doc, RELIABILITY.md).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatewatch::server::fuzz::request_path(data));
