//! Matrix identifiers as parsed, validated newtypes: [`UserId`], [`RoomId`],
//! [`EventId`], [`RoomAliasId`], [`ServerName`] and [`KeyId`], following the
//! identifier grammar (<https://spec.matrix.org/v1.16/appendices/#identifier-grammar>)
//! and the event and room ID formats of each room version
//! (<https://spec.matrix.org/v1.16/rooms/>). Each type owns its text, compares and
//! orders by it (case-sensitively, server names included), and converts with
//! `FromStr`, `TryFrom<&str>`, `TryFrom<String>`, `Display` and serde as a string.
//! Parsers accept what servers must accept in events (historical user IDs, legacy room
//! and event IDs, every event-ID format unless one is asked for) and never panic; every
//! failure is an [`IdError`] with the offending character or byte offset.
//!
//! ```
//! use matrix_serverlib::id::{EventId, EventIdFormat, RoomId, UserId};
//!
//! let sender: UserId = "@alice:example.org".parse()?;
//! assert_eq!(sender.server_name(), "example.org");
//!
//! let create = EventId::parse_for_format(
//!     "$31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM",
//!     EventIdFormat::Base64UrlSafe,
//! )?;
//! let room = RoomId::from_create_event_id(&create)?;
//! assert_eq!(room.as_str(), "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM");
//! # Ok::<(), matrix_serverlib::id::IdError>(())
//! ```

mod alias;
mod error;
mod event_id;
mod grammar;
mod key_id;
mod length;
mod macros;
mod room_id;
mod server_name;
mod sigil;
mod user_id;

pub use alias::RoomAliasId;
pub use error::IdError;
pub use event_id::{EventId, EventIdFormat};
pub use grammar::{validate_namespaced_id, validate_opaque_id};
pub use key_id::KeyId;
pub use length::{LengthLimit, MAX_ID_LEN};
pub use room_id::RoomId;
pub use server_name::ServerName;
pub use user_id::UserId;

#[cfg(test)]
mod tests;
