//! Building, hashing and signing new events.

use std::collections::BTreeMap;

use super::{Pdu, PduError};
use crate::auth::{AuthEvents, Rejection, auth_types, authorize};
use crate::base64;
use crate::crypto::{SignatureError, SigningKey, content_hash, sha256, sign_event};
use crate::dag::EventSource;
use crate::event::StateKey;
use crate::id::EventId;
use crate::json::{self, Object, Value};
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
    /// The authorization rules refuse the event ([`EventBuilder::build_in_room`]).
    #[error("the rules refuse the event: {0}")]
    Rejected(Rejection),
    /// A state event the rules read is named in the state but not available from the
    /// caller's events ([`EventBuilder::build_in_room`]).
    #[error("state event {event_id} is not available")]
    MissingEvent {
        /// Its ID.
        event_id: EventId,
    },
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
    redacts: Option<String>,
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
            redacts: None,
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

    /// Makes a redaction name the event it redacts, where the room version reads it:
    /// `content.redacts` from room version 11, the top-level `redacts` before.
    pub fn redacts(mut self, event_id: &str) -> Self {
        self.redacts = Some(event_id.to_owned());
        self
    }

    /// Sets another top-level field.
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
            redacts,
        } = self;
        if let Some(redacts) = redacts {
            if version.redaction.keeps_redaction_redacts {
                if let Some(Value::Object(content)) = object.get_mut("content") {
                    content.insert("redacts", Value::from(redacts));
                }
            } else {
                object.insert("redacts", Value::from(redacts));
            }
        }
        object.insert("prev_events", Value::Array(prev_events));
        object.insert("auth_events", Value::Array(auth_events));
        sign_event(&mut object, &version, server, key)?;
        Ok(Pdu::from_object(object, &version)?)
    }

    /// Builds the event into a room, in one call: on `prev_events`, against
    /// `state_before` (the room state before the event, with the events it names
    /// available from `events`), signed as `server` with `key`, and authorized.
    ///
    /// It fills in what the room decides, replacing what the builder was given:
    /// * the auth events: the entries [`auth_types`] names that `state_before` holds
    ///   (the create event left out in room version 12, where events never list it);
    /// * the prev events, and in room versions 1 and 2 the references' hashes;
    /// * the depth: one more than the deepest prev event (1 with none);
    /// * the room ID: the create event's; a room-version-12 create event gets none
    ///   (its ID defines the room), any other create event keeps the one set;
    /// * in room versions 1 and 2, where the sending server names events, an event ID
    ///   derived from the event's contents (`$<hash>:<server>`), unless one was set.
    ///
    /// Then it signs the event and runs [`authorize`] (rules B, C and the
    /// state-dependent rules) against the auth events it selected; an event the rules
    /// refuse is an error, never a PDU.
    ///
    /// # Errors
    ///
    /// [`BuildError::Rejected`] when the rules refuse the event (a member event without
    /// `membership` as [`Rejection::MalformedEvent`]); [`BuildError::MissingEvent`] when
    /// `events` lacks an event the state names; [`BuildError::Invalid`] and
    /// [`BuildError::Signing`] as [`EventBuilder::build`].
    ///
    /// ```
    /// use std::collections::BTreeMap;
    ///
    /// use matrix_serverlib::event::StateKey;
    /// use matrix_serverlib::crypto::SigningKey;
    /// use matrix_serverlib::event::{BuildError, EventBuilder, Pdu};
    /// use matrix_serverlib::json::{Object, Value};
    /// use matrix_serverlib::room_version::RoomVersion;
    ///
    /// let key = SigningKey::from_seed("ed25519:1", [1; 32]);
    /// let mut events: BTreeMap<_, Pdu> = BTreeMap::new();
    /// let mut state = BTreeMap::new();
    /// let mut last: Vec<Pdu> = Vec::new();
    /// for version in [RoomVersion::V1, RoomVersion::V11, RoomVersion::V12] {
    ///     events.clear();
    ///     state.clear();
    ///     last.clear();
    ///     let mut content = Object::new();
    ///     content.insert("creator", Value::from("@alice:a.example"));
    ///     let steps = [
    ///         ("m.room.create", Some(""), content),
    ///         ("m.room.member", Some("@alice:a.example"), {
    ///             let mut join = Object::new();
    ///             join.insert("membership", Value::from("join"));
    ///             join
    ///         }),
    ///         ("m.room.message", None, Object::new()),
    ///     ];
    ///     for (event_type, state_key, content) in steps {
    ///         let mut builder = EventBuilder::new(&version, "@alice:a.example", event_type)
    ///             .room_id("!room:a.example")
    ///             .content(content);
    ///         if let Some(state_key) = state_key {
    ///             builder = builder.state_key(state_key);
    ///         }
    ///         let prev: Vec<&Pdu> = last.iter().collect();
    ///         let pdu = builder.build_in_room(&state, &prev, &events, "a.example", &key)?;
    ///         if let Some(state_key) = pdu.state_key() {
    ///             state.insert(StateKey::new(pdu.event_type(), state_key), pdu.event_id().clone());
    ///         }
    ///         events.insert(pdu.event_id().clone(), pdu.clone());
    ///         last = vec![pdu];
    ///     }
    ///     // Bob is not in the room: the rules refuse his message, and nothing is built.
    ///     let prev: Vec<&Pdu> = last.iter().collect();
    ///     let refused = EventBuilder::new(&version, "@bob:b.example", "m.room.message")
    ///         .build_in_room(&state, &prev, &events, "b.example", &key);
    ///     assert!(matches!(refused, Err(BuildError::Rejected(_))));
    /// }
    /// # Ok::<(), BuildError>(())
    /// ```
    pub fn build_in_room<S: EventSource + ?Sized>(
        mut self,
        state_before: &BTreeMap<StateKey, EventId>,
        prev_events: &[&Pdu],
        events: &S,
        server: &str,
        key: &SigningKey,
    ) -> Result<Pdu, BuildError> {
        let version = self.version;
        let wanted = auth_types(&self.object, &version).map_err(BuildError::Rejected)?;
        let mut auth_pdus: Vec<&Pdu> = Vec::with_capacity(wanted.len());
        for entry in &wanted {
            if let Some(event_id) = state_before.get(entry) {
                let pdu = events
                    .event(event_id)
                    .ok_or_else(|| BuildError::MissingEvent {
                        event_id: event_id.clone(),
                    })?;
                auth_pdus.push(pdu);
            }
        }
        let create = auth_pdus
            .iter()
            .find(|pdu| pdu.event_type() == "m.room.create");
        if let Some(create) = create {
            self.object
                .insert("room_id", Value::from(create.room_id().as_str()));
        } else if version.room_id_from_create_event
            && self.object.get("type").and_then(Value::as_str) == Some("m.room.create")
        {
            self.object.remove("room_id");
        }
        let depth = prev_events
            .iter()
            .map(|pdu| pdu.depth())
            .max()
            .map_or(1, |deepest| deepest.saturating_add(1));
        self.object.insert("depth", Value::from(depth));
        let references = |pdus: &mut dyn Iterator<Item = &&Pdu>| -> Vec<Value> {
            pdus.map(|pdu| {
                let hash = base64::encode(content_hash(pdu.as_object()));
                self.reference(pdu.event_id().as_str(), Some(&hash))
            })
            .collect()
        };
        let prev_refs = references(&mut prev_events.iter());
        let listed: Vec<&Pdu> = auth_pdus
            .iter()
            .copied()
            .filter(|pdu| {
                !(version.room_id_from_create_event && pdu.event_type() == "m.room.create")
            })
            .collect();
        let auth_refs = references(&mut listed.iter());
        self.prev_events = prev_refs;
        self.auth_events = auth_refs;
        if version.event_format == EventFormat::EventIdInPdu
            && !self.object.contains_key("event_id")
        {
            // The sending server names events in these versions; a hash of everything
            // the event says is unique without a source of randomness.
            let mut draft = self.object.clone();
            draft.insert("prev_events", Value::Array(self.prev_events.clone()));
            draft.insert("auth_events", Value::Array(self.auth_events.clone()));
            let digest = sha256(&json::to_vec(&Value::Object(draft)));
            let event_id = format!("${}:{server}", base64::encode_url_safe(digest));
            self.object.insert("event_id", Value::from(event_id));
        }
        let pdu = self.build(server, key)?;
        let mut state = AuthEvents::new();
        for auth in &auth_pdus {
            state.insert_pdu(auth);
        }
        authorize(&pdu, &listed, &state).map_err(BuildError::Rejected)?;
        Ok(pdu)
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
