//! Fuzz target: see `laws::xmatrix`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::xmatrix(data));
