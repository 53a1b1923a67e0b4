//! Request dispatch and the error answers of the protocol.

use crate::json::{self, Object, ParseOptions, Value};

/// Requests may be large (`resolve` carries whole rooms); this bounds one line.
const MAX_LINE_LEN: usize = 1 << 30;

/// The machine words of error answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorWord {
    /// The line is not JSON, or not a JSON object.
    BadJson,
    /// A field is missing or of the wrong kind.
    BadInput,
    /// Anything else; never a crash.
    Internal,
    /// The value cannot be canonical JSON.
    NotCanonical,
    /// The `op` is missing, not a string, or not known.
    UnknownOp,
    /// The room version is not one of `"1"` to `"12"`.
    UnsupportedRoomVersion,
}

impl ErrorWord {
    /// The word as the protocol writes it.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "bad_json",
            Self::BadInput => "bad_input",
            Self::Internal => "internal",
            Self::NotCanonical => "not_canonical",
            Self::UnknownOp => "unknown_op",
            Self::UnsupportedRoomVersion => "unsupported_room_version",
        }
    }
}

/// An error answer under construction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    pub(crate) word: ErrorWord,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn new(word: ErrorWord, message: impl Into<String>) -> Self {
        Self {
            word,
            message: message.into(),
        }
    }

    fn into_value(self) -> Value {
        let mut object = Object::new();
        object.insert("error", Value::from(self.word.as_str()));
        object.insert("message", Value::String(self.message));
        Value::Object(object)
    }
}

/// Answers one request line: `None` for a blank line (the protocol skips those),
/// otherwise the canonical JSON of the answer, without a newline.
#[must_use]
pub fn answer_line(line: &[u8]) -> Option<Vec<u8>> {
    if line.iter().all(u8::is_ascii_whitespace) {
        return None;
    }
    // Lenient, so that legacy events (floats, big integers) reach the ops unchanged.
    let options = ParseOptions::lenient().with_max_len(MAX_LINE_LEN);
    let answer = match json::parse(line, &options) {
        Ok(request) => answer(&request),
        Err(error) => Failure::new(ErrorWord::BadJson, format!("not JSON: {error}")).into_value(),
    };
    Some(json::to_vec(&answer))
}

/// Answers one request.
#[must_use]
pub fn answer(request: &Value) -> Value {
    let Some(request) = request.as_object() else {
        return Failure::new(ErrorWord::BadJson, "the line is not a JSON object").into_value();
    };
    let op = match request.get("op") {
        Some(Value::String(op)) => op.as_str(),
        Some(other) => {
            let message = format!("unknown op {}", json::to_string(other));
            return Failure::new(ErrorWord::UnknownOp, message).into_value();
        }
        None => return Failure::new(ErrorWord::UnknownOp, "missing op").into_value(),
    };
    match super::ops::dispatch(op, request) {
        Some(Ok(answer)) => Value::Object(answer),
        Some(Err(failure)) => failure.into_value(),
        None => Failure::new(ErrorWord::UnknownOp, format!("unknown op {op:?}")).into_value(),
    }
}
