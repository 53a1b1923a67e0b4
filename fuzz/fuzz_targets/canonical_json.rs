//! Fuzz target: see `laws::canonical_json`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::canonical_json(data));
