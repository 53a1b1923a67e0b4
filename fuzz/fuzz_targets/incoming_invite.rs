//! Fuzz target: see `laws::incoming_invite`.
#![no_main]

#[path = "../laws.rs"]
mod laws;

libfuzzer_sys::fuzz_target!(|data: &[u8]| laws::incoming_invite(data));
