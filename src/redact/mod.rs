//! Redaction: the parts of an event that survive when it is redacted
//! (<https://spec.matrix.org/v1.16/rooms/v11/#redactions>), and whether a redaction
//! may be applied at all.
//!
//! The redacted form is what is signed and what the reference hash (and so, from room
//! version 3, the event ID) covers. The keep-lists differ across room versions 1–5,
//! 6–7, 8, 9–10 and 11–12; [`RedactionRules`](crate::room_version::RedactionRules)
//! holds the switches. [`may_redact`] says whether a redaction event may strip its
//! target (its sender's power, its own event, or, for a received event, its own
//! server), and [`crate::event::Pdu::redacted_because`] gives the stripped event with
//! `unsigned.redacted_because`.
//!
//! Matches Synapse where the spec is silent:
//! * `content` is always present in the result, even when the event had none;
//! * in room versions 11 and 12, a `third_party_invite` that is an object is kept as an
//!   object holding only its `signed` member, and as `{}` when it has none;
//! * [`redact`] keeps `unsigned.age_ts` and `unsigned.replaces_state` (the spec drops
//!   `unsigned`; neither is signed or hashed, so this changes no signature or ID);
//! * in room version 12 a create event (which must not carry `room_id`) loses a
//!   `room_id` it carries, so its event ID never depends on that field.
//!
//! ```
//! use matrix_serverlib::json::{self, ParseOptions};
//! use matrix_serverlib::redact::redact;
//! use matrix_serverlib::room_version::RoomVersion;
//!
//! let event = json::parse(
//!     br#"{"type":"m.room.member","content":{"membership":"join","displayname":"A"},"origin":"x"}"#,
//!     &ParseOptions::strict(),
//! )?;
//! let redacted = redact(event.as_object().unwrap_or(&Default::default()), &RoomVersion::V11);
//! assert_eq!(json::to_string(&redacted.into()), r#"{"content":{"membership":"join"},"type":"m.room.member"}"#);
//! # Ok::<(), matrix_serverlib::json::CanonicalJsonError>(())
//! ```

mod algorithm;
mod permission;

pub use algorithm::redact;
pub(crate) use algorithm::write_redacted_signing_bytes;
pub use permission::{RedactionGrounds, RedactionRefusal, RedactionSource, may_redact};
