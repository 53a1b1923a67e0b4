//! # matrix-serverlib
//!
//! The protocol core of a Matrix homeserver, as a pure library: given bytes and the
//! facts a caller already holds (events, keys, state), it answers the protocol
//! questions a homeserver or a bridge has, for room versions 1 to 12.
//!
//! The crate does **no I/O**: no network, files, database, clock, randomness, threads,
//! global state or `async`. Time, key seeds and all data come in as arguments; the same
//! inputs always give the same output. Lookups that depend on data the caller stores
//! go through small traits or closures, or through "ask, then supply" pairs of pure
//! functions, so the core fits any storage and any runtime.
//!
//! ## Modules
//!
//! * [`json`]: canonical JSON exactly as Matrix signs it: a value type, a strict
//!   (room versions 6+) and a lenient (1–5) parser with limits, and the encoder.
//! * [`id`]: user, room, event, alias, server name and key identifiers.
//! * [`room_version`]: every room version as a typed set of rule switches.
//! * [`base64`]: the unpadded base64 flavours Matrix uses.
//! * [`event`]: the PDU type of every room version, content views, the receive entry
//!   point and the event builder.
//! * [`redact`]: the redaction algorithm of every room version.
//! * [`crypto`]: signing keys, JSON and event signatures (single and batch
//!   verification), content hashes, reference hashes and event IDs.
//! * [`auth`]: the authorization rules of every room version with a typed
//!   [`auth::Rejection`] for every rule, the state each event needs, and power levels.
//! * [`dag`]: auth chains, auth difference, the v2.1 conflicted subgraph, power and
//!   mainline orderings, topological order, missing events and forward extremities,
//!   all iterative and bounded.
//! * [`state_res`]: state resolution v1, v2 and v2.1, as a plain function and as a
//!   resumable step machine for callers that fetch events asynchronously.
//! * [`federation`]: server-server federation without I/O: request signing and
//!   authentication, server keys and a keyring, server-name resolution, transactions
//!   and EDUs, the membership handshakes, the receipt pipeline and serving history.
//! * [`appservice`]: application services (bridges) without I/O: registrations,
//!   namespaces with Synapse's anchoring, exclusivity, which services receive each
//!   event, masquerading, and transactions, queries and ping as data.
//! * `conformance` (with the `conformance` feature, off by default; not part of the
//!   API): answers the JSON-lines conformance protocol, so the library can be checked
//!   case by case against other implementations.
//!
//! ## Receiving a PDU: which function at each step
//!
//! 1. Find the room's version and its rules: [`room_version::RoomVersion::from_id`].
//! 2. Ask which servers must have signed the event,
//!    [`crypto::required_signers`], and fetch their keys into a
//!    [`crypto::PublicKeys`] (with validity times from room version 5).
//! 3. Hand the bytes to [`event::receive_pdu`] (or [`event::receive_batch`] for a
//!    transaction): it parses them as canonical JSON of the version's strictness,
//!    checks the PDU format ([`event::Pdu::from_bytes`]), checks the signatures over
//!    the redacted form, and checks the content hash, giving back the event redacted
//!    when the hash does not match. A malformed or badly signed event is dropped.
//! 4. The event ID, room ID, sender and references are on the [`event::Pdu`]; the
//!    content views ([`event::MemberContent`] and the others) read what the
//!    authorization rules need.
//! 5. Check the event's own `auth_events` listing with [`auth::check_auth_events`]
//!    (and in room version 12 the create event its room ID names with
//!    [`auth::check_room_create_event`]), then authorise it against those events and against the state before it with
//!    [`auth::check`] (ask first which state it needs: [`auth::auth_types`]). A
//!    [`auth::Rejection`] names the rule that failed.
//!
//! 6. Where the event has several `prev_events`, the state before it is the
//!    resolution of the states after each: [`state_res::resolve`] (or
//!    [`state_res::Resolver`], which asks for the events it needs), over the caller's
//!    events through [`dag::EventSource`].
//!
//! ## Sending an event
//!
//! [`event::EventBuilder`] takes the room version, sender, type, content, state key,
//! references, depth and timestamp, then hashes, signs and returns the [`event::Pdu`]
//! with its event ID.
//!
//! ## Features
//!
//! None: the crate has one configuration, with one crypto backend.
//!
//! ## Example
//!
//! ```
//! use matrix_serverlib::json::{self, ParseOptions};
//! use matrix_serverlib::room_version::RoomVersion;
//!
//! let version = RoomVersion::from_id("11")?;
//! let options = ParseOptions::for_strictness(version.strict_canonical_json);
//! let event = json::parse(br#"{"type":"m.room.message","content":{"body":"hi"}}"#, &options)?;
//! assert_eq!(
//!     json::to_string(&event),
//!     r#"{"content":{"body":"hi"},"type":"m.room.message"}"#
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![forbid(unsafe_code)]

pub mod appservice;
pub mod auth;
pub mod base64;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod crypto;
pub mod dag;
pub mod event;
pub mod federation;
pub mod id;
pub mod json;
pub mod redact;
pub mod room_version;
pub mod state_res;

#[cfg(test)]
mod test_util;

/// The README's example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
