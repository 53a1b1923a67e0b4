//! The error type of PDU parsing.

use crate::id::IdError;
use crate::json::CanonicalJsonError;

/// Why bytes or an object are not a well-formed PDU of the room version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PduError {
    /// Not canonical JSON of the version's strictness.
    #[error("not canonical JSON: {0}")]
    Json(#[from] CanonicalJsonError),
    /// Not a JSON object.
    #[error("a PDU must be a JSON object")]
    NotAnObject,
    /// The canonical form is over 65,536 bytes.
    #[error("PDU of {len} bytes exceeds {max} bytes")]
    TooLarge {
        /// Canonical size in bytes.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A required field is absent.
    #[error("missing field {field}")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// A field has the wrong JSON type.
    #[error("field {field} must be {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A field this version forbids is present (`event_id` from room version 3,
    /// `room_id` on a room-version-12 create event).
    #[error("field {field} is not allowed in room version {room_version}")]
    ForbiddenField {
        /// The field.
        field: &'static str,
        /// The room version.
        room_version: &'static str,
    },
    /// An identifier field does not parse.
    #[error("invalid {field}: {error}")]
    InvalidId {
        /// The field.
        field: &'static str,
        /// Why.
        error: IdError,
    },
    /// `type` or `state_key` is over 255 code points (or bytes, from room version 11).
    #[error("{field} is {len} long, over the limit of 255")]
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// Its length in the unit the version counts.
        len: usize,
    },
    /// `depth` is negative or over the version's maximum.
    #[error("depth {depth} is out of range")]
    DepthOutOfRange {
        /// The depth given.
        depth: i64,
    },
}
