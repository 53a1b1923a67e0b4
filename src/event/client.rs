//! Events as clients see them: the client-server API's `ClientEvent`
//! (<https://spec.matrix.org/v1.16/client-server-api/#room-event-format>), made from a
//! [`Pdu`] and the facts only the server holds (the time, the sending device's
//! transaction ID, the state the event replaced), for servers and bridges alike.

use serde::ser::{Serialize, Serializer};

use super::Pdu;
use crate::json::{Object, Value};

/// The PDU fields a client sees; `auth_events`, `prev_events`, `hashes`,
/// `signatures`, `depth` and the other federation fields stay server-side.
const CLIENT_FIELDS: [&str; 7] = [
    "content",
    "event_id",
    "origin_server_ts",
    "redacts",
    "room_id",
    "sender",
    "state_key",
];

/// Which client shape to make.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientFormat {
    /// `ClientEvent`, with `room_id` (`/messages`, `/event`, `/context`, application
    /// service transactions).
    #[default]
    WithRoomId,
    /// `ClientEventWithoutRoomID`, as `/sync` lists events under their room.
    WithoutRoomId,
}

/// One PDU in the client format, with the `unsigned` data the caller supplies.
///
/// ```
/// use matrix_serverlib::crypto::SigningKey;
/// use matrix_serverlib::event::{ClientEvent, EventBuilder};
/// use matrix_serverlib::json::{Object, Value};
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let key = SigningKey::from_seed("ed25519:1", [1; 32]);
/// let mut content = Object::new();
/// content.insert("body", Value::from("hello"));
/// let pdu = EventBuilder::new(&RoomVersion::V11, "@alice:a.example", "m.room.message")
///     .room_id("!room:a.example")
///     .content(content)
///     .depth(2)
///     .origin_server_ts(1_000)
///     .build("a.example", &key)?;
///
/// let event = ClientEvent::new(&pdu).now(1_500).transaction_id("txn1").to_object();
/// assert_eq!(event.get("event_id").and_then(Value::as_str), Some(pdu.event_id().as_str()));
/// assert!(event.get("signatures").is_none() && event.get("depth").is_none());
/// let unsigned = event.get("unsigned").and_then(Value::as_object).ok_or("no unsigned")?;
/// assert_eq!(unsigned.get("age").and_then(Value::as_i64), Some(500));
/// assert_eq!(unsigned.get("transaction_id").and_then(Value::as_str), Some("txn1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct ClientEvent<'a> {
    pdu: &'a Pdu,
    format: ClientFormat,
    now: Option<i64>,
    transaction_id: Option<&'a str>,
    replaced: Option<&'a Pdu>,
    membership: Option<&'a str>,
}

impl<'a> ClientEvent<'a> {
    /// `pdu` in the client format, with room ID and no `unsigned` data yet.
    pub fn new(pdu: &'a Pdu) -> Self {
        Self {
            pdu,
            format: ClientFormat::WithRoomId,
            now: None,
            transaction_id: None,
            replaced: None,
            membership: None,
        }
    }

    /// Chooses the shape (with or without `room_id`).
    pub fn format(mut self, format: ClientFormat) -> Self {
        self.format = format;
        self
    }

    /// Adds `unsigned.age`: milliseconds from the event's timestamp (or the
    /// `unsigned.age_ts` the server recorded) to `now_ms`, never negative.
    pub fn now(mut self, now_ms: i64) -> Self {
        self.now = Some(now_ms);
        self
    }

    /// Adds `unsigned.transaction_id`. Only for the device that sent the event.
    pub fn transaction_id(mut self, transaction_id: &'a str) -> Self {
        self.transaction_id = Some(transaction_id);
        self
    }

    /// For a state event, the state event it replaced: adds `unsigned.prev_content`,
    /// `unsigned.prev_sender` and `unsigned.replaces_state`.
    pub fn replaced(mut self, previous: &'a Pdu) -> Self {
        self.replaced = Some(previous);
        self
    }

    /// Adds `unsigned.membership`: the viewer's membership in the room at the event.
    pub fn membership(mut self, membership: &'a str) -> Self {
        self.membership = Some(membership);
        self
    }

