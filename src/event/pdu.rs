//! The PDU type and its parser.

use super::PduError;
use crate::crypto::{self, content_hash};
use crate::id::{EventId, LengthLimit, RoomId, UserId};
use crate::json::{self, Object, ParseOptions, Value};
use crate::redact::{redact, write_redacted_signing_bytes};
use crate::room_version::{EventFormat, RoomVersion};

/// The largest PDU, as canonical JSON in federation form: 65,536 bytes.
pub const MAX_PDU_SIZE: usize = 65_536;

/// The longest `sender`, `room_id`, `event_id`, `type` and `state_key`.
const MAX_FIELD_LEN: usize = 255;

/// A parsed, checked PDU of a known room version.
///
/// Holds the event exactly as received, plus what every later step needs and would
/// otherwise recompute: the event ID, the room ID (derived from the event itself for a
/// room-version-12 create event), the parsed identifiers and references, and the
/// canonical bytes that its signatures cover (its redacted form).
#[derive(Debug, Clone, PartialEq)]
pub struct Pdu {
    object: Object,
    version: RoomVersion,
    event_id: EventId,
    room_id: RoomId,
    sender: UserId,
    event_type: Box<str>,
    state_key: Option<Box<str>>,
    prev_events: Vec<EventId>,
    auth_events: Vec<EventId>,
    depth: i64,
    origin_server_ts: i64,
    signed_bytes: Vec<u8>,
    exceeds_byte_limits: bool,
    /// Where `content` sits in `object` (read on every authorization check).
    content_index: usize,
    /// What the authorization rules read of a member event's content, read once
    /// (they read it of every member event in the state an event is checked against).
    member_content: MemberContent,
    /// The type, when one the rules single out.
    kind: EventKind,
}

impl Pdu {
    /// Parses untrusted bytes as a PDU of `version`.
    ///
    /// Checks, in this order: canonical JSON with the version's strictness (room
    /// versions 6+ strict), a JSON object, the 65,536-byte limit on its canonical form,
    /// then every field (see [`Pdu::from_object`]).
    ///
    /// # Errors
    ///
    /// A [`PduError`] naming the first problem.
    pub fn from_bytes(bytes: &[u8], version: &RoomVersion) -> Result<Self, PduError> {
        // A PDU over the limit cannot be canonical JSON of under the limit either way;
        // refuse clearly oversized input before parsing it.
        let options = ParseOptions::for_strictness(version.strict_canonical_json)
            .with_max_len(MAX_PDU_SIZE.saturating_mul(4));
        let Value::Object(object) = json::parse(bytes, &options)? else {
            return Err(PduError::NotAnObject);
        };
        // Strict parsing already refused non-canonical numbers, and the canonical form
        // of strict JSON is never longer than its text (it drops whitespace and
        // duplicate keys and writes escapes as raw UTF-8), so short strict input needs
        // no second look. Lenient floats can grow (`1e2` is written `100.0`).
        if version.strict_canonical_json && bytes.len() <= MAX_PDU_SIZE {
            return Self::from_object_lenient(object, version);
        }
        Self::from_object(object, version)
    }

    /// Parses a `serde_json` value (as a bridge or a server built on `serde_json` holds
    /// events) as a PDU of `version`, with the checks of [`Pdu::from_object`].
    ///
    /// Numbers convert exactly within 64 bits; an event that needs more (possible only
    /// before room version 6) should come through [`Pdu::from_bytes`] instead.
    ///
    /// # Errors
    ///
    /// [`PduError::NotAnObject`] for anything but an object; else as
    /// [`Pdu::from_object`].
    pub fn from_json_value(
        value: serde_json::Value,
        version: &RoomVersion,
    ) -> Result<Self, PduError> {
        match value {
            serde_json::Value::Object(map) => Self::from_object(Object::from(map), version),
            _ => Err(PduError::NotAnObject),
        }
    }

