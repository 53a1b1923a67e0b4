//! State resolution: the room's state where the event graph forks, by the algorithm
//! of the room version (v1 for room version 1, v2 for 2–11, v2.1 for 12;
//! <https://spec.matrix.org/v1.16/rooms/v2/#state-resolution>,
//! <https://spec.matrix.org/v1.16/rooms/v12/#state-resolution>).
//!
//! Three ways in: [`resolve`] over an [`EventSource`](crate::dag::EventSource); the
//! step machine [`Resolver`], which asks for the events it needs ([`Poll::NeedEvents`])
//! so callers can fetch them asynchronously; and, to skip walking every state set's
//! auth chain, [`Resolver::with_auth_chains`] for callers that cache auth chains and
//! [`Resolver::with_auth_difference`] for callers that keep an auth-chain index. The answer, [`Resolved`], is the state plus
//! the events the authorization rules kept out of it, each with its
//! [`Rejection`](crate::auth::Rejection).
//!
//! Where the spec is silent or Synapse differs, this follows Synapse (which decides
//! what the network's state is): the create event is a power event; in room version
//! 12 every event is also authorised by the create event its room ID names; the auth
//! difference counts each state set's own events as reached by it; v2.1 starts from the
//! empty state even when the power levels are unconflicted; v1 does not count a key
//! missing from some state sets as a conflict, resolves member keys one by one, and
//! takes the last candidate when none passes; events the caller marks rejected never
//! enter state.
//!
//! ```
//! use std::collections::BTreeMap;
//! use matrix_serverlib::event::Pdu;
//! use matrix_serverlib::id::EventId;
//! use matrix_serverlib::room_version::RoomVersion;
//! use matrix_serverlib::state_res;
//!
//! let events: BTreeMap<EventId, Pdu> = BTreeMap::new();
//! let sets = [BTreeMap::new(), BTreeMap::new()];
//! let resolved = state_res::resolve(&RoomVersion::V11, &sets, &events)?;
//! assert_eq!(resolved.len(), 0);
//! # Ok::<(), state_res::ResolveError>(())
//! ```

mod entries;
mod error;
mod over_source;
mod passes;
mod resolved;
mod resolver;
mod separate;
mod v1;
mod v2;

pub use error::{ResolveError, ResolverMisuse};
pub use over_source::resolve;
pub use resolved::Resolved;
pub use resolver::{Poll, Resolver};

#[cfg(test)]
mod tests;
