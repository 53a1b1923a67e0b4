//! The operations of the protocol.

use super::fields;
use super::protocol::{ErrorWord, Failure};
use crate::json::{self, Object, ParseOptions, Value};

/// Runs `op`, or `None` when it is not an op of the protocol.
pub(crate) fn dispatch(op: &str, request: &Object) -> Option<Result<Object, Failure>> {
    let result = match op {
        "canonical" => canonical(request),
        _ => return None,
    };
    Some(result)
}

/// `canonical`: `json` (text) and `strict` (default true) → `{"canonical": text}`.
fn canonical(request: &Object) -> Result<Object, Failure> {
    let text = fields::string(request, "json")?;
    let strict = fields::bool_or(request, "strict", true)?;
    let value =
        json::parse(text.as_bytes(), &ParseOptions::for_strictness(strict)).map_err(|error| {
            if error.is_invalid_json() {
                Failure::new(
                    ErrorWord::BadInput,
                    format!("json is not valid JSON text: {error}"),
                )
            } else {
                Failure::new(ErrorWord::NotCanonical, error.to_string())
            }
        })?;
    Ok(answer("canonical", Value::String(json::to_string(&value))))
}

/// A one-field answer.
fn answer(name: &str, value: Value) -> Object {
    let mut object = Object::new();
    object.insert(name, value);
    object
}