    /// Checks an already parsed event as a PDU of `version`.
    ///
    /// Required: `type`, `sender` (a user ID, historical forms allowed), `room_id`
    /// (absent on a room-version-12 create event, which defines the room ID),
    /// `content` (an object), `origin_server_ts` and `depth` (integers, depth not
    /// negative), `prev_events` and `auth_events` (lists of event IDs, or of
    /// `[event_id, hashes]` pairs in room versions 1 and 2), `hashes` and `signatures`
    /// (objects); `state_key` is optional and a string; `event_id` is required in
    /// room versions 1 and 2 and forbidden after. From room version 6 every number must
    /// be a strict canonical-JSON integer; the canonical form must fit in 65,536 bytes.
    ///
    /// # Errors
    ///
    /// A [`PduError`] naming the first problem.
    pub fn from_object(object: Object, version: &RoomVersion) -> Result<Self, PduError> {
        let mut canonical = Vec::with_capacity(1024);
        json::write_object_filtered(&object, |_| true, &mut canonical);
        let len = canonical.len();
        if len > MAX_PDU_SIZE {
            return Err(PduError::TooLarge {
                len,
                max: MAX_PDU_SIZE,
            });
        }
        if version.strict_canonical_json && !object.values().all(Value::is_strict_canonical) {
            return Err(PduError::Json(json::CanonicalJsonError::FloatNotAllowed {
                offset: 0,
            }));
        }
        Self::from_object_lenient(object, version)
    }

    /// Advanced: [`Pdu::from_object`] without its two whole-event checks, the
    /// 65,536-byte limit on the canonical form and (room versions 6+) strict
    /// canonical-JSON numbers. Every field check still applies, so the result reads
    /// like any other PDU.
    ///
    /// Use it only to judge an event that is known to have passed those checks
    /// already, or that a peer is known to judge without them: the conformance tool,
    /// for instance, replays events that Synapse parses into events (Synapse applies
    /// the size and number checks on receipt, not when it builds an event from JSON).
    /// For anything received from the network use [`Pdu::from_bytes`] or
    /// [`Pdu::from_object`], which refuse what the protocol refuses.
    ///
    /// ```
    /// use matrix_serverlib::event::Pdu;
    /// use matrix_serverlib::json::{self, ParseOptions, Value};
    /// use matrix_serverlib::room_version::RoomVersion;
    ///
    /// // A float: not canonical JSON in room version 11, but every field is in order.
    /// let event = json::parse(
    ///     br#"{"type":"m.room.message","sender":"@a:x.example","room_id":"!r:x.example",
    ///     "content":{"n":1.5},"prev_events":[],"auth_events":[],"depth":2,
    ///     "origin_server_ts":2,"hashes":{},"signatures":{}}"#,
    ///     &ParseOptions::lenient(),
    /// )?;
    /// let Value::Object(event) = event else { return Err("not an object".into()) };
    /// assert!(Pdu::from_object(event.clone(), &RoomVersion::V11).is_err());
    /// let pdu = Pdu::from_object_lenient(event, &RoomVersion::V11)?;
    /// assert_eq!(pdu.event_type(), "m.room.message");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    ///
    /// A [`PduError`] naming the first field in error.
    pub fn from_object_lenient(object: Object, version: &RoomVersion) -> Result<Self, PduError> {
        let limit = if version.strict_event_byte_limits {
            LengthLimit::Bytes
        } else {
            LengthLimit::CodePoints
        };
        let event_type = string_field(&object, "type")?;
        check_len("type", event_type, limit)?;
        let state_key = match object.get("state_key") {
            None => None,
            Some(Value::String(key)) => {
                check_len("state_key", key, limit)?;
                Some(Box::from(key.as_str()))
            }
            Some(_) => {
                return Err(PduError::WrongType {
                    field: "state_key",
                    expected: "a string",
                });
            }
        };
        let sender =
            UserId::parse_with_limit(string_field(&object, "sender")?, limit).map_err(|error| {
                PduError::InvalidId {
                    field: "sender",
                    error,
                }
            })?;
        require_object(&object, "content")?;
        require_object(&object, "hashes")?;
        // Synapse parses events without `signatures` (they fail verification later).
        if object
            .get("signatures")
            .is_some_and(|value| value.as_object().is_none())
        {
            return Err(PduError::WrongType {
                field: "signatures",
                expected: "an object",
            });
        }
        if object
            .get("unsigned")
            .is_some_and(|value| value.as_object().is_none())
        {
            return Err(PduError::WrongType {
                field: "unsigned",
                expected: "an object",
            });
        }
        let origin_server_ts = integer_field(&object, "origin_server_ts")?;
        let depth = integer_field(&object, "depth")?;
        if depth < 0 {
            return Err(PduError::DepthOutOfRange { depth });
        }
        let legacy = version.event_format == EventFormat::EventIdInPdu;
        let prev_events = references(&object, "prev_events", legacy, limit)?;
        let auth_events = references(&object, "auth_events", legacy, limit)?;
        let mut signed_bytes = Vec::with_capacity(512);
        write_redacted_signing_bytes(&object, version, &mut signed_bytes);
        let event_id = if legacy {
            EventId::parse_with_limit(string_field(&object, "event_id")?, limit).map_err(
                |error| PduError::InvalidId {
                    field: "event_id",
                    error,
                },
            )?
        } else {
            if object.contains_key("event_id") {
                return Err(PduError::ForbiddenField {
                    field: "event_id",
                    room_version: version.id,
                });
            }
            let hash = crypto::sha256(&signed_bytes);
            EventId::from_reference_hash(&hash, version.event_id_format)
        };
        let room_id = room_id(&object, version, event_type, &event_id, limit)?;
        let exceeds_byte_limits = !version.strict_event_byte_limits
            && [
                sender.as_str(),
                room_id.as_str(),
                event_id.as_str(),
                event_type,
            ]
            .iter()
            .chain(state_key.as_deref().iter())
            .any(|field| field.len() > MAX_FIELD_LEN);
        let content_index = object_content_index(&object);
        let member_content = MemberContent::of(&object, content_index);
        let kind = EventKind::of(event_type);
        Ok(Self {
            kind,
            event_type: event_type.into(),
            object,
            version: *version,
            event_id,
            room_id,
            sender,
            state_key,
            prev_events,
            auth_events,
            depth,
            origin_server_ts,
            signed_bytes,
            exceeds_byte_limits,
            content_index,
            member_content,
        })
    }

