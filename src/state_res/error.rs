//! Why state resolution could not finish, kept apart by whose move it is: missing data
//! (fetch it and try again), bad input (the graph or the rooms are wrong), and misuse
//! of the resolver by its caller.

use crate::dag::DagError;
use crate::id::{EventId, RoomId};

/// Why state resolution could not finish.
///
/// Events that fail the authorization rules are not errors: they are left out of the
/// state and listed by [`Resolved::rejected`](super::Resolved::rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// Missing data: an event the resolution needs is not available (the caller
    /// answered it as not found, or the source does not have it). Fetch it and try
    /// again.
    #[error("{event_id} is not available{}", referenced_by.as_ref().map(|by| format!(" (referenced by {by})")).unwrap_or_default())]
    MissingEvent {
        /// The missing event.
        event_id: EventId,
        /// An event that references it, when the walk reached it through a reference.
        referenced_by: Option<EventId>,
    },
    /// Bad input: the event graph is malformed (a cycle, a self-reference, an event
    /// listed twice with different contents...).
    #[error(transparent)]
    Graph(DagError),
    /// Bad input: an event belongs to another room than the first event provided.
    #[error("{event_id} is in room {room_id}, not {expected}")]
    WrongRoom {
        /// The event.
        event_id: EventId,
        /// Its room.
        room_id: RoomId,
        /// The room of the first event provided.
        expected: RoomId,
    },
    /// The caller used the resolver wrongly; the data may be fine.
    #[error(transparent)]
    Misuse(#[from] ResolverMisuse),
}

impl From<DagError> for ResolveError {
    fn from(error: DagError) -> Self {
        match error {
            DagError::MissingEvent {
                event_id,
                referenced_by,
            } => Self::MissingEvent {
                event_id,
                referenced_by,
            },
            other => Self::Graph(other),
        }
    }
}

/// How a caller misused the [`Resolver`](super::Resolver).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolverMisuse {
    /// The resolver was polled again after it answered
    /// [`Poll::Done`](super::Poll::Done) or an error.
    #[error("state resolution already finished")]
    AlreadyFinished,
    /// [`Resolver::with_auth_chains`](super::Resolver::with_auth_chains) was given a
    /// number of auth chains other than the number of state sets.
    #[error("{chains} auth chains for {sets} state sets")]
    ChainCount {
        /// The number of auth chains given.
        chains: usize,
        /// The number of state sets.
        sets: usize,
    },
}
