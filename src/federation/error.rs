//! The Matrix error codes a federation refusal maps to, with their HTTP status
//! (<https://spec.matrix.org/v1.16/client-server-api/#standard-error-response>): every
//! error type of [`crate::federation`] implements [`MatrixError`], so a server answers
//! any refusal with the right status and `errcode` without a table of its own.

/// A Matrix `errcode` that federation endpoints answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `M_BAD_JSON`: JSON that is valid but not of the expected shape (400).
    BadJson,
    /// `M_FORBIDDEN`: authenticated, but not allowed (403).
    Forbidden,
    /// `M_INCOMPATIBLE_ROOM_VERSION`: the room's version is not one the requester
    /// supports (400); the answer carries the `room_version`.
    IncompatibleRoomVersion,
    /// `M_INVALID_PARAM`: a parameter or an event has a bad value (400).
    InvalidParam,
    /// `M_LIMIT_EXCEEDED`: too many requests (429).
    LimitExceeded,
    /// `M_MISSING_PARAM`: a required parameter is missing (400).
    MissingParam,
    /// `M_NOT_FOUND`: no such room, event or resource (404).
    NotFound,
    /// `M_NOT_JSON`: the body is not JSON (400).
    NotJson,
    /// `M_TOO_LARGE`: the request is too large (413).
    TooLarge,
    /// `M_UNABLE_TO_AUTHORISE_JOIN`: a restricted join cannot be checked here (400).
    UnableToAuthoriseJoin,
    /// `M_UNABLE_TO_GRANT_JOIN`: no local user can authorise the restricted join (400).
    UnableToGrantJoin,
    /// `M_UNAUTHORIZED`: missing or bad request authentication (401).
    Unauthorized,
    /// `M_UNKNOWN`: anything else (500 by default).
    Unknown,
    /// `M_UNRECOGNIZED`: unknown endpoint (404) or method (405).
    Unrecognized,
    /// `M_UNSUPPORTED_ROOM_VERSION`: a room version this server does not know (400).
    UnsupportedRoomVersion,
}

impl ErrorCode {
    /// The `errcode` string, such as `"M_FORBIDDEN"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadJson => "M_BAD_JSON",
            Self::Forbidden => "M_FORBIDDEN",
            Self::IncompatibleRoomVersion => "M_INCOMPATIBLE_ROOM_VERSION",
            Self::InvalidParam => "M_INVALID_PARAM",
            Self::LimitExceeded => "M_LIMIT_EXCEEDED",
            Self::MissingParam => "M_MISSING_PARAM",
            Self::NotFound => "M_NOT_FOUND",
            Self::NotJson => "M_NOT_JSON",
            Self::TooLarge => "M_TOO_LARGE",
            Self::UnableToAuthoriseJoin => "M_UNABLE_TO_AUTHORISE_JOIN",
            Self::UnableToGrantJoin => "M_UNABLE_TO_GRANT_JOIN",
            Self::Unauthorized => "M_UNAUTHORIZED",
            Self::Unknown => "M_UNKNOWN",
            Self::Unrecognized => "M_UNRECOGNIZED",
            Self::UnsupportedRoomVersion => "M_UNSUPPORTED_ROOM_VERSION",
        }
    }

    /// The HTTP status this code is usually sent with.
    #[must_use]
    pub fn default_status(self) -> u16 {
        match self {
            Self::BadJson
            | Self::IncompatibleRoomVersion
            | Self::InvalidParam
            | Self::MissingParam
            | Self::NotJson
            | Self::UnableToAuthoriseJoin
            | Self::UnableToGrantJoin
            | Self::UnsupportedRoomVersion => 400,
            Self::Unauthorized => 401,
            Self::Forbidden => 403,
            Self::NotFound | Self::Unrecognized => 404,
            Self::TooLarge => 413,
            Self::LimitExceeded => 429,
            Self::Unknown => 500,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that a federation endpoint answers with a Matrix error: its `errcode` and
/// HTTP status. Implemented by every error type of [`crate::federation`].
pub trait MatrixError: std::error::Error {
    /// The `errcode` to answer with.
    fn errcode(&self) -> ErrorCode;

    /// The HTTP status to answer with; [`ErrorCode::default_status`] unless the error
    /// knows better.
    fn status(&self) -> u16 {
        self.errcode().default_status()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses() {
        assert_eq!(ErrorCode::Unauthorized.as_str(), "M_UNAUTHORIZED");
        assert_eq!(ErrorCode::Unauthorized.default_status(), 401);
        assert_eq!(ErrorCode::LimitExceeded.default_status(), 429);
        assert_eq!(
            ErrorCode::IncompatibleRoomVersion.to_string(),
            "M_INCOMPATIBLE_ROOM_VERSION"
        );
    }
}
