//! Fuzz target: see `laws::redact_event`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::redact_event(data));
