//! Helpers shared by the unit tests.

use crate::json::{self, Object, ParseOptions, Value};

/// Parses `text` (lenient, so legacy numbers are allowed) as a JSON object.
pub(crate) fn object(text: &str) -> Object {
    match json::parse(text.as_bytes(), &ParseOptions::lenient()) {
        Ok(Value::Object(object)) => object,
        other => panic!("test input is not a JSON object: {other:?}"),
    }
}
