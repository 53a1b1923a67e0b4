//! The error type of canonical JSON parsing.

/// Why a byte string is not acceptable canonical-JSON input.
///
/// Every variant carries the byte offset in the input where the problem was found.
/// [`CanonicalJsonError::is_invalid_json`] tells apart text that is not JSON at all from
/// JSON that cannot be canonical (floats or out-of-range integers in strict mode).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalJsonError {
    /// The input is longer than the configured limit.
    #[error("input of {len} bytes exceeds the limit of {max_len} bytes")]
    TooLarge {
        /// Length of the input in bytes.
        len: usize,
        /// The configured limit.
        max_len: usize,
    },
    /// The input is not valid UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The input is not JSON: something else was expected at `offset`.
    #[error("invalid JSON at byte {offset}: expected {expected}")]
    Syntax {
        /// Byte offset of the unexpected input.
        offset: usize,
        /// What the grammar allowed at that point.
        expected: &'static str,
    },
    /// A string contains a raw control character (U+0000 to U+001F).
    #[error("unescaped control character in string at byte {offset}")]
    ControlCharacter {
        /// Byte offset of the control character.
        offset: usize,
    },
    /// A string contains an invalid escape sequence.
    #[error("invalid escape sequence in string at byte {offset}")]
    InvalidEscape {
        /// Byte offset of the backslash.
        offset: usize,
    },
    /// A `\u` escape names half of a surrogate pair without the other half.
    #[error("lone surrogate escape in string at byte {offset}")]
    LoneSurrogate {
        /// Byte offset of the escape.
        offset: usize,
    },
    /// Arrays and objects are nested deeper than the configured limit.
    #[error("nesting deeper than {max_depth} levels at byte {offset}")]
    TooDeep {
        /// Byte offset of the bracket that went over the limit.
        offset: usize,
        /// The configured limit.
        max_depth: usize,
    },
    /// Strict mode: a number with a fraction or an exponent.
    #[error("float at byte {offset} is not allowed in canonical JSON")]
    FloatNotAllowed {
        /// Byte offset of the number.
        offset: usize,
    },
    /// Strict mode: an integer outside ±(2^53−1).
    #[error("integer at byte {offset} is outside the range ±(2^53-1)")]
    IntegerOutOfRange {
        /// Byte offset of the number.
        offset: usize,
    },
    /// An integer with more digits than Synapse's JSON stack converts (Python refuses
    /// integer strings over 4,300 digits).
    #[error("integer at byte {offset} has {digits} digits, more than {max_digits}")]
    IntegerTooLong {
        /// Byte offset of the number.
        offset: usize,
        /// How many digits it has.
        digits: usize,
        /// The limit.
        max_digits: usize,
    },
    /// Lenient mode: a float too large to represent (it would be infinite).
    #[error("number at byte {offset} is out of the range of a double")]
    FloatOutOfRange {
        /// Byte offset of the number.
        offset: usize,
    },
}

impl CanonicalJsonError {
    /// True when the input is not JSON text at all (as opposed to JSON that cannot be
    /// canonical, such as a float in strict mode).
    #[must_use]
    pub fn is_invalid_json(&self) -> bool {
        matches!(
            self,
            Self::InvalidUtf8 { .. }
                | Self::Syntax { .. }
                | Self::ControlCharacter { .. }
                | Self::InvalidEscape { .. }
        )
    }

    /// The byte offset in the input where the problem was found.
    #[must_use]
    pub fn offset(&self) -> usize {
        match *self {
            Self::TooLarge { max_len, .. } => max_len,
            Self::InvalidUtf8 { offset }
            | Self::Syntax { offset, .. }
            | Self::ControlCharacter { offset }
            | Self::InvalidEscape { offset }
            | Self::LoneSurrogate { offset }
            | Self::TooDeep { offset, .. }
            | Self::FloatNotAllowed { offset }
            | Self::IntegerOutOfRange { offset }
            | Self::IntegerTooLong { offset, .. }
            | Self::FloatOutOfRange { offset } => offset,
        }
    }
}