    /// The event as a JSON object.
    ///
    /// A redaction also carries `redacts` at the top level (from room version 11 it is
    /// copied out of `content`, as Synapse does for older clients); a redacted event
    /// (see [`Pdu::redacted_because`]) carries its redaction, in the client format, in
    /// `unsigned.redacted_because`.
    #[must_use]
    pub fn to_object(&self) -> Object {
        let pdu = self.pdu;
        let mut out = client_fields(pdu.as_object(), self.format);
        out.insert("event_id", Value::from(pdu.event_id().as_str()));
        out.insert("type", Value::from(pdu.event_type()));
        if self.format == ClientFormat::WithRoomId {
            // A room-version-12 create event has no `room_id`: it defines it.
            out.insert("room_id", Value::from(pdu.room_id().as_str()));
        }
        if let Some(redacts) = pdu.redacts() {
            out.insert("redacts", Value::from(redacts));
        }
        let mut unsigned = Object::new();
        if let Some(now) = self.now {
            let since = pdu
                .as_object()
                .get("unsigned")
                .and_then(Value::as_object)
                .and_then(|unsigned| unsigned.get("age_ts"))
                .and_then(Value::as_i64)
                .unwrap_or_else(|| pdu.origin_server_ts());
            unsigned.insert("age", Value::from(now.saturating_sub(since).max(0)));
        }
        if let Some(transaction_id) = self.transaction_id {
            unsigned.insert("transaction_id", Value::from(transaction_id));
        }
        if let Some(previous) = self.replaced {
            unsigned.insert("prev_content", Value::Object(previous.content().clone()));
            unsigned.insert("prev_sender", Value::from(previous.sender().as_str()));
            unsigned.insert("replaces_state", Value::from(previous.event_id().as_str()));
        }
        if let Some(membership) = self.membership {
            unsigned.insert("membership", Value::from(membership));
        }
        if let Some(redaction) = pdu.redacted_by() {
            let mut because = client_fields(redaction, self.format);
            if self.format == ClientFormat::WithRoomId {
                because.insert("room_id", Value::from(pdu.room_id().as_str()));
            }
            if let Some(redacts) = redaction
                .get("content")
                .and_then(Value::as_object)
                .and_then(|content| content.get("redacts"))
                .filter(|_| !because.contains_key("redacts"))
            {
                because.insert("redacts", redacts.clone());
            }
            unsigned.insert("redacted_because", Value::Object(because));
        }
        out.insert("unsigned", Value::Object(unsigned));
        out
    }
}

impl Serialize for ClientEvent<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_object().serialize(serializer)
    }
}

