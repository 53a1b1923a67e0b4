//! Why state resolution could not finish.

use crate::dag::DagError;
use crate::id::{EventId, RoomId};

/// Why state resolution could not finish.
///
/// Missing data (an event the caller does not have) is
/// [`DagError::MissingEvent`] inside [`ResolveError::Graph`]: fetch the event and try
/// again. Events that fail the authorization rules are not errors: they are left out of
/// the state and listed by [`Resolved::rejected`](super::Resolved::rejected).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// The resolver was polled again after it answered
    /// [`Poll::Done`](super::Poll::Done).
    #[error("state resolution already finished")]
    AlreadyFinished,
    /// The event graph is malformed or incomplete.
    #[error(transparent)]
    Graph(#[from] DagError),
    /// An event belongs to another room than the first event provided.
    #[error("{event_id} is in room {room_id}, not {expected}")]
    WrongRoom {
        /// The event.
        event_id: EventId,
        /// Its room.
        room_id: RoomId,
        /// The room of the first event provided.
        expected: RoomId,
    },
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
