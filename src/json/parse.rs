//! A bounded, non-panicking JSON parser producing canonical-JSON values.

use super::number::MAX_SAFE_INTEGER;
use super::{CanonicalJsonError, Number, Object, Value};

/// Default limit on the nesting of arrays and objects.
///
/// Synapse's JSON stack (Python's `json` and `canonicaljson`) gives up at about 1,000
/// levels; 512 is far beyond anything a real event carries while keeping the parser's
/// recursion short.
pub const DEFAULT_MAX_DEPTH: usize = 512;

/// Default limit on the input size: 16 MiB, well above a federation transaction
/// (50 PDUs of at most 64 KiB each, plus EDUs).
pub const DEFAULT_MAX_LEN: usize = 16 * 1024 * 1024;

/// The most digits an integer may have: Python (and so Synapse) refuses to convert
/// longer integer strings.
pub(crate) const MAX_INTEGER_DIGITS: usize = 4300;

/// How to parse: strict or lenient numbers, and the limits on untrusted input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    strict: bool,
    spec_number_normalization: bool,
    max_depth: usize,
    max_len: usize,
}

impl ParseOptions {
    /// Strict canonical JSON, as room versions 6 and later require: floats and
    /// integers outside ±(2^53−1) are errors.
    #[must_use]
    pub const fn strict() -> Self {
        Self {
            strict: true,
            spec_number_normalization: false,
            max_depth: DEFAULT_MAX_DEPTH,
            max_len: DEFAULT_MAX_LEN,
        }
    }

    /// Lenient parsing for room versions 1 to 5: floats and integers of any size are
    /// kept and encoded as Synapse encodes them.
    #[must_use]
    pub const fn lenient() -> Self {
        Self {
            strict: false,
            ..Self::strict()
        }
    }

    /// Strict or lenient.
    #[must_use]
    pub const fn for_strictness(strict: bool) -> Self {
        if strict {
            Self::strict()
        } else {
            Self::lenient()
        }
    }

    /// Reads numbers the way the spec's canonical-JSON example does rather than the way
    /// Synapse does: a number written with a fraction or exponent whose value is an
    /// integer within ±(2^53−1) (`1e10`, `2.0`) becomes that integer, in both modes.
    ///
    /// Off by default: the network signs what Synapse produces.
    #[must_use]
    pub const fn with_spec_number_normalization(mut self, on: bool) -> Self {
        self.spec_number_normalization = on;
        self
    }

    /// Sets the nesting limit.
    #[must_use]
    pub const fn with_max_depth(mut self, max_depth: usize) -> Self {
        self.max_depth = max_depth;
        self
    }

    /// Sets the input size limit in bytes.
    #[must_use]
    pub const fn with_max_len(mut self, max_len: usize) -> Self {
        self.max_len = max_len;
        self
    }

    /// True in strict mode.
    #[must_use]
    pub const fn is_strict(&self) -> bool {
        self.strict
    }
}

impl Default for ParseOptions {
    fn default() -> Self {
        Self::strict()
    }
}

