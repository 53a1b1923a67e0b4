//! Fuzz target: see `laws::appservice_registration`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::appservice_registration(data));
