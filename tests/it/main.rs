//! Integration tests through the public API: vector replay, fuzz-corpus replay and
//! cross-module laws.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod appservice;
mod fuzz_corpus;
mod laws;
mod vectors;
