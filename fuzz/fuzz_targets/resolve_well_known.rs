//! Fuzz target: see `laws::resolve_well_known`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::resolve_well_known(data));
