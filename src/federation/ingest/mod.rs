//! The PDU receipt pipeline: the six checks on receipt of a PDU as a step machine
//! (<https://spec.matrix.org/v1.16/server-server-api/#checks-performed-on-receipt-of-a-pdu>).
//!
//! [`Ingest`] takes one batch of events of one room ([`Mode`]: pushed by `/send`,
//! pulled by `/get_missing_events`, backfilled, or outliers) and reads the room through
//! a [`RoomView`] over the caller's cache. It asks for keys ([`IngestStep::NeedKeys`]),
//! for the events it lacks ([`IngestStep::Fetch`]: `/event_auth`, `/event`,
//! `/get_missing_events`, `/state_ids`, all to the origin), and answers one
//! [`Outcome`] per event in an order the caller can persist. The checks, as Synapse's
//! `federation_event.py` applies them:
//!
//! 1. Sanity and format: more than [`MAX_PREV_EVENTS`] prev events or
//!    [`MAX_AUTH_EVENTS`] auth events, a bad format or another room → dropped.
//!    Events already stored as timeline events are skipped.
//! 2. Signatures, verified in one batch → dropped when they fail.
//! 3. Content hash → redacted on a mismatch, and processing continues.
//! 4. The event's own auth events (missing ones fetched with `/event_auth`, still
//!    missing → [`Verdict::MissingAuth`], not rejected; a rejected auth event taints)
//!    → rejected.
//! 5. The state before the event, resolved over its prev events' states; missing prev
//!    events of a pushed event are asked with `/get_missing_events` (the events it
//!    returns go through as pulled), still missing → [`Verdict::Unresolved`]; pulled
//!    and backfilled events get the state at a missing prev event from `/state_ids`
//!    → rejected.
//! 6. The current state, for pushed and pulled events outside partial-state rooms whose
//!    prev events are not the forward extremities → soft-failed.
//!
//! Everything is bounded: [`MAX_ADDED_EVENTS`], [`MAX_FETCHED_EVENTS`],
//! [`MAX_REQUESTS`], [`MAX_ROUNDS`], [`MAX_REPLY_BYTES`].
//!
//! ```
//! use matrix_serverlib::crypto::{PublicKeys, SigningKey};
//! use matrix_serverlib::event::EventBuilder;
//! use matrix_serverlib::federation::ingest::{Ingest, IngestStep, MemoryRoom, Mode, Verdict};
//! use matrix_serverlib::id::ServerName;
//! use matrix_serverlib::json::{Object, Value};
//! use matrix_serverlib::room_version::RoomVersion;
//!
//! let version = RoomVersion::V12;
//! let key = SigningKey::from_seed("ed25519:a", [1; 32]);
//! let mut content = Object::new();
//! content.insert("room_version", Value::from("12"));
//! let create = EventBuilder::new(&version, "@alice:a.example", "m.room.create")
//!     .state_key("")
//!     .content(content)
//!     .depth(1)
//!     .build("a.example", &key)?;
//!
//! let origin = ServerName::parse("a.example")?;
//! let mut ingest = Ingest::new(&version, create.room_id(), &origin, Mode::Pushed);
//! ingest.add(&create.to_canonical_bytes());
//! let room = MemoryRoom::new(version);
//! let outcomes = loop {
//!     match ingest.poll(&room) {
//!         IngestStep::NeedKeys(_) => {
//!             let mut keys = PublicKeys::new();
//!             keys.insert("a.example", "ed25519:a", key.public_key());
//!             ingest.provide_keys(&keys);
//!         }
//!         IngestStep::Done(outcomes) => break outcomes,
//!         _ => return Err("nothing to fetch for a create event".into()),
//!     }
//! };
//! assert!(matches!(outcomes[0].verdict, Verdict::Accepted { .. }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decide;
mod fetch;
mod machine;
mod outcome;
mod view;

pub use machine::{
    Ingest, MAX_ADDED_EVENTS, MAX_AUTH_EVENTS, MAX_FETCHED_EVENTS, MAX_PREV_EVENTS,
    MAX_REPLY_BYTES, MAX_REQUESTS, MAX_ROUNDS, MAX_STATE_IDS, MISSING_EVENTS_LIMIT,
};
pub use outcome::{
    Check, DropReason, IngestStep, Mode, NOT_DIVULGING, Outcome, RejectReason, StateBefore, Verdict,
};
pub use view::{Known, MemoryRoom, RoomView, Status};

#[cfg(test)]
mod tests;
