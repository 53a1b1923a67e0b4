//! The error types of the application-service module: why a registration (or a set of
//! them) is refused at load time, and why an application service may not act as a user.

use crate::id::IdError;

/// Why a registration, or a set of registrations, cannot be loaded.
///
/// Token values never appear in an error (they are secrets that end up in logs); the
/// registration IDs that clash are named instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// Two registrations give the same `as_token`.
    #[error("registrations {first:?} and {second:?} use the same as_token")]
    DuplicateAsToken {
        /// The ID of the earlier registration.
        first: String,
        /// The ID of the later registration.
        second: String,
    },
    /// Two registrations have the same `id`.
    #[error("two registrations have the id {id:?}")]
    DuplicateId {
        /// The repeated ID.
        id: String,
    },
    /// A token is the empty string.
    #[error("registration {id:?} has an empty {field}")]
    EmptyToken {
        /// The registration's ID.
        id: String,
        /// `as_token` or `hs_token`.
        field: &'static str,
    },
    /// An `as_token` equals an `hs_token` (of the same or another registration): a
    /// homeserver token would then authenticate as an application service.
    #[error("the as_token of {as_token_of:?} is the hs_token of {hs_token_of:?}")]
    AsTokenIsHsToken {
        /// The registration whose `as_token` it is.
        as_token_of: String,
        /// The registration whose `hs_token` it is.
        hs_token_of: String,
    },
    /// The `id` is empty or contains `|` (Synapse keeps `|` as a separator).
    #[error("invalid registration id {id:?}: {reason}")]
    InvalidId {
        /// The ID given.
        id: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// `sender_localpart` does not make a valid user ID on this server.
    #[error("sender_localpart {localpart:?} of {id:?} is invalid: {reason}")]
    InvalidSenderLocalpart {
        /// The registration's ID.
        id: String,
        /// The localpart given.
        localpart: String,
        /// What is wrong.
        reason: String,
    },
    /// A required field is absent.
    #[error("missing required field {field:?}")]
    MissingField {
        /// The field's name.
        field: &'static str,
    },
    /// The registration is not a JSON object.
    #[error("a registration must be an object")]
    NotAnObject,
    /// A namespace regex does not compile (bad syntax, or syntax the linear-time
    /// engine refuses: look-around and backreferences).
    #[error("regex {pattern:?} at {path} does not compile: {reason}")]
    Regex {
        /// Where it is, such as `namespaces.users[0].regex`.
        path: String,
        /// The pattern given.
        pattern: String,
        /// The regex compiler's message.
        reason: String,
    },
    /// A namespace regex compiles to more than the size bound.
    #[error("regex {pattern:?} at {path} compiles to more than {limit} bytes")]
    RegexTooLarge {
        /// Where it is, such as `namespaces.users[0].regex`.
        path: String,
        /// The pattern given.
        pattern: String,
        /// The bound, in bytes.
        limit: usize,
    },
    /// A field has the wrong JSON type.
    #[error("{path} must be {expected}")]
    WrongType {
        /// Where it is, such as `namespaces.users[0].exclusive`.
        path: String,
        /// What it must be, such as `a boolean`.
        expected: &'static str,
    },
}

/// Why an application service may not act as the user (and device) it asked for.
///
/// [`MasqueradeError::errcode`] and [`MasqueradeError::status`] give the answer Synapse
/// sends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MasqueradeError {
    /// `user_id` is not a user ID.
    #[error("{user_id:?} is not a user id: {error}")]
    InvalidUserId {
        /// The text given.
        user_id: String,
        /// Why it does not parse.
        error: IdError,
    },
    /// The user is neither the service's sender nor in its user namespace.
    #[error("application service cannot masquerade as {user_id}")]
    NotInNamespace {
        /// The user asked for.
        user_id: String,
    },
    /// The user is in the namespace but has not been registered yet.
    #[error("application service has not registered {user_id}")]
    NotRegistered {
        /// The user asked for.
        user_id: String,
    },
    /// The user has no device with this ID.
    #[error("{user_id} has no device {device_id:?}")]
    UnknownDevice {
        /// The effective user.
        user_id: String,
        /// The device asked for.
        device_id: String,
    },
}

impl MasqueradeError {
    /// The Matrix `errcode`: `M_UNKNOWN_DEVICE` for an unknown device, `M_FORBIDDEN`
    /// otherwise (a user ID that does not parse is, to Synapse, a user that is not
    /// registered).
    #[must_use]
    pub fn errcode(&self) -> &'static str {
        match self {
            Self::UnknownDevice { .. } => "M_UNKNOWN_DEVICE",
            Self::InvalidUserId { .. }
            | Self::NotInNamespace { .. }
            | Self::NotRegistered { .. } => "M_FORBIDDEN",
        }
    }

    /// The HTTP status: 400 for an unknown device, 403 otherwise.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Self::UnknownDevice { .. } => 400,
            Self::InvalidUserId { .. }
            | Self::NotInNamespace { .. }
            | Self::NotRegistered { .. } => 403,
        }
    }
}
