//! Fuzz target: see `laws::serde_value`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::serde_value(data));
