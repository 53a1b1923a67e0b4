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
//! 5. Authorize it with one call, [`auth::authorize`]: rule B (v12: the room ID names
//!    the create event), rule C (its own `auth_events`) and the state-dependent rules
//!    against the state before it (ask first which state it needs:
//!    [`auth::auth_types_pdu`]); [`auth::authorize_by_auth_events`] is the same against
//!    the event's own auth events (check 4 on receipt). The rules read the event and
//!    the state as parsed PDUs ([`auth::AuthEvents`] holds `&Pdu`), never their JSON
//!    again. A [`auth::Rejection`] names the rule that failed.
//!
//! 6. Where the event has several `prev_events`, the state before it is the
//!    resolution of the states after each: [`state_res::resolve`] (or
//!    [`state_res::Resolver`], which asks for the events it needs), over the caller's
//!    events through [`dag::EventSource`].
//!
//! ## Sending an event
//!
//! [`event::EventBuilder::build_in_room`] is the one call: given the sender, type,
//! content and state key, the state before the event and its prev events, it selects
//! the auth events, writes the references in the room version's format, sets the
//! depth and room ID, hashes, signs and authorizes, and returns the [`event::Pdu`] with
//! its event ID, or the [`auth::Rejection`] the rules gave.
//!
//! ## A bridge's path for one event
//!
//! From the bytes a server sent to what a bridge forwards: receive (format, signatures,
//! content hash), authorize against the room state, apply a redaction if one is
//! allowed, and convert to the client format.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use matrix_serverlib::auth::{self, AuthEvents, PowerLevels};
//! use matrix_serverlib::event::StateKey;
//! use matrix_serverlib::crypto::{PublicKeys, SigningKey};
//! use matrix_serverlib::event::{ClientEvent, EventBuilder, Pdu, receive_pdu};
//! use matrix_serverlib::json::{Object, Value};
//! use matrix_serverlib::redact::{RedactionSource, may_redact};
//! use matrix_serverlib::room_version::RoomVersion;
//!
//! let version = RoomVersion::V12;
//! let key = SigningKey::from_seed("ed25519:1", [4; 32]);
//! let mut keys = PublicKeys::new();
//! keys.insert("remote.example", "ed25519:1", key.public_key());
//!
//! // The room as the bridge knows it: a create event and Alice's join.
//! let mut events: BTreeMap<_, Pdu> = BTreeMap::new();
//! let mut state = BTreeMap::new();
//! let mut prev: Vec<Pdu> = Vec::new();
//! let join = {
//!     let mut content = Object::new();
//!     content.insert("membership", Value::from("join"));
//!     content
//! };
//! for (event_type, state_key, content) in [
//!     ("m.room.create", "", Object::new()),
//!     ("m.room.member", "@alice:remote.example", join),
//! ] {
//!     let prev_refs: Vec<&Pdu> = prev.iter().collect();
//!     let pdu = EventBuilder::new(&version, "@alice:remote.example", event_type)
//!         .state_key(state_key)
//!         .content(content)
//!         .build_in_room(&state, &prev_refs, &events, "remote.example", &key)?;
//!     state.insert(StateKey::new(event_type, state_key), pdu.event_id().clone());
//!     events.insert(pdu.event_id().clone(), pdu.clone());
//!     prev = vec![pdu];
//! }
//!
//! // A message arrives as bytes; receive it, then authorize it against the state.
//! let mut body = Object::new();
//! body.insert("msgtype", Value::from("m.text"));
//! body.insert("body", Value::from("hello, bridge"));
//! let prev_refs: Vec<&Pdu> = prev.iter().collect();
//! let sent = EventBuilder::new(&version, "@alice:remote.example", "m.room.message")
//!     .content(body)
//!     .origin_server_ts(1_000)
//!     .build_in_room(&state, &prev_refs, &events, "remote.example", &key)?;
//! let received = receive_pdu(&sent.to_canonical_bytes(), &version, &keys)?;
//! assert!(received.content_hash_ok());
//! let message = received.pdu();
//! let listed: Vec<&Pdu> = message.auth_events().iter().filter_map(|id| events.get(id)).collect();
//! let mut room_state = AuthEvents::new();
//! for id in state.values() {
//!     room_state.insert_pdu(&events[id]);
//! }
//! auth::authorize(message, &listed, &room_state)?;
//!
//! // Alice then redacts it; the redaction may strip it (her own event).
//! let prev_refs = [message];
//! let redaction = EventBuilder::new(&version, "@alice:remote.example", "m.room.redaction")
//!     .redacts(message.event_id().as_str())
//!     .build_in_room(&state, &prev_refs, &events, "remote.example", &key)?;
//! let create = &events[&state[&StateKey::new("m.room.create", "")]];
//! let levels = PowerLevels::new(&version, create.as_object(), None);
//! may_redact(&redaction, message, &levels, RedactionSource::Received)?;
//! let shown = message.redacted_because(&redaction);
//!
//! // What the bridge forwards: the client format, with age and the redaction.
//! let event = ClientEvent::new(&shown).now(1_500).to_object();
//! assert_eq!(event["content"], Value::Object(Object::new()));
//! assert_eq!(event["unsigned"]["age"].as_i64(), Some(500));
//! assert_eq!(
//!     event["unsigned"]["redacted_because"]["event_id"].as_str(),
//!     Some(redaction.event_id().as_str())
//! );
//! let forwarded = serde_json::to_string(&ClientEvent::new(&shown))?;
//! assert!(forwarded.contains("\"redacted_because\""));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
mod event_graph;
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
