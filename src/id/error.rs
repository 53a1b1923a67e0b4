//! The error type of identifier parsing.

/// Why a string is not a valid identifier.
///
/// Byte offsets count from the start of the text given to the parser, sigil included.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The text is empty.
    #[error("identifier is empty")]
    Empty,
    /// A grammar that needs a non-empty localpart (strict user IDs) found none.
    #[error("localpart is empty")]
    EmptyLocalpart,
    /// A character that the grammar does not allow at this position.
    #[error("invalid character {character:?} at byte {offset}")]
    InvalidCharacter {
        /// The character found.
        character: char,
        /// Byte offset of the character.
        offset: usize,
    },
    /// A hash-based ID (event IDs from room version 3, room IDs from 12) whose hash is
    /// not exactly 43 base64 characters long.
    #[error("hash of {len} characters where {expected} were expected")]
    InvalidHashLength {
        /// The length required (43: unpadded base64 of a SHA-256 hash).
        expected: usize,
        /// The length found.
        len: usize,
    },
    /// A port that is not 1 to 5 digits with a value of at most 65535.
    #[error("invalid port {port:?} at byte {offset}: expected 1 to 5 digits, at most 65535")]
    InvalidPort {
        /// The text after the port's `:`.
        port: String,
        /// Byte offset of the first character of the port.
        offset: usize,
    },
    /// A hostname that breaks the server-name grammar.
    #[error("invalid server name at byte {offset}: {reason}")]
    InvalidServerName {
        /// Byte offset where the problem was found.
        offset: usize,
        /// What is wrong, in a few words.
        reason: &'static str,
    },
    /// No `:` separating the two parts (localpart and server name, or algorithm and
    /// key version).
    #[error("missing ':' separator")]
    MissingColon,
    /// The text does not start with the sigil of the identifier kind.
    #[error("expected sigil {expected:?}, found {found:?}")]
    MissingSigil {
        /// The sigil required (`@`, `!`, `$` or `#`).
        expected: char,
        /// The first character found.
        found: char,
    },
    /// The text is over the length limit.
    #[error("length {len} exceeds the limit of {max}")]
    TooLong {
        /// The length found, in the unit of the limit (bytes unless a
        /// [`LengthLimit::CodePoints`](super::LengthLimit::CodePoints) parse was asked for).
        len: usize,
        /// The limit.
        max: usize,
    },
}
