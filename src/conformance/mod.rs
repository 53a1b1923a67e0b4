//! Answers the JSON-lines conformance protocol, one request at a time.
//!
//! The protocol (`conformance-protocol.md` beside the project) lets any two Matrix
//! implementations be compared case by case: each request is a JSON object with an
//! `op` and its inputs, each answer a JSON object. This module is pure: it turns one
//! request into one answer, and never fails; `examples/conformance.rs` is a thin
//! standard-input/standard-output loop around [`answer_line`].
//!
//! Error answers are `{"error": word, "message": text}` with the words of
//! [`ErrorWord`].
//!
//! ```
//! use matrix_serverlib::conformance;
//!
//! let answer = conformance::answer_line(br#"{"op":"canonical","json":"{\"b\":1,\"a\":2}"}"#);
//! assert_eq!(answer.as_deref(), Some(&br#"{"canonical":"{\"a\":2,\"b\":1}"}"#[..]));
//! ```

mod auth_ops;
mod fields;
mod key_ops;
mod ops;
mod protocol;
mod request_ops;
mod resolve_op;
mod vectors;

pub use protocol::{ErrorWord, answer, answer_line};
pub use vectors::{VectorOutcome, agrees, replay_vector};
