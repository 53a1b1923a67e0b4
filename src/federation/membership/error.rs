//! The errors of the membership handshakes: [`MembershipError`] for what a resident or
//! an invitee answers a request with, [`AttemptError`] and [`HandshakeError`] for why a
//! joining (leaving, knocking) server gave up on a resident
//! (<https://spec.matrix.org/v1.16/server-server-api/#joining-rooms>).

use crate::auth::Rejection;
use crate::crypto::SignatureError;
use crate::event::PduError;
use crate::event::StateKey;
use crate::federation::error::{ErrorCode, MatrixError};
use crate::id::{EventId, ServerName};

/// Why a membership request (make_*, send_*, invite) is refused, or why a response to
/// one of ours is not accepted. Each variant maps to the spec's error code.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MembershipError {
    /// The authorising user of a restricted join is not one of ours (400
    /// `M_INVALID_PARAM`).
    #[error("the authorising user {user_id} is not on this server")]
    AuthoriserNotLocal {
        /// `join_authorised_via_users_server`.
        user_id: String,
    },
    /// The body is JSON, but not of the expected shape (400 `M_BAD_JSON`).
    #[error("the body is not of the expected shape: {reason}")]
    BadJson {
        /// What is wrong.
        reason: String,
    },
    /// A signature or the content hash does not verify (400 `M_INVALID_PARAM`; the
    /// spec's answer for a bad signature).
    #[error("bad signature: {reason}")]
    BadSignature {
        /// What failed.
        reason: String,
    },
    /// The server state given to the builder cannot make an event: no forward
    /// extremity, or the template does not parse (500 `M_UNKNOWN`: the caller's misuse).
    #[error("the room state given cannot make an event: {reason}")]
    InvalidRoomState {
        /// What is wrong.
        reason: String,
    },
    /// The room's version is not in the requester's `ver` list (400
    /// `M_INCOMPATIBLE_ROOM_VERSION`; the answer carries `room_version`).
    #[error("room version {room_version} is not supported by the requesting server")]
    IncompatibleRoomVersion {
        /// The room's version.
        room_version: String,
    },
    /// The room version has no knocking (403 `M_FORBIDDEN`, as Synapse answers).
    #[error("room version {room_version} does not support knocking")]
    KnockNotSupported {
        /// The room's version.
        room_version: String,
    },
    /// The event does not parse as a PDU of the room version (400 `M_BAD_JSON`).
    #[error("not a valid event: {0}")]
    Malformed(PduError),
    /// A field differs from the request path or from what it must equal (400
    /// `M_INVALID_PARAM`).
    #[error("{field} is {actual:?} where {expected:?} was expected")]
    Mismatch {
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: String,
        /// What it is.
        actual: String,
    },
    /// A required parameter is missing, such as `ver` on make_knock (400
    /// `M_MISSING_PARAM`).
    #[error("missing parameter {name}")]
    MissingParam {
        /// The parameter.
        name: &'static str,
    },
    /// The invite's room state lacks the create event or does not match the room (400
    /// `M_INVALID_PARAM`).
    #[error("the invite room state is invalid: {reason}")]
    InvalidRoomStateEvent {
        /// What is wrong.
        reason: String,
    },
    /// This server holds only partial state for the room, so it cannot answer a
    /// send_join (404 `M_NOT_FOUND`, as Synapse answers).
    #[error("this server has only partial state for the room")]
    PartialState,
    /// The event would not be authorized by the room's state (403 `M_FORBIDDEN`).
    #[error("the event is not authorized: {0}")]
    NotAuthorized(Rejection),
    /// The body is not JSON (400 `M_NOT_JSON`).
    #[error("the body is not json: {reason}")]
    NotJson {
        /// The parser's complaint.
        reason: String,
    },
    /// The invite's target is not a user of this server (400 `M_INVALID_PARAM`).
    #[error("{user_id} is not a user of this server")]
    NotLocalUser {
        /// The state key.
        user_id: String,
    },
    /// Signing failed (500 `M_UNKNOWN`).
    #[error("signing failed: {0}")]
    Signing(SignatureError),
    /// A restricted join needs an authorising user and none was chosen (400
    /// `M_UNABLE_TO_GRANT_JOIN`).
    #[error("no user of this server can authorise the join")]
    UnableToGrantJoin,
    /// The room version is not one this server knows (400
    /// `M_UNSUPPORTED_ROOM_VERSION`).
    #[error("unsupported room version {room_version:?}")]
    UnsupportedRoomVersion {
        /// The version named.
        room_version: String,
    },
    /// The user is not on the requesting server (403 `M_FORBIDDEN`).
    #[error("{user_id} does not belong to {origin}")]
    UserNotOnOrigin {
        /// The user.
        user_id: String,
        /// The requesting server.
        origin: String,
    },
}

impl MatrixError for MembershipError {
    fn errcode(&self) -> ErrorCode {
        match self {
            Self::BadJson { .. } | Self::Malformed(_) => ErrorCode::BadJson,
            Self::AuthoriserNotLocal { .. }
            | Self::BadSignature { .. }
            | Self::InvalidRoomStateEvent { .. }
            | Self::Mismatch { .. }
            | Self::NotLocalUser { .. } => ErrorCode::InvalidParam,
            Self::IncompatibleRoomVersion { .. } => ErrorCode::IncompatibleRoomVersion,
            Self::InvalidRoomState { .. } | Self::Signing(_) => ErrorCode::Unknown,
            Self::KnockNotSupported { .. }
            | Self::NotAuthorized(_)
            | Self::UserNotOnOrigin { .. } => ErrorCode::Forbidden,
            Self::MissingParam { .. } => ErrorCode::MissingParam,
            Self::PartialState => ErrorCode::NotFound,
            Self::NotJson { .. } => ErrorCode::NotJson,
            Self::UnableToGrantJoin => ErrorCode::UnableToGrantJoin,
            Self::UnsupportedRoomVersion { .. } => ErrorCode::UnsupportedRoomVersion,
        }
    }
}

