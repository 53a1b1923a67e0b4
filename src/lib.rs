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
//! * [`conformance`]: answers the JSON-lines conformance protocol, so the library can
//!   be checked case by case against other implementations.
//!
//! ## Receiving a PDU: which function at each step
//!
//! 1. Find the room's version and its rules: [`room_version::RoomVersion::from_id`].
//! 2. Parse the bytes as canonical JSON with the version's strictness:
//!    [`json::parse`] with [`json::ParseOptions::for_strictness`] of
//!    [`room_version::RoomVersion::strict_canonical_json`].
//! 3. Check the identifiers it carries: [`id::UserId`], [`id::RoomId`],
//!    [`id::EventId`] with the version's event-ID format.
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

pub mod base64;
pub mod conformance;
pub mod crypto;
pub mod event;
pub mod id;
pub mod json;
pub mod redact;
pub mod room_version;

/// The README's example, run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