    /// The event ID.
    #[must_use]
    pub fn event_id(&self) -> &EventId {
        &self.event_id
    }

    /// The room ID (for a room-version-12 create event, the one it defines).
    #[must_use]
    pub fn room_id(&self) -> &RoomId {
        &self.room_id
    }

    /// The sender.
    #[must_use]
    pub fn sender(&self) -> &UserId {
        &self.sender
    }

    /// The event type.
    #[must_use]
    pub fn event_type(&self) -> &str {
        &self.event_type
    }

    /// The state key, for state events.
    #[must_use]
    pub fn state_key(&self) -> Option<&str> {
        self.state_key.as_deref()
    }

    /// True for state events (those with a `state_key`).
    #[must_use]
    pub fn is_state(&self) -> bool {
        self.state_key.is_some()
    }

    /// The content.
    #[must_use]
    pub fn content(&self) -> &Object {
        self.object
            .value_at(self.content_index)
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY)
    }

    /// `content.membership`, when it is a string (member events carry one).
    #[must_use]
    pub fn membership(&self) -> Option<&str> {
        match self.member_content.membership {
            MembershipField::Absent => None,
            MembershipField::Known(index) => KNOWN_MEMBERSHIPS.get(usize::from(index)).copied(),
            MembershipField::Other => self.content().get("membership").and_then(Value::as_str),
        }
    }

    /// The type, as far as the rules single it out (known without comparing the type
    /// again).
    pub(crate) fn kind(&self) -> EventKind {
        self.kind
    }

    /// True when this is the state event of `kind` with the empty state key (the
    /// create, power-levels and join-rules events the rules read).
    pub(crate) fn is_singleton(&self, kind: EventKind) -> bool {
        self.kind == kind && self.state_key.as_deref() == Some("")
    }

    /// True when the content has `third_party_invite` (read without touching the
    /// content).
    pub(crate) fn has_third_party_invite(&self) -> bool {
        self.member_content.third_party_invite
    }

    /// True when the content has `join_authorised_via_users_server` (read without
    /// touching the content).
    pub(crate) fn has_join_authoriser(&self) -> bool {
        self.member_content.authoriser
    }

    /// The IDs of the events this one follows.
    #[must_use]
    pub fn prev_events(&self) -> &[EventId] {
        &self.prev_events
    }

    /// The IDs of the events that authorise this one, as listed (room version 12 never
    /// lists the create event).
    #[must_use]
    pub fn auth_events(&self) -> &[EventId] {
        &self.auth_events
    }

    /// The depth.
    #[must_use]
    pub fn depth(&self) -> i64 {
        self.depth
    }

    /// The sending server's timestamp, in milliseconds since the epoch.
    #[must_use]
    pub fn origin_server_ts(&self) -> i64 {
        self.origin_server_ts
    }

    /// The event a redaction redacts: `content.redacts` from room version 11, the
    /// top-level `redacts` before.
    #[must_use]
    pub fn redacts(&self) -> Option<&str> {
        let holder = if self.version.redaction.keeps_redaction_redacts {
            self.content()
        } else {
            &self.object
        };
        holder.get("redacts").and_then(Value::as_str)
    }

    /// The room version.
    #[must_use]
    pub fn room_version(&self) -> &RoomVersion {
        &self.version
    }

    /// The whole event as received.
    #[must_use]
    pub fn as_object(&self) -> &Object {
        &self.object
    }

    /// The whole event as received.
    #[must_use]
    pub fn into_object(self) -> Object {
        self.object
    }

    /// The canonical bytes the event's signatures cover: its redacted form without
    /// `signatures` and `unsigned`. Its SHA-256 is the reference hash.
    #[must_use]
    pub fn signed_bytes(&self) -> &[u8] {
        &self.signed_bytes
    }

    /// The canonical JSON of the whole event.
    #[must_use]
    pub fn to_canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.signed_bytes.len() * 2);
        json::write_object_filtered(&self.object, |_| true, &mut out);
        out
    }

    /// True when `hashes.sha256` matches the content.
    #[must_use]
    pub fn content_hash_ok(&self) -> bool {
        crypto::check_content_hash(&self.object)
    }

    /// The content hash of the event.
    #[must_use]
    pub fn content_hash(&self) -> [u8; 32] {
        content_hash(&self.object)
    }

    /// True when, in a room version before 11, an identifier or the type is over 255
    /// bytes though within 255 code points. Synapse stores such events as rejected
    /// rather than dropping them; callers should treat them as failing authorization.
    #[must_use]
    pub fn exceeds_byte_limits(&self) -> bool {
        self.exceeds_byte_limits
    }

    /// The event redacted by its version's rules, as a PDU with the same event ID.
    #[must_use]
    pub fn redacted(&self) -> Self {
        let object = redact(&self.object, &self.version);
        // The redacted form keeps every field the checks read, and what the signatures
        // cover is unchanged, so only the object is replaced.
        let content_index = object_content_index(&object);
        Self {
            content_index,
            member_content: MemberContent::of(&object, content_index),
            object,
            ..self.clone()
        }
    }

    /// The event as redacted by `redaction`: [`Pdu::redacted`] with the redaction
    /// event under `unsigned.redacted_because`, as servers serve a redacted event to
    /// clients and to other servers. Whether the redaction may strip this event is
    /// [`crate::redact::may_redact`]'s question; ask it first.
    #[must_use]
    pub fn redacted_because(&self, redaction: &Self) -> Self {
        let mut redacted = self.redacted();
        let mut unsigned = match redacted.object.remove("unsigned") {
            Some(Value::Object(unsigned)) => unsigned,
            _ => Object::new(),
        };
        let mut because = redaction.object.clone();
        because.remove("unsigned");
        // From room version 3 the event ID is not in the event; keep it with the copy.
        because.insert("event_id", Value::from(redaction.event_id().as_str()));
        unsigned.insert("redacted_because", Value::Object(because));
        redacted.object.insert("unsigned", Value::Object(unsigned));
        // `unsigned` sorts after `content`, so the content index is unchanged.
        redacted.content_index = object_content_index(&redacted.object);
        redacted
    }

    /// The redaction recorded in `unsigned.redacted_because`, if this event carries
    /// one (see [`Pdu::redacted_because`]).
    #[must_use]
    pub fn redacted_by(&self) -> Option<&Object> {
        self.object
            .get("unsigned")
            .and_then(Value::as_object)
            .and_then(|unsigned| unsigned.get("redacted_because"))
            .and_then(Value::as_object)
    }
}

