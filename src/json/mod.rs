//! Canonical JSON exactly as Matrix signs and hashes it.
//!
//! Matrix signs the *canonical* encoding of a JSON value: UTF-8, no insignificant
//! whitespace, object keys sorted by code point, only the minimal string escapes and
//! integers written plainly
//! (<https://spec.matrix.org/v1.16/appendices/#canonical-json>).
//!
//! This module provides:
//!
//! * [`Value`], [`Object`] and [`Number`]: a JSON value that keeps exactly what is
//!   signed (integers stay integers, big integers keep their digits, objects are kept
//!   sorted so encoding is a single pass);
//! * [`parse`], a bounded, non-panicking parser with a [`ParseOptions::strict`] mode
//!   (room versions 6 and later: no floats, integers within ±(2<sup>53</sup>−1)) and a
//!   [`ParseOptions::lenient`] mode (room versions 1 to 5);
//! * [`to_vec`] and [`Value::write_canonical`], the canonical encoder.
//!
//! Where the spec is silent or disagrees with the network, the behaviour matches
//! Synapse: duplicate object keys keep the later value; `-0` reads as the integer `0`;
//! any number written with a fraction or an exponent (`1e10`, `3.0`) is a float, which
//! strict mode rejects and lenient mode re-encodes the way Python's `repr` writes it
//! (`10000000000.0`). The spec's own example instead normalises integral floats to
//! integers; [`ParseOptions::with_spec_number_normalization`] gives that reading to
//! callers who ask for it.
//!
//! ```
//! use matrix_serverlib::json::{self, ParseOptions};
//!
//! let value = json::parse(r#"{ "b": "2", "a": "日本" }"#.as_bytes(), &ParseOptions::strict())?;
//! assert_eq!(json::to_string(&value), r#"{"a":"日本","b":"2"}"#);
//! # Ok::<(), matrix_serverlib::json::CanonicalJsonError>(())
//! ```

mod convert;
mod encode;
mod error;
mod number;
mod object;
mod parse;
mod value;

pub use encode::{to_string, to_vec};
pub(crate) use encode::{write_object_filtered, write_string, write_value};
pub use error::CanonicalJsonError;
pub use number::Number;
pub use object::Object;
pub use parse::{DEFAULT_MAX_DEPTH, DEFAULT_MAX_LEN, ParseOptions, parse};
pub use value::Value;

#[cfg(test)]
mod tests;
