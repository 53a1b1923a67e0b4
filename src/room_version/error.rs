//! The error type of room-version lookup.

/// Why a room version string cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomVersionError {
    /// The string breaks the room-version grammar (1 to 32 characters of `a-z`, `0-9`,
    /// `.` and `-`).
    #[error("invalid room version identifier {id:?}")]
    Invalid {
        /// The string given.
        id: String,
    },
    /// A well-formed version this library does not implement.
    #[error("unsupported room version {id:?}")]
    Unsupported {
        /// The string given.
        id: String,
    },
}