static EMPTY: Object = Object::new();

/// `content.membership` as a PDU keeps it: the values the rules compare against by
/// their place in a table, so that reading one touches nothing but the PDU itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MembershipField {
    /// Absent, or not a string.
    Absent,
    /// The one at this index of [`KNOWN_MEMBERSHIPS`].
    Known(u8),
    /// Another string, read from the content when asked for.
    Other,
}

/// The memberships the rules compare against.
const KNOWN_MEMBERSHIPS: [&str; 5] = ["join", "leave", "invite", "ban", "knock"];

/// The event types the authorization rules and state resolution single out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// `m.room.create`.
    Create,
    /// `m.room.power_levels`.
    PowerLevels,
    /// `m.room.join_rules`.
    JoinRules,
    /// `m.room.member`.
    Member,
    /// `m.room.third_party_invite`.
    ThirdPartyInvite,
    /// `m.room.aliases`.
    Aliases,
    /// `m.room.redaction`.
    Redaction,
    /// Any other type.
    Other,
}

impl EventKind {
    /// The kind of `event_type`.
    pub(crate) fn of(event_type: &str) -> Self {
        match event_type {
            "m.room.create" => Self::Create,
            "m.room.power_levels" => Self::PowerLevels,
            "m.room.join_rules" => Self::JoinRules,
            "m.room.member" => Self::Member,
            "m.room.third_party_invite" => Self::ThirdPartyInvite,
            "m.room.aliases" => Self::Aliases,
            "m.room.redaction" => Self::Redaction,
            _ => Self::Other,
        }
    }
}

