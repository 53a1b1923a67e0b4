//! Application services (bridges) without I/O
//! (<https://spec.matrix.org/v1.16/application-service-api/>): registrations read
//! and checked as Synapse checks them, namespace matching with Synapse's anchoring,
//! who may take a user ID or alias, which services receive each room event and each
//! ephemeral event, masquerading as a user and device, and the requests to a service
//! (transactions, user and alias queries, ping) as data for the caller to send.
//!
//! Where the specification is silent the rules are Synapse's
//! (`synapse/appservice/__init__.py`, `synapse/config/appservice.py`,
//! `synapse/handlers/appservice.py`); each place says so. Namespace regexes run on the
//! linear-time `regex` engine under a size bound, so no registration can make
//! matching slow; patterns only a backtracking engine can run (look-around,
//! backreferences) are refused at load time.
//!
//! ```
//! use matrix_serverlib::appservice::{
//!     Registration, Registrations, RoomSnapshot, Transaction, TransactionCounter,
//! };
//! use matrix_serverlib::crypto::SigningKey;
//! use matrix_serverlib::event::{ClientEvent, EventBuilder};
//! use matrix_serverlib::id::ServerName;
//! use matrix_serverlib::json::Object;
//! use matrix_serverlib::room_version::RoomVersion;
//!
//! // A registration file, parsed by the caller (YAML or JSON) into a serde value.
//! let registration = Registration::from_json(&serde_json::json!({
//!     "id": "irc",
//!     "url": "http://127.0.0.1:9000",
//!     "as_token": "as-secret",
//!     "hs_token": "hs-secret",
//!     "sender_localpart": "_irc_bot",
//!     "namespaces": {
//!         "users": [{"exclusive": true, "regex": "@_irc_.*:example\\.org"}],
//!         "aliases": [{"exclusive": true, "regex": "#_irc_.*:example\\.org"}],
//!     },
//!     "receive_ephemeral": true,
//! }))?;
//! let services = Registrations::new(vec![registration], &ServerName::parse("example.org")?)?;
//!
//! // Ordinary users may not take the bridge's names.
//! assert!(services.exclusive_user_owner("@_irc_alice:example.org").is_some());
//! assert!(services.exclusive_user_owner("@alice:example.org").is_none());
//!
//! // A message in a room the bridge has no part in goes nowhere...
//! let key = SigningKey::from_seed("ed25519:1", [7; 32]);
//! let message = EventBuilder::new(&RoomVersion::V11, "@alice:example.org", "m.room.message")
//!     .room_id("!portal:example.org")
//!     .content(Object::new())
//!     .depth(5)
//!     .origin_server_ts(1_000)
//!     .build("example.org", &key)?;
//! let lonely = RoomSnapshot::new(&[] as &[&str], &["@alice:example.org"]);
//! assert!(services.interested_in_event(&message, &lonely).is_empty());
//!
//! // ...but reaches the bridge once one of its puppets has joined.
//! let members = ["@alice:example.org", "@_irc_bob:example.org"];
//! let portal = RoomSnapshot::new(&[] as &[&str], &members);
//! let interested = services.interested_in_event(&message, &portal);
//! assert_eq!(interested.len(), 1);
//!
//! // The transaction that carries it, with the next ID of the service's counter.
//! let mut counter = TransactionCounter::resume(41);
//! let service = interested[0];
//! let request = Transaction::new(service.registration(), counter.next_id().ok_or("exhausted")?)
//!     .event(&ClientEvent::new(&message).now(1_500))
//!     .to_request();
//! assert_eq!(request.method.as_str(), "PUT");
//! assert_eq!(
//!     request.url.as_deref(),
//!     Some("http://127.0.0.1:9000/_matrix/app/v1/transactions/42")
//! );
//! assert_eq!(request.authorization, "Bearer hs-secret");
//! let body = request.body.ok_or("no body")?;
//! assert_eq!(body["events"][0]["event_id"].as_str(), Some(message.event_id().as_str()));
//! assert!(body.contains_key("ephemeral"));
//!
//! // The bridge's own requests come back with its as_token.
//! assert_eq!(services.by_as_token("as-secret").map(|s| s.id()), Some("irc"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod ephemeral;
mod error;
mod interest;
mod masquerade;
mod registration;
mod request;
mod service;

pub use ephemeral::{presence_event, receipt_event, typing_event};
pub use error::{MasqueradeError, RegistrationError};
pub use interest::{RoomFacts, RoomSnapshot};
pub use masquerade::{Masquerade, MasqueradeCheck};
pub use registration::{Namespace, NamespaceKind, REGEX_SIZE_LIMIT, Registration};
pub use request::{
    AsRequest, Method, Transaction, TransactionCounter, alias_query, ping, user_query,
};
pub use service::{ApplicationService, Registrations};

#[cfg(test)]
mod tests;