/// Parses `input` as one JSON value (with optional surrounding whitespace).
///
/// # Errors
///
/// A [`CanonicalJsonError`] naming what was wrong and the byte offset where: input over
/// the size limit, invalid UTF-8, JSON syntax errors, lone surrogate escapes, nesting
/// over the depth limit, and in strict mode floats and out-of-range integers.
pub fn parse(input: &[u8], options: &ParseOptions) -> Result<Value, CanonicalJsonError> {
    if input.len() > options.max_len {
        return Err(CanonicalJsonError::TooLarge {
            len: input.len(),
            max_len: options.max_len,
        });
    }
    let text = std::str::from_utf8(input).map_err(|error| CanonicalJsonError::InvalidUtf8 {
        offset: error.valid_up_to(),
    })?;
    let mut parser = Parser {
        text,
        bytes: input,
        pos: 0,
        depth: 0,
        options,
    };
    parser.skip_whitespace();
    let value = parser.value()?;
    parser.skip_whitespace();
    if parser.pos != input.len() {
        return Err(parser.syntax("end of input"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
    options: &'a ParseOptions,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn syntax(&self, expected: &'static str) -> CanonicalJsonError {
        CanonicalJsonError::Syntax {
            offset: self.pos,
            expected,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Result<Value, CanonicalJsonError> {
        match self.peek() {
            Some(b'{') => self.object(),
            Some(b'[') => self.array(),
            Some(b'"') => self.string().map(Value::String),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            Some(b'-' | b'0'..=b'9') => self.number().map(Value::Number),
            _ => Err(self.syntax("a JSON value")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Value) -> Result<Value, CanonicalJsonError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.syntax(word))
        }
    }

    fn enter(&mut self) -> Result<(), CanonicalJsonError> {
        self.depth += 1;
        if self.depth > self.options.max_depth {
            return Err(CanonicalJsonError::TooDeep {
                offset: self.pos,
                max_depth: self.options.max_depth,
            });
        }
        // Skip the opening bracket and any whitespace after it.
        self.pos += 1;
        self.skip_whitespace();
        Ok(())
    }

    fn object(&mut self) -> Result<Value, CanonicalJsonError> {
        self.enter()?;
        let mut entries = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Object(Object::new()));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.syntax("a string key"));
            }
            let key = self.string()?;
            self.skip_whitespace();
            if self.peek() != Some(b':') {
                return Err(self.syntax("':'"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let value = self.value()?;
            entries.push((key, value));
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b'}') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.syntax("',' or '}'")),
            }
        }
        self.depth -= 1;
        Ok(Value::Object(Object::from_entries(entries)))
    }

    fn array(&mut self) -> Result<Value, CanonicalJsonError> {
        self.enter()?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                }
                Some(b']') => {
                    self.pos += 1;
                    break;
                }
                _ => return Err(self.syntax("',' or ']'")),
            }
        }
        self.depth -= 1;
        Ok(Value::Array(items))
    }

    /// Parses a string starting at its opening quote.
    fn string(&mut self) -> Result<String, CanonicalJsonError> {
        self.pos += 1;
        let start = self.pos;
        // Fast path: no escapes.
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'"' => {
                    let text = self
                        .text
                        .get(start..self.pos)
                        .unwrap_or_default()
                        .to_owned();
                    self.pos += 1;
                    return Ok(text);
                }
                b'\\' => return self.string_with_escapes(start),
                0x00..=0x1f => {
                    return Err(CanonicalJsonError::ControlCharacter { offset: self.pos });
                }
                _ => self.pos += 1,
            }
        }
        Err(self.syntax("'\"'"))
    }

    fn string_with_escapes(&mut self, start: usize) -> Result<String, CanonicalJsonError> {
        let mut out = String::with_capacity(self.pos - start + 16);
        let mut run_start = start;
        while let Some(&byte) = self.bytes.get(self.pos) {
            match byte {
                b'"' => {
                    out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
                    self.pos += 1;
                    return Ok(out);
                }
                b'\\' => {
                    out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
                    self.escape(&mut out)?;
                    run_start = self.pos;
                }
                0x00..=0x1f => {
                    return Err(CanonicalJsonError::ControlCharacter { offset: self.pos });
                }
                _ => self.pos += 1,
            }
        }
        Err(self.syntax("'\"'"))
    }

    /// Decodes one escape sequence starting at its backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), CanonicalJsonError> {
        let backslash = self.pos;
        let invalid = CanonicalJsonError::InvalidEscape { offset: backslash };
        let decoded = match self.bytes.get(self.pos + 1) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                let unit = self.hex4(self.pos + 2).ok_or(invalid)?;
                self.pos += 6;
                out.push(self.code_point(unit, backslash)?);
                return Ok(());
            }
            _ => return Err(invalid),
        };
        self.pos += 2;
        out.push(decoded);
        Ok(())
    }

    /// Turns a `\u` code unit into a character, consuming the low half of a surrogate
    /// pair when `unit` is a high surrogate.
    fn code_point(&mut self, unit: u16, backslash: usize) -> Result<char, CanonicalJsonError> {
        let lone = CanonicalJsonError::LoneSurrogate { offset: backslash };
        match unit {
            0xd800..=0xdbff => {
                if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                    return Err(lone);
                }
                let low = self.hex4(self.pos + 2).ok_or(lone.clone())?;
                if !(0xdc00..=0xdfff).contains(&low) {
                    return Err(lone);
                }
                self.pos += 6;
                let scalar =
                    0x10000 + ((u32::from(unit) - 0xd800) << 10) + (u32::from(low) - 0xdc00);
                char::from_u32(scalar).ok_or(lone)
            }
            0xdc00..=0xdfff => Err(lone),
            _ => char::from_u32(u32::from(unit)).ok_or(lone),
        }
    }

    fn hex4(&self, at: usize) -> Option<u16> {
        let digits = self.bytes.get(at..at + 4)?;
        digits.iter().try_fold(0u16, |acc, &digit| {
            let nibble = (digit as char).to_digit(16)?;
            // Four nibbles fit in 16 bits.
            Some((acc << 4) | nibble as u16)
        })
    }

    fn number(&mut self) -> Result<Number, CanonicalJsonError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            _ => return Err(self.syntax("a digit")),
        }
        let mut is_float = false;
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.require_digits()?;
            is_float = true;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.require_digits()?;
            is_float = true;
        }
        let text = self.text.get(start..self.pos).unwrap_or_default();
        if is_float {
            self.float(text, start)
        } else {
            self.integer(text, start)
        }
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    fn require_digits(&mut self) -> Result<(), CanonicalJsonError> {
        if !matches!(self.peek(), Some(b'0'..=b'9')) {
            return Err(self.syntax("a digit"));
        }
        self.skip_digits();
        Ok(())
    }

    fn integer(&self, text: &str, offset: usize) -> Result<Number, CanonicalJsonError> {
        let digits = text.len() - usize::from(text.starts_with('-'));
        if digits > MAX_INTEGER_DIGITS {
            return Err(CanonicalJsonError::IntegerTooLong {
                offset,
                digits,
                max_digits: MAX_INTEGER_DIGITS,
            });
        }
        let number = match text.parse::<i64>() {
            Ok(value) => Number::from(value),
            // Too large for i64: keep the exact digits (JSON grammar already ruled out
            // leading zeros, and "-0" fits in i64).
            Err(_) => Number::from_big_digits(text),
        };
        if self.options.strict && !number.is_strict_canonical() {
            return Err(CanonicalJsonError::IntegerOutOfRange { offset });
        }
        Ok(number)
    }

    fn float(&self, text: &str, offset: usize) -> Result<Number, CanonicalJsonError> {
        let value: f64 = text.parse().map_err(|_| CanonicalJsonError::Syntax {
            offset,
            expected: "a number",
        })?;
        if self.options.spec_number_normalization
            && value.fract() == 0.0
            && value.abs() <= MAX_SAFE_INTEGER as f64
        {
            // Integral and within ±(2^53−1), so the conversion is exact.
            return Ok(Number::from(value as i64));
        }
        if self.options.strict {
            return Err(CanonicalJsonError::FloatNotAllowed { offset });
        }
        Number::from_f64(value).ok_or(CanonicalJsonError::FloatOutOfRange { offset })
    }
}