/// What the authorization rules read of a member event's content, kept in the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MemberContent {
    membership: MembershipField,
    /// `content.third_party_invite` is present.
    third_party_invite: bool,
    /// `content.join_authorised_via_users_server` is present.
    authoriser: bool,
}

impl MemberContent {
    /// Reads the content of `object`, which is at `content_index`.
    fn of(object: &Object, content_index: usize) -> Self {
        let content = object
            .value_at(content_index)
            .and_then(Value::as_object)
            .unwrap_or(&EMPTY);
        let membership = match content.get("membership").and_then(Value::as_str) {
            None => MembershipField::Absent,
            Some(membership) => (0..)
                .zip(KNOWN_MEMBERSHIPS)
                .find(|&(_, known)| known == membership)
                .map_or(MembershipField::Other, |(index, _)| {
                    MembershipField::Known(index)
                }),
        };
        Self {
            membership,
            third_party_invite: content.contains_key("third_party_invite"),
            authoriser: content.contains_key("join_authorised_via_users_server"),
        }
    }
}

/// Where `content` sits in a PDU's object; checked PDUs always have it.
fn object_content_index(object: &Object) -> usize {
    object.index_of("content").unwrap_or(usize::MAX)
}

fn string_field<'a>(object: &'a Object, field: &'static str) -> Result<&'a str, PduError> {
    match object.get(field) {
        None => Err(PduError::MissingField { field }),
        Some(Value::String(text)) => Ok(text),
        Some(_) => Err(PduError::WrongType {
            field,
            expected: "a string",
        }),
    }
}

fn integer_field(object: &Object, field: &'static str) -> Result<i64, PduError> {
    match object.get(field) {
        None => Err(PduError::MissingField { field }),
        Some(value) => value.as_i64().ok_or(PduError::WrongType {
            field,
            expected: "an integer",
        }),
    }
}

fn require_object(object: &Object, field: &'static str) -> Result<(), PduError> {
    match object.get(field) {
        None => Err(PduError::MissingField { field }),
        Some(Value::Object(_)) => Ok(()),
        Some(_) => Err(PduError::WrongType {
            field,
            expected: "an object",
        }),
    }
}

fn check_len(field: &'static str, text: &str, limit: LengthLimit) -> Result<(), PduError> {
    let len = match limit {
        LengthLimit::Bytes => text.len(),
        _ => text.chars().count(),
    };
    if len > MAX_FIELD_LEN {
        return Err(PduError::FieldTooLong { field, len });
    }
    Ok(())
}

/// `prev_events` or `auth_events`: event IDs, or `[event_id, hashes]` pairs in room
/// versions 1 and 2.
fn references(
    object: &Object,
    field: &'static str,
    legacy: bool,
    limit: LengthLimit,
) -> Result<Vec<EventId>, PduError> {
    let expected = if legacy {
        "a list of [event_id, hashes] pairs"
    } else {
        "a list of event IDs"
    };
    let wrong = || PduError::WrongType { field, expected };
    let items = match object.get(field) {
        None => return Err(PduError::MissingField { field }),
        Some(value) => value.as_array().ok_or_else(wrong)?,
    };
    items
        .iter()
        .map(|item| {
            let id = if legacy {
                match item.as_array() {
                    Some([Value::String(id), Value::Object(_)]) => id,
                    _ => return Err(wrong()),
                }
            } else {
                item.as_str().ok_or_else(wrong)?
            };
            EventId::parse_with_limit(id, limit)
                .map_err(|error| PduError::InvalidId { field, error })
        })
        .collect()
}

