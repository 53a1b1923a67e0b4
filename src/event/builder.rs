//! Building, hashing and signing new events.

use super::{Pdu, PduError};
use crate::crypto::{SignatureError, SigningKey, sign_event};
use crate::json::{Object, Value};
use crate::room_version::{EventFormat, RoomVersion};

/// Why an event could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The finished event is not a valid PDU (for example a bad sender or room ID).
    #[error("built event is invalid: {0}")]
    Invalid(#[from] PduError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Signing(#[from] SignatureError),
}

/// Builds a new event: room version, sender, type, content, optional state key, prev
/// events, auth events, depth and timestamp come from the caller (there is no clock);
/// [`EventBuilder::build`] fills in the content hash, signs, and computes the event ID.
#[derive(Debug, Clone)]
#[must_use]
pub struct EventBuilder {
    version: RoomVersion,
    object: Object,
    prev_events: Vec<Value>,
    auth_events: Vec<Value>,
}

impl EventBuilder {
    /// Starts an event of `event_type` sent by `sender` with empty content, depth 0 and
    /// timestamp 0.
    pub fn new(version: &RoomVersion, sender: &str, event_type: &str) -> Self {
        let mut object = Object::new();
        object.insert("sender", Value::from(sender));
        object.insert("type", Value::from(event_type));
        object.insert("content", Value::Object(Object::new()));
        object.insert("depth", Value::from(0));
        object.insert("origin_server_ts", Value::from(0));
        Self {
            version: *version,
            object,
            prev_events: Vec::new(),
            auth_events: Vec::new(),
        }
    }

    /// Sets the room ID (every event but a room-version-12 create event has one).
    pub fn room_id(mut self, room_id: &str) -> Self {
        self.object.insert("room_id", Value::from(room_id));
        self
    }

    /// Sets the content.
    pub fn content(mut self, content: Object) -> Self {
        self.object.insert("content", Value::Object(content));
        self
    }

    /// Makes it a state event with this state key.
    pub fn state_key(mut self, state_key: &str) -> Self {
        self.object.insert("state_key", Value::from(state_key));
        self
    }

    /// Adds a previous event. In room versions 1 and 2 references carry the referenced
    /// event's hashes: use [`Self::prev_event_with_hash`] there.
    pub fn prev_event(mut self, event_id: &str) -> Self {
        self.prev_events.push(self.reference(event_id, None));
        self
    }

    /// Adds a previous event with its content hash (room versions 1 and 2).
    pub fn prev_event_with_hash(mut self, event_id: &str, sha256: &str) -> Self {
        self.prev_events
            .push(self.reference(event_id, Some(sha256)));
        self
    }

    /// Adds an auth event.
    pub fn auth_event(mut self, event_id: &str) -> Self {
        self.auth_events.push(self.reference(event_id, None));
        self
    }

    /// Adds an auth event with its content hash (room versions 1 and 2).
    pub fn auth_event_with_hash(mut self, event_id: &str, sha256: &str) -> Self {
        self.auth_events
            .push(self.reference(event_id, Some(sha256)));
        self
    }

    /// Sets the depth.
    pub fn depth(mut self, depth: i64) -> Self {
        self.object.insert("depth", Value::from(depth));
        self
    }

    /// Sets the timestamp, in milliseconds since the epoch.
    pub fn origin_server_ts(mut self, origin_server_ts: i64) -> Self {
        self.object
            .insert("origin_server_ts", Value::from(origin_server_ts));
        self
    }

    /// Sets the event ID, which room versions 1 and 2 carry in the event
    /// (`$opaque:server`, chosen by the sending server).
    pub fn event_id(mut self, event_id: &str) -> Self {
        self.object.insert("event_id", Value::from(event_id));
        self
    }

    /// Sets another top-level field (for example `redacts` before room version 11).
    pub fn field(mut self, key: &str, value: Value) -> Self {
        self.object.insert(key, value);
        self
    }

    /// Hashes and signs the event as `server` with `key`, and parses the result as a
    /// PDU (which computes the event ID).
    ///
    /// # Errors
    ///
    /// [`BuildError::Invalid`] when the fields do not make a valid PDU of the version,
    /// [`BuildError::Signing`] when signing fails.
    pub fn build(self, server: &str, key: &SigningKey) -> Result<Pdu, BuildError> {
        let Self {
            version,
            mut object,
            prev_events,
            auth_events,
        } = self;
        object.insert("prev_events", Value::Array(prev_events));
        object.insert("auth_events", Value::Array(auth_events));
        sign_event(&mut object, &version, server, key)?;
        Ok(Pdu::from_object(object, &version)?)
    }

    fn reference(&self, event_id: &str, sha256: Option<&str>) -> Value {
        if self.version.event_format != EventFormat::EventIdInPdu {
            return Value::from(event_id);
        }
        let mut hashes = Object::new();
        if let Some(sha256) = sha256 {
            hashes.insert("sha256", Value::from(sha256));
        }
        Value::Array(vec![Value::from(event_id), Value::Object(hashes)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{PublicKeys, verify_event_signatures};

    #[test]
    fn builds_v12_create_and_a_member_event() {
        let key = SigningKey::from_seed("ed25519:a", [5; 32]);
        let mut content = Object::new();
        content.insert("room_version", Value::from("12"));
        let create = EventBuilder::new(&RoomVersion::V12, "@a:s.example", "m.room.create")
            .state_key("")
            .content(content)
            .depth(1)
            .build("s.example", &key)
            .unwrap();
        assert_eq!(
            create.room_id().as_str()[1..],
            create.event_id().as_str()[1..]
        );
        let mut member = Object::new();
        member.insert("membership", Value::from("join"));
        let join = EventBuilder::new(&RoomVersion::V12, "@a:s.example", "m.room.member")
            .room_id(create.room_id().as_str())
            .state_key("@a:s.example")
            .content(member)
            .prev_event(create.event_id().as_str())
            .depth(2)
            .build("s.example", &key)
            .unwrap();
        assert_eq!(join.prev_events(), [create.event_id().clone()]);
        let mut keys = PublicKeys::new();
        keys.insert("s.example", "ed25519:a", key.public_key());
        verify_event_signatures(join.as_object(), &RoomVersion::V12, &keys).unwrap();
    }

    #[test]
    fn invalid_fields_are_refused() {
        let key = SigningKey::from_seed("ed25519:a", [5; 32]);
        let missing_room =
            EventBuilder::new(&RoomVersion::V11, "@a:s", "m.room.message").build("s", &key);
        assert!(matches!(
            missing_room,
            Err(BuildError::Invalid(PduError::MissingField {
                field: "room_id"
            }))
        ));
        let legacy_without_id = EventBuilder::new(&RoomVersion::V2, "@a:s", "m.room.message")
            .room_id("!r:s")
            .build("s", &key);
        assert!(matches!(
            legacy_without_id,
            Err(BuildError::Invalid(PduError::MissingField {
                field: "event_id"
            }))
        ));
    }
}
