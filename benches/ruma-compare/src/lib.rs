//! The comparison lives in `benches/compare.rs`.