/// The room ID: from `room_id`, or derived from the event itself for a room-version-12
/// create event (which must not carry one).
fn room_id(
    object: &Object,
    version: &RoomVersion,
    event_type: &str,
    event_id: &EventId,
    limit: LengthLimit,
) -> Result<RoomId, PduError> {
    if version.room_id_from_create_event && event_type == "m.room.create" {
        if object.contains_key("room_id") {
            return Err(PduError::ForbiddenField {
                field: "room_id",
                room_version: version.id,
            });
        }
        return RoomId::from_create_event_id(event_id).map_err(|error| PduError::InvalidId {
            field: "room_id",
            error,
        });
    }
    RoomId::parse_with_limit(string_field(object, "room_id")?, limit).map_err(|error| {
        PduError::InvalidId {
            field: "room_id",
            error,
        }
    })
}

impl serde::Serialize for Pdu {
    /// Serializes the event as received, in federation format (for the canonical bytes,
    /// use [`Pdu::to_canonical_bytes`]).
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.object, serializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;
    use crate::event::EventBuilder;

    fn message(version: &RoomVersion) -> Pdu {
        let key = SigningKey::from_seed("ed25519:1", [3; 32]);
        let mut builder = EventBuilder::new(version, "@alice:example.org", "m.room.message")
            .room_id("!room:example.org")
            .depth(5)
            .origin_server_ts(1_000);
        if version.event_format == EventFormat::EventIdInPdu {
            builder = builder.event_id("$abc:example.org");
        }
        builder.build("example.org", &key).unwrap()
    }

    fn reparse(pdu: &Pdu, edit: impl FnOnce(&mut Object)) -> Result<Pdu, PduError> {
        let mut object = pdu.as_object().clone();
        edit(&mut object);
        Pdu::from_object(object, pdu.room_version())
    }

    #[test]
    fn round_trips_through_bytes_in_every_version() {
        for version in &RoomVersion::ALL {
            let pdu = message(version);
            let parsed = Pdu::from_bytes(&pdu.to_canonical_bytes(), version).unwrap();
            assert_eq!(parsed, pdu, "room version {}", version.id);
            assert!(parsed.content_hash_ok());
        }
    }

    #[test]
    fn kinds_are_the_exact_types() {
        let kinds = [
            ("m.room.create", EventKind::Create),
            ("m.room.power_levels", EventKind::PowerLevels),
            ("m.room.join_rules", EventKind::JoinRules),
            ("m.room.member", EventKind::Member),
            ("m.room.third_party_invite", EventKind::ThirdPartyInvite),
            ("m.room.aliases", EventKind::Aliases),
            ("m.room.redaction", EventKind::Redaction),
            ("m.room.message", EventKind::Other),
            ("m.room.member ", EventKind::Other),
            ("M.room.create", EventKind::Other),
            ("", EventKind::Other),
        ];
        let pdu = message(&RoomVersion::V11);
        for (event_type, kind) in kinds {
            assert_eq!(EventKind::of(event_type), kind, "{event_type:?}");
            let typed = reparse(&pdu, |o| {
                o.insert("type", Value::from(event_type));
                o.insert("state_key", Value::from(""));
            })
            .unwrap();
            assert_eq!(typed.kind(), kind);
            assert!(typed.is_singleton(kind));
            assert_eq!(typed.redacted().kind(), kind);
        }
        assert!(!pdu.is_singleton(EventKind::Other));
    }

    #[test]
    fn membership_is_the_contents_and_survives_redaction() {
        let pdu = message(&RoomVersion::V11);
        assert_eq!(pdu.membership(), None);
        let with = |membership: Value| {
            reparse(&pdu, |o| {
                if let Some(Value::Object(content)) = o.get_mut("content") {
                    content.insert("membership", membership);
                    content.insert("join_authorised_via_users_server", Value::from("@a:b"));
                }
                o.insert("type", Value::from("m.room.member"));
                o.insert("state_key", Value::from("@alice:example.org"));
            })
            .unwrap()
        };
        for membership in ["join", "leave", "invite", "ban", "knock", "visit", ""] {
            let member = with(Value::from(membership));
            assert_eq!(member.membership(), Some(membership));
            assert!(member.has_join_authoriser());
            assert!(!member.has_third_party_invite());
            // Redaction keeps `membership` (and, from v8, the authorising server).
            let redacted = member.redacted();
            assert_eq!(redacted.membership(), Some(membership));
            assert!(redacted.has_join_authoriser());
        }
        assert_eq!(with(Value::from(1)).membership(), None);
        assert_eq!(with(Value::Null).membership(), None);
        let redacted_v1 = {
            let pdu = message(&RoomVersion::V1);
            reparse(&pdu, |o| {
                if let Some(Value::Object(content)) = o.get_mut("content") {
                    content.insert("join_authorised_via_users_server", Value::from("@a:b"));
                }
            })
            .unwrap()
            .redacted()
        };
        assert!(!redacted_v1.has_join_authoriser());
    }

