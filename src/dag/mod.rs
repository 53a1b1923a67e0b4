//! The event graph: auth chains, the auth difference and the conflicted subgraph of
//! state resolution, the orderings it uses, topological order of `prev_events`,
//! forward extremities and missing events
//! (<https://spec.matrix.org/v1.16/server-server-api/#auth-events-selection>,
//! <https://spec.matrix.org/v1.16/rooms/v2/#state-resolution>).
//!
//! Events come from an [`EventSource`] (an event by ID, or `None`), implemented for
//! maps of [`Pdu`](crate::event::Pdu)s and closures ([`from_fn`]). Walks number event
//! IDs densely and keep references in flat vectors; they are iterative, linear in what
//! they reach, and turn malformed graphs (cycles, self-references, repeated
//! references, events the source lacks) into a typed [`DagError`]. In room version 12
//! every event but the create event also references, implicitly, the create event its
//! room ID names, as Synapse counts it.
//!
//! ```
//! use std::collections::BTreeMap;
//! use matrix_serverlib::dag::{self, DagError};
//! use matrix_serverlib::event::Pdu;
//! use matrix_serverlib::id::EventId;
//!
//! let events: BTreeMap<EventId, Pdu> = BTreeMap::new();
//! let id: EventId = "$a:example.org".parse()?;
//! assert!(matches!(dag::auth_chain(&events, &id), Err(DagError::MissingEvent { .. })));
//! assert!(dag::forward_extremities(&events, &[]).is_ok_and(|ids| ids.is_empty()));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod chain;
mod chain_set;
mod error;
mod extremities;
pub(crate) mod order;
mod source;

pub use chain::{auth_chain, auth_chain_of_events, auth_difference, conflicted_subgraph};
pub use chain_set::{AuthChain, chain_difference};
pub use error::DagError;
pub use extremities::{forward_extremities, missing_auth_events, missing_prev_events};
pub use order::{mainline_order, reverse_topological_power_order, topological_order};
pub use source::{EventSource, FnSource, from_fn};

pub(crate) use chain::{difference_flags, subgraph_flags};

#[cfg(test)]
pub(crate) mod test_room;
#[cfg(test)]
mod tests;
