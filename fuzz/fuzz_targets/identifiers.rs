//! Fuzz target: see `laws::identifiers`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::identifiers(data));
