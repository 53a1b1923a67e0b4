//! Replaying vector files: one `{"case", "expect", "source"}` line at a time.

use super::protocol::{answer, answer_line};
use crate::json::{self, ParseOptions, Value};

/// The result of replaying one vector line.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum VectorOutcome {
    /// The answer agrees with `expect` on the fields the protocol compares.
    Agree,
    /// The answer differs.
    Disagree {
        /// The expected answer.
        expected: Value,
        /// Our answer.
        actual: Value,
    },
    /// The line is not a vector (not JSON, or no `case`/`raw` and `expect`).
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// A vector marked `differs` (a deliberate, documented difference from the
    /// implementation that produced `expect`), and the answer does differ.
    KnownDifference {
        /// Why the library differs.
        reason: String,
    },
    /// A vector marked `differs` whose answer now agrees: the mark is stale.
    UnexpectedAgreement,
    /// A blank line.
    Blank,
}

/// Replays one line of a vector file.
///
/// A line is `{"case": request, "expect": answer, "source": text}`, or
/// `{"raw": text, "expect": answer}` where `text` is sent as the request line itself.
/// A line with `"differs": reason` records a deliberate difference: the answer must
/// then differ from `expect`.
#[must_use]
pub fn replay_vector(line: &[u8]) -> VectorOutcome {
    if line.iter().all(u8::is_ascii_whitespace) {
        return VectorOutcome::Blank;
    }
    let options = ParseOptions::lenient().with_max_len(1 << 30);
    let vector = match json::parse(line, &options) {
        Ok(vector) => vector,
        Err(error) => {
            return VectorOutcome::Malformed {
                reason: error.to_string(),
            };
        }
    };
    let Some(expected) = vector.get("expect") else {
        return VectorOutcome::Malformed {
            reason: "no 'expect' field".into(),
        };
    };
    let actual = if let Some(case) = vector.get("case") {
        answer(case)
    } else if let Some(Value::String(raw)) = vector.get("raw") {
        let bytes = answer_line(raw.as_bytes()).unwrap_or_default();
        json::parse(&bytes, &options).unwrap_or_default()
    } else {
        return VectorOutcome::Malformed {
            reason: "no 'case' or 'raw' field".into(),
        };
    };
    let op = vector
        .get("case")
        .and_then(|case| case.get("op"))
        .and_then(Value::as_str);
    let agreed = agrees(op, expected, &actual);
    if let Some(reason) = vector.get("differs").and_then(Value::as_str) {
        return if agreed {
            VectorOutcome::UnexpectedAgreement
        } else {
            VectorOutcome::KnownDifference {
                reason: reason.to_owned(),
            }
        };
    }
    if agreed {
        VectorOutcome::Agree
    } else {
        VectorOutcome::Disagree {
            expected: expected.clone(),
            actual,
        }
    }
}

/// True when `actual` agrees with `expected` on what the protocol compares for `op`:
/// for an expected error, only that both are errors; otherwise the answer fields the
/// op names (extra fields such as `reason` are ignored).
#[must_use]
pub fn agrees(op: Option<&str>, expected: &Value, actual: &Value) -> bool {
    let expected_error = expected.get("error").is_some();
    let actual_error = actual.get("error").is_some();
    if expected_error || actual_error {
        return expected_error && actual_error;
    }
    let fields: &[&str] = match op {
        Some("canonical") => &["canonical"],
        Some("content_hash") => &["sha256"],
        Some("redact") => &["redacted"],
        Some("event_id") => &["event_id"],
        Some("sign" | "sign_event") => &["signed"],
        Some("verify") => &["valid"],
        Some("verify_event") => &["signatures_ok", "hash_ok"],
        Some("auth_types") => &["types"],
        Some("auth") => &["allowed"],
        Some("resolve") => &["state"],
        Some("sign_request") => &["signed"],
        // `origin` and `keys` are compared only when the answer is "valid".
        Some("verify_request") => &["valid", "origin"],
        Some("verify_key_document") => &["valid", "keys"],
        _ => return expected == actual,
    };
    fields
        .iter()
        .all(|field| expected.get(field) == actual.get(field))
}
