//! The canonical encoder: sorted keys (kept sorted by [`Object`]), no whitespace, raw
//! UTF-8 and only the escapes canonical JSON requires.

use super::{Object, Value};

/// The canonical encoding of `value`.
#[must_use]
pub fn to_vec(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    write_value(value, &mut out);
    out
}

/// The canonical encoding of `value` as a string.
#[must_use]
pub fn to_string(value: &Value) -> String {
    // The encoder emits only valid UTF-8: strings are `String`s and escapes are ASCII.
    String::from_utf8(to_vec(value))
        .unwrap_or_else(|error| String::from_utf8_lossy(error.as_bytes()).into_owned())
}

/// Appends the canonical encoding of `value` to `out`.
///
/// Recursion depth equals the value's nesting depth, which the parser bounds.
pub(crate) fn write_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => number.write_canonical(out),
        Value::String(text) => write_string(text, out),
        Value::Array(items) => {
            out.push(b'[');
            let mut first = true;
            for item in items {
                if !first {
                    out.push(b',');
                }
                first = false;
                write_value(item, out);
            }
            out.push(b']');
        }
        Value::Object(object) => write_object(object, out),
    }
}

fn write_object(object: &Object, out: &mut Vec<u8>) {
    write_object_filtered(object, |_| true, out);
}

/// Appends the canonical encoding of `object` without the entries whose key `keep`
/// refuses (for example `signatures` and `unsigned` before signing).
pub(crate) fn write_object_filtered(
    object: &Object,
    keep: impl Fn(&str) -> bool,
    out: &mut Vec<u8>,
) {
    out.push(b'{');
    let mut first = true;
    for (key, value) in object.iter().filter(|(key, _)| keep(key)) {
        if !first {
            out.push(b',');
        }
        first = false;
        write_string(key, out);
        out.push(b':');
        write_value(value, out);
    }
    out.push(b'}');
}

/// What each byte turns into inside a string: 0 = itself, `u` = `\u00XX`, otherwise
/// the letter after the backslash.
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = b'u';
        byte += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `text` as a canonical JSON string: raw UTF-8, escaping only `"`, `\` and
/// the control characters U+0000 to U+001F.
pub(crate) fn write_string(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    for (index, &byte) in bytes.iter().enumerate() {
        let escape = ESCAPE[byte as usize];
        if escape == 0 {
            continue;
        }
        out.extend_from_slice(&bytes[start..index]);
        start = index + 1;
        out.push(b'\\');
        out.push(escape);
        if escape == b'u' {
            out.extend_from_slice(b"00");
            out.push(HEX[(byte >> 4) as usize]);
            out.push(HEX[(byte & 0x0f) as usize]);
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}
