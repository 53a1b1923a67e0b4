//! The machinery behind the graph walks of [`crate::dag`] and [`crate::state_res`],
//! internal to the crate: event IDs numbered densely by an interner over a hash index
//! (`intern`, `hash_index`), the graph those numbers index, holding each event's
//! references in one flat vector and loading events on demand (`graph`), and the loop
//! that answers a graph's requests from an [`EventSource`](crate::dag::EventSource)
//! (`load`). The walks index flat vectors instead of hashing strings; the public
//! algorithms live in `dag` and `state_res`, which this module serves.

pub(crate) mod graph;
pub(crate) mod hash_index;
pub(crate) mod intern;
pub(crate) mod load;