    #[test]
    fn field_checks() {
        let pdu = message(&RoomVersion::V10);
        assert_eq!(
            reparse(&pdu, |o| drop(o.remove("type"))),
            Err(PduError::MissingField { field: "type" })
        );
        assert_eq!(
            reparse(&pdu, |o| drop(o.insert("depth", Value::from("1")))),
            Err(PduError::WrongType {
                field: "depth",
                expected: "an integer"
            })
        );
        assert_eq!(
            reparse(&pdu, |o| drop(o.insert("depth", Value::from(-1)))),
            Err(PduError::DepthOutOfRange { depth: -1 })
        );
        assert_eq!(
            reparse(&pdu, |o| drop(o.insert("event_id", Value::from("$x")))),
            Err(PduError::ForbiddenField {
                field: "event_id",
                room_version: "10"
            })
        );
        assert!(matches!(
            reparse(&pdu, |o| drop(o.insert("sender", Value::from("alice")))),
            Err(PduError::InvalidId {
                field: "sender",
                ..
            })
        ));
        assert!(matches!(
            reparse(&pdu, |o| drop(
                o.insert("prev_events", Value::from(vec![Value::from(1)]))
            )),
            Err(PduError::WrongType {
                field: "prev_events",
                ..
            })
        ));
        assert!(reparse(&pdu, |o| drop(o.remove("signatures"))).is_ok());
        let long_type = "t".repeat(256);
        assert_eq!(
            reparse(&pdu, |o| drop(
                o.insert("type", Value::from(long_type.as_str()))
            )),
            Err(PduError::FieldTooLong {
                field: "type",
                len: 256
            })
        );
        let big = "x".repeat(MAX_PDU_SIZE);
        assert!(matches!(
            reparse(&pdu, |o| drop(o.insert("junk", Value::from(big.as_str())))),
            Err(PduError::TooLarge { .. })
        ));
    }

    #[test]
    fn byte_limits_are_soft_before_v11() {
        // 200 code points, 400 bytes.
        let state_key = "é".repeat(200);
        let v10 = reparse(&message(&RoomVersion::V10), |o| {
            drop(o.insert("state_key", Value::from(state_key.as_str())))
        })
        .unwrap();
        assert!(v10.exceeds_byte_limits());
        let v11 = reparse(&message(&RoomVersion::V11), |o| {
            drop(o.insert("state_key", Value::from(state_key.as_str())))
        });
        assert_eq!(
            v11,
            Err(PduError::FieldTooLong {
                field: "state_key",
                len: 400
            })
        );
    }

    #[test]
    fn strict_versions_refuse_floats() {
        let bytes = br#"{"type":"m.room.message","content":{"x":1.5}}"#;
        assert!(matches!(
            Pdu::from_bytes(bytes, &RoomVersion::V6),
            Err(PduError::Json(_))
        ));
        assert!(matches!(
            Pdu::from_bytes(bytes, &RoomVersion::V5),
            Err(PduError::MissingField { .. })
        ));
        assert_eq!(
            Pdu::from_bytes(b"[1]", &RoomVersion::V5),
            Err(PduError::NotAnObject)
        );
    }

    #[test]
    fn legacy_references_and_redacts() {
        let pdu = message(&RoomVersion::V1);
        let pair = Value::from(vec![
            Value::from("$p:example.org"),
            Value::Object(Object::new()),
        ]);
        let with_prev = reparse(&pdu, |o| {
            drop(o.insert("prev_events", Value::from(vec![pair])))
        })
        .unwrap();
        assert_eq!(with_prev.prev_events()[0].as_str(), "$p:example.org");
        let redaction = reparse(&pdu, |o| {
            drop(o.insert("redacts", Value::from("$r:example.org")))
        })
        .unwrap();
        assert_eq!(redaction.redacts(), Some("$r:example.org"));
        assert_eq!(redaction.redacted().event_id(), redaction.event_id());
    }
}