impl From<PduError> for MembershipError {
    fn from(error: PduError) -> Self {
        match error {
            PduError::Json(error) => Self::NotJson {
                reason: error.to_string(),
            },
            other => Self::Malformed(other),
        }
    }
}

/// Why one resident was given up on by a joining, leaving or knocking server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AttemptError {
    /// The returned `auth_chain` holds a create event other than the room's.
    #[error("the auth chain holds a foreign create event {event_id}")]
    ForeignCreate {
        /// The foreign create event.
        event_id: EventId,
    },
    /// The create event's `room_version` differs from the make_* one.
    #[error("the create event says room version {actual:?}, make_join said {expected:?}")]
    CreateVersionMismatch {
        /// The make_* room version.
        expected: String,
        /// The create event's.
        actual: String,
    },
    /// Two events of `state` share a (type, state key).
    #[error("two state events at {key}")]
    DuplicateState {
        /// The key.
        key: StateKey,
    },
    /// The returned `event` is not the join we sent.
    #[error("the returned event is {actual}, not {expected}")]
    EventMismatch {
        /// The event we sent.
        expected: EventId,
        /// The event returned.
        actual: String,
    },
    /// The signed join is not authorized by its auth events or by the returned state.
    #[error("our event is not authorized by the returned room: {0}")]
    EventNotAuthorized(Rejection),
    /// An auth event of our event is absent from the response, or was dropped.
    #[error("auth event {event_id} of our event is missing from the response")]
    MissingAuthEvent {
        /// The auth event.
        event_id: EventId,
    },
    /// An auth event of our event was rejected by the rules.
    #[error("auth event {event_id} of our event was rejected")]
    RejectedAuthEvent {
        /// The auth event.
        event_id: EventId,
    },
    /// The response has no (valid) create event in `state`.
    #[error("no create event in the returned state")]
    MissingCreate,
    /// `members_omitted` without a non-empty `servers_in_room`, or without our asking.
    #[error("members_omitted is unexpected: {reason}")]
    MembersOmitted {
        /// What is wrong.
        reason: &'static str,
    },
    /// The reply is not of the expected shape.
    #[error("bad response: {reason}")]
    BadResponse {
        /// What is wrong.
        reason: String,
    },
    /// The make_* template is not the event we asked for.
    #[error("bad template: {field} is wrong")]
    BadTemplate {
        /// The field at fault.
        field: &'static str,
    },
    /// The server refused with an HTTP error.
    #[error("refused with status {status} ({errcode})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The `errcode`, or empty.
        errcode: String,
    },
    /// Our event could not be built or signed from the template.
    #[error("the template does not make a valid event: {reason}")]
    Signing {
        /// What failed.
        reason: String,
    },
    /// The response lists more events than [`super::MAX_RESPONSE_EVENTS`].
    #[error("{count} events in the response, more than {max}")]
    TooManyEvents {
        /// The number of events.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// No answer (connection, TLS, timeout, or a body over the caller's bound).
    #[error("no answer")]
    Transport,
    /// The room's version is not one we support.
    #[error("unsupported room version {room_version:?}")]
    UnsupportedRoomVersion {
        /// The version named.
        room_version: String,
    },
}

impl AttemptError {
    /// True when trying another resident may help: transport failures, bad answers,
    /// server errors, and the codes Synapse fails over on (`M_NOT_FOUND`,
    /// `M_UNABLE_TO_AUTHORISE_JOIN`, `M_UNABLE_TO_GRANT_JOIN`). A refusal with another
    /// 4xx code (say `M_FORBIDDEN` for a ban, or `M_INCOMPATIBLE_ROOM_VERSION`) ends the
    /// handshake, as in Synapse's `_try_destination_list`.
    #[must_use]
    pub fn try_next(&self) -> bool {
        match self {
            Self::Refused { status, errcode } => {
                *status >= 500
                    || *status == 404
                    || matches!(
                        errcode.as_str(),
                        "M_NOT_FOUND" | "M_UNABLE_TO_AUTHORISE_JOIN" | "M_UNABLE_TO_GRANT_JOIN"
                    )
            }
            _ => true,
        }
    }
}

/// Why a handshake failed: every resident tried, with its reason, in order.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// Every candidate was tried (or one refused for good); the reasons, per server.
    #[error("no resident server completed the handshake ({} tried)", .attempts.len())]
    AllFailed {
        /// Each server tried and why it failed, in order.
        attempts: Vec<(ServerName, AttemptError)>,
    },
    /// The handshake already ended and its outcome was taken (the caller's misuse).
    #[error("the handshake already ended")]
    Finished,
    /// No candidate server was given.
    #[error("no candidate server")]
    NoCandidates,
}

impl HandshakeError {
    /// The servers tried and their reasons (empty for [`Self::NoCandidates`]).
    #[must_use]
    pub fn attempts(&self) -> &[(ServerName, AttemptError)] {
        match self {
            Self::AllFailed { attempts } => attempts,
            Self::Finished | Self::NoCandidates => &[],
        }
    }
}