/// The client-visible fields of a federation-format event, and its `type`.
fn client_fields(event: &Object, format: ClientFormat) -> Object {
    event
        .iter()
        .filter(|(key, _)| {
            *key == "type"
                || (CLIENT_FIELDS.contains(key)
                    && !(format == ClientFormat::WithoutRoomId && *key == "room_id"))
        })
        .map(|(key, value)| (key.to_owned(), value.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::event::EventBuilder;
    use crate::room_version::RoomVersion;

    fn key() -> SigningKey {
        SigningKey::from_seed("ed25519:1", [3; 32])
    }

    fn message(version: &RoomVersion, body: &str, ts: i64) -> Pdu {
        let mut content = Object::new();
        content.insert("body", Value::from(body));
        content.insert("msgtype", Value::from("m.text"));
        EventBuilder::new(version, "@bob:b.example", "m.room.message")
            .room_id("!room:b.example")
            .content(content)
            .depth(3)
            .origin_server_ts(ts)
            .build("b.example", &key())
            .expect("message builds")
    }

    #[test]
    fn keeps_what_clients_read_and_drops_federation_fields() {
        let pdu = message(&RoomVersion::V10, "hi", 100);
        let event = ClientEvent::new(&pdu).to_object();
        let keys: Vec<&str> = event.keys().collect();
        assert_eq!(
            keys,
            [
                "content",
                "event_id",
                "origin_server_ts",
                "room_id",
                "sender",
                "type",
                "unsigned"
            ]
        );
        let sync = ClientEvent::new(&pdu)
            .format(ClientFormat::WithoutRoomId)
            .to_object();
        assert!(!sync.contains_key("room_id"));
        assert_eq!(sync.get("unsigned"), Some(&Value::Object(Object::new())));
    }

    #[test]
    fn a_v12_create_event_gets_the_room_id_it_defines() {
        let mut content = Object::new();
        content.insert("room_version", Value::from("12"));
        let create = EventBuilder::new(&RoomVersion::V12, "@a:a.example", "m.room.create")
            .state_key("")
            .content(content)
            .depth(1)
            .build("a.example", &key())
            .expect("create builds");
        let event = ClientEvent::new(&create).to_object();
        assert_eq!(
            event.get("room_id").and_then(Value::as_str),
            Some(create.room_id().as_str())
        );
        assert_eq!(event.get("state_key").and_then(Value::as_str), Some(""));
    }

    #[test]
    fn age_counts_from_age_ts_and_never_goes_negative() {
        let pdu = message(&RoomVersion::V11, "hi", 1_000);
        let age = |now| {
            ClientEvent::new(&pdu).now(now).to_object()["unsigned"]["age"]
                .as_i64()
                .expect("age")
        };
        assert_eq!(age(1_250), 250);
        assert_eq!(age(10), 0);
        assert_eq!(
            ClientEvent::new(&pdu).now(i64::MIN).to_object()["unsigned"]["age"].as_i64(),
            Some(0)
        );
    }

    #[test]
    fn replaced_state_fills_prev_content_and_prev_sender() {
        let version = RoomVersion::V11;
        let topic = |text: &str, depth| {
            let mut content = Object::new();
            content.insert("topic", Value::from(text));
            EventBuilder::new(&version, "@bob:b.example", "m.room.topic")
                .room_id("!room:b.example")
                .state_key("")
                .content(content)
                .depth(depth)
                .build("b.example", &key())
                .expect("topic builds")
        };
        let (old, new) = (topic("old", 2), topic("new", 3));
        let event = ClientEvent::new(&new).replaced(&old).to_object();
        let unsigned = &event["unsigned"];
        assert_eq!(unsigned["prev_content"]["topic"].as_str(), Some("old"));
        assert_eq!(unsigned["prev_sender"].as_str(), Some("@bob:b.example"));
        assert_eq!(
            unsigned["replaces_state"].as_str(),
            Some(old.event_id().as_str())
        );
    }

    #[test]
    fn a_redacted_event_shows_its_stripped_content_and_its_redaction() {
        for version in [RoomVersion::V10, RoomVersion::V11, RoomVersion::V12] {
            let target = message(&version, "secret", 5);
            let mut content = Object::new();
            content.insert("reason", Value::from("spam"));
            let mut builder = EventBuilder::new(&version, "@bob:b.example", "m.room.redaction")
                .room_id("!room:b.example")
                .depth(4)
                .origin_server_ts(9);
            if version.redaction.keeps_redaction_redacts {
                content.insert("redacts", Value::from(target.event_id().as_str()));
            } else {
                builder = builder.field("redacts", Value::from(target.event_id().as_str()));
            }
            let redaction = builder
                .content(content)
                .build("b.example", &key())
                .expect("redaction builds");
            let redacted = target.redacted_because(&redaction);
            assert_eq!(redacted.event_id(), target.event_id(), "{}", version.id);
            assert!(redacted.content().is_empty(), "{}", version.id);

            let event = ClientEvent::new(&redacted).to_object();
            let because = &event["unsigned"]["redacted_because"];
            assert_eq!(
                because["event_id"].as_str(),
                Some(redaction.event_id().as_str()),
                "{}",
                version.id
            );
            assert_eq!(
                because["redacts"].as_str(),
                Some(target.event_id().as_str()),
                "{}",
                version.id
            );
            assert_eq!(because["content"]["reason"].as_str(), Some("spam"));
            assert!(
                because
                    .as_object()
                    .is_some_and(|b| !b.contains_key("signatures"))
            );

            // The redaction itself names its target at the top level in every version.
            let shown = ClientEvent::new(&redaction).to_object();
            assert_eq!(
                shown.get("redacts").and_then(Value::as_str),
                Some(target.event_id().as_str()),
                "{}",
                version.id
            );
        }
    }
}
