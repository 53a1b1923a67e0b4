//! PDUs: events as servers exchange them, in the wire format of every room version
//! (<https://spec.matrix.org/v1.16/rooms/v11/#event-format>), with read-only views of
//! the content the authorization rules read, the single entry point for receiving an
//! untrusted event, and a builder for new events.
//!
//! A [`Pdu`] is immutable once parsed; its event ID, room ID and the bytes its
//! signatures cover are computed once, during parsing.
//!
//! ```
//! use matrix_serverlib::crypto::{PublicKeys, SigningKey};
//! use matrix_serverlib::event::{EventBuilder, Pdu, receive_pdu};
//! use matrix_serverlib::json::Object;
//! use matrix_serverlib::room_version::RoomVersion;
//!
//! let key = SigningKey::from_seed("ed25519:1", [1; 32]);
//! let version = RoomVersion::V11;
//! let pdu = EventBuilder::new(&version, "@alice:example.org", "m.room.message")
//!     .room_id("!room:example.org")
//!     .content(Object::new())
//!     .depth(2)
//!     .origin_server_ts(1_700_000_000_000)
//!     .build("example.org", &key)?;
//!
//! let mut keys = PublicKeys::new();
//! keys.insert("example.org", "ed25519:1", key.public_key());
//! let received = receive_pdu(&pdu.to_canonical_bytes(), &version, &keys)?;
//! assert!(received.content_hash_ok());
//! assert_eq!(received.pdu().event_id(), pdu.event_id());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod builder;
mod client;
mod content;
mod error;
mod new_room;
mod pdu;
mod receive;
mod state_key;

pub use builder::{BuildError, EventBuilder};
pub use client::{ClientEvent, ClientFormat};
pub use content::{CreateContent, JoinRulesContent, MemberContent, ThirdPartyInviteContent};
pub use error::PduError;
pub use new_room::RoomCreators;
pub(crate) use pdu::EventKind;
pub use pdu::{MAX_PDU_SIZE, Pdu};
pub use receive::{ReceiveError, Received, receive_batch, receive_pdu};
pub use state_key::StateKey;
