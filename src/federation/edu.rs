//! Typed EDUs (ephemeral data units) and their origin checks
//! (<https://spec.matrix.org/v1.16/server-server-api/#edus>): [`parse_edu`] reads one
//! `{"edu_type", "content"}` object of a transaction into an [`Edu`], keeping unknown
//! types as [`Edu::Unknown`]; [`check_edu_origin`] says whether every user the EDU
//! speaks for belongs to the sending server; [`Edu::to_object`] writes an EDU back, so
//! the typing, receipt and presence EDUs we send are built as values
//! ([`Edu::typing`], [`Edu::receipt`], [`Edu::presence`]) and encoded in one place.
//!
//! An EDU that fails to parse or fails its origin check is dropped on its own: it never
//! fails the transaction that carried it (Synapse logs and skips such EDUs).
//!
//! ```
//! use matrix_serverlib::federation::edu::{self, Edu};
//! use matrix_serverlib::id::{RoomId, UserId};
//!
//! let sent = Edu::typing(
//!     RoomId::parse("!room:remote.example")?,
//!     UserId::parse("@alice:remote.example")?,
//!     true,
//! );
//! let received = edu::parse_edu(&sent.to_object())?;
//! assert_eq!(received, sent);
//! assert!(edu::check_edu_origin(&received, "remote.example").is_ok());
//! assert!(edu::check_edu_origin(&received, "evil.example").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use crate::federation::error::{ErrorCode, MatrixError};
use crate::id::{EventId, IdError, RoomId, UserId};
use crate::json::{Object, Value};

/// The most user receipts (room × receipt type × user entries) one `m.receipt` EDU may
/// carry.
pub const MAX_RECEIPTS: usize = 1_000;

/// The most event IDs one user's receipt may list (Synapse sends one).
pub const MAX_RECEIPT_EVENT_IDS: usize = 100;

/// The most updates one `m.presence` EDU may carry (Synapse sends at most 50).
pub const MAX_PRESENCE_UPDATES: usize = 1_000;

/// The most to-device messages (user × device entries) one `m.direct_to_device` EDU may
/// carry.
pub const MAX_TO_DEVICE_MESSAGES: usize = 10_000;

/// `edu_type` of typing notifications.
pub const TYPING: &str = "m.typing";
/// `edu_type` of read receipts.
pub const RECEIPT: &str = "m.receipt";
/// `edu_type` of presence updates.
pub const PRESENCE: &str = "m.presence";
/// `edu_type` of device list updates.
pub const DEVICE_LIST_UPDATE: &str = "m.device_list_update";
/// `edu_type` of send-to-device messages.
pub const DIRECT_TO_DEVICE: &str = "m.direct_to_device";
/// `edu_type` of cross-signing key updates.
pub const SIGNING_KEY_UPDATE: &str = "m.signing_key_update";

/// One EDU of a transaction.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Edu {
    /// `m.device_list_update`: a user's device was added, changed or deleted.
    DeviceListUpdate(DeviceListUpdate),
    /// `m.direct_to_device`: send-to-device messages from one sender.
    DirectToDevice(DirectToDevice),
    /// `m.presence`: presence updates of the origin's users.
    Presence(Vec<PresenceUpdate>),
    /// `m.receipt`: read receipts, room by room.
    Receipt(Receipts),
    /// `m.signing_key_update`: a user's cross-signing keys changed.
    SigningKeyUpdate(SigningKeyUpdate),
    /// `m.typing`: a user started or stopped typing in a room.
    Typing {
        /// The room.
        room_id: RoomId,
        /// The user typing.
        user_id: UserId,
        /// True while typing.
        typing: bool,
    },
    /// An EDU of a type this module does not know, kept as it came: unknown EDUs are
    /// ignored by servers that do not know them, never refused.
    Unknown {
        /// Its `edu_type`.
        edu_type: String,
        /// Its `content`.
        content: Object,
    },
}

/// Why an EDU was dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EduError {
    /// A user the EDU speaks for is not on the server that sent it.
    #[error("user {user_id} in {edu_type} is not on the origin {origin}")]
    ForeignUser {
        /// The EDU's type.
        edu_type: &'static str,
        /// The foreign user.
        user_id: String,
        /// The authenticated origin.
        origin: String,
    },
    /// A field holds an identifier that does not parse.
    #[error("{field} is not a valid identifier: {error}")]
    InvalidId {
        /// The field (a path such as `content.user_id`).
        field: &'static str,
        /// Why it does not parse.
        error: IdError,
    },
    /// A required field is missing.
    #[error("missing field {field}")]
    MissingField {
        /// The field.
        field: &'static str,
    },
    /// A list or map is over its limit.
    #[error("{what} has {count} entries, more than the limit of {max}")]
    TooMany {
        /// What is over the limit.
        what: &'static str,
        /// How many entries it has.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A field has the wrong JSON type.
    #[error("{field} is not {expected}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The type it must have.
        expected: &'static str,
    },
}

impl MatrixError for EduError {
    fn errcode(&self) -> ErrorCode {
        match self {
            Self::ForeignUser { .. } => ErrorCode::Forbidden,
            Self::TooMany { .. } => ErrorCode::TooLarge,
            Self::InvalidId { .. } | Self::MissingField { .. } | Self::WrongType { .. } => {
                ErrorCode::BadJson
            }
        }
    }
}

/// Read receipts by room, receipt type (`m.read`, `m.read.private`, ...) and user.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Receipts {
    /// room → receipt type → user → receipt.
    pub rooms: BTreeMap<RoomId, BTreeMap<String, BTreeMap<UserId, UserReceipt>>>,
}

impl Receipts {
    /// No receipts.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) `user_id`'s receipt of `receipt_type` in `room_id`.
    pub fn insert(
        &mut self,
        room_id: RoomId,
        receipt_type: impl Into<String>,
        user_id: UserId,
        receipt: UserReceipt,
    ) {
        self.rooms
            .entry(room_id)
            .or_default()
            .entry(receipt_type.into())
            .or_default()
            .insert(user_id, receipt);
    }

    /// Every receipt as (room, receipt type, user, receipt), in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&RoomId, &str, &UserId, &UserReceipt)> {
        self.rooms.iter().flat_map(|(room, types)| {
            types.iter().flat_map(move |(kind, users)| {
                users
                    .iter()
                    .map(move |(user, receipt)| (room, kind.as_str(), user, receipt))
            })
        })
    }

    /// How many user receipts there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// True when there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.rooms.is_empty()
    }

    /// Keeps only the receipts for which `keep` answers true, and drops emptied rooms.
    pub fn retain(&mut self, mut keep: impl FnMut(&RoomId, &str, &UserId, &UserReceipt) -> bool) {
        for (room, types) in &mut self.rooms {
            for (kind, users) in types.iter_mut() {
                users.retain(|user, receipt| keep(room, kind, user, receipt));
            }
            types.retain(|_, users| !users.is_empty());
        }
        self.rooms.retain(|_, types| !types.is_empty());
    }
}

/// One user's receipt: the events it covers and its `data` (`ts`, `thread_id`, ...).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UserReceipt {
    /// The events read.
    pub event_ids: Vec<EventId>,
    /// The receipt's data, such as `{"ts": 1700000000000}`.
    pub data: Object,
}

impl UserReceipt {
    /// A receipt of `event_ids` with `data`.
    #[must_use]
    pub fn new(event_ids: Vec<EventId>, data: Object) -> Self {
        Self { event_ids, data }
    }

    /// The `thread_id` of the receipt's data, if it names one.
    #[must_use]
    pub fn thread_id(&self) -> Option<&str> {
        self.data.get("thread_id").and_then(Value::as_str)
    }
}

/// One user's presence, as an `m.presence` EDU carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PresenceUpdate {
    /// The user.
    pub user_id: UserId,
    /// `online`, `unavailable` or `offline`.
    pub presence: String,
    /// Milliseconds since the user was last active. Required by the spec, but Synapse
    /// leaves it out when it has no last-active time, so it is optional here.
    pub last_active_ago: Option<i64>,
    /// Whether the user is currently active.
    pub currently_active: Option<bool>,
    /// The user's status message.
    pub status_msg: Option<String>,
}

impl PresenceUpdate {
    /// `user_id` is `presence`, with nothing else said.
    #[must_use]
    pub fn new(user_id: UserId, presence: impl Into<String>) -> Self {
        Self {
            user_id,
            presence: presence.into(),
            last_active_ago: None,
            currently_active: None,
            status_msg: None,
        }
    }

    /// Sets `last_active_ago`.
    #[must_use]
    pub fn with_last_active_ago(mut self, ms: i64) -> Self {
        self.last_active_ago = Some(ms);
        self
    }

    /// Sets `currently_active`.
    #[must_use]
    pub fn with_currently_active(mut self, active: bool) -> Self {
        self.currently_active = Some(active);
        self
    }

    /// Sets `status_msg`.
    #[must_use]
    pub fn with_status_msg(mut self, status_msg: impl Into<String>) -> Self {
        self.status_msg = Some(status_msg.into());
        self
    }
}

/// An `m.device_list_update`: the typed fields, and the whole validated content.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DeviceListUpdate {
    /// The user whose device changed.
    pub user_id: UserId,
    /// The device.
    pub device_id: String,
    /// The sender's stream position for this update.
    pub stream_id: i64,
    /// The content as received (`prev_id`, `deleted`, `keys`, ...).
    pub content: Object,
}

/// An `m.direct_to_device`: the typed fields, and the whole validated content.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct DirectToDevice {
    /// The user who sent the messages.
    pub sender: UserId,
    /// The event type of the messages (the content's `type`).
    pub message_type: String,
    /// The message ID, unique per sender, for de-duplication.
    pub message_id: String,
    /// The content as received; its `messages` is checked to be user → device → object.
    pub content: Object,
}

/// An `m.signing_key_update`: the user, and the whole validated content.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SigningKeyUpdate {
    /// The user whose cross-signing keys changed.
    pub user_id: UserId,
    /// The content as received (`master_key`, `self_signing_key`).
    pub content: Object,
}

impl Edu {
    /// A typing notification for `user_id` in `room_id`.
    #[must_use]
    pub fn typing(room_id: RoomId, user_id: UserId, typing: bool) -> Self {
        Self::Typing {
            room_id,
            user_id,
            typing,
        }
    }

    /// A receipt EDU carrying one receipt.
    #[must_use]
    pub fn receipt(
        room_id: RoomId,
        receipt_type: &str,
        user_id: UserId,
        receipt: UserReceipt,
    ) -> Self {
        let mut receipts = Receipts::new();
        receipts.insert(room_id, receipt_type, user_id, receipt);
        Self::Receipt(receipts)
    }

    /// A presence EDU carrying `updates`.
    #[must_use]
    pub fn presence(updates: Vec<PresenceUpdate>) -> Self {
        Self::Presence(updates)
    }

    /// The EDU's `edu_type`.
    #[must_use]
    pub fn edu_type(&self) -> &str {
        match self {
            Self::DeviceListUpdate(_) => DEVICE_LIST_UPDATE,
            Self::DirectToDevice(_) => DIRECT_TO_DEVICE,
            Self::Presence(_) => PRESENCE,
            Self::Receipt(_) => RECEIPT,
            Self::SigningKeyUpdate(_) => SIGNING_KEY_UPDATE,
            Self::Typing { .. } => TYPING,
            Self::Unknown { edu_type, .. } => edu_type,
        }
    }

    /// The EDU's `content`.
    #[must_use]
    pub fn content(&self) -> Object {
        match self {
            Self::DeviceListUpdate(update) => update.content.clone(),
            Self::DirectToDevice(message) => message.content.clone(),
            Self::SigningKeyUpdate(update) => update.content.clone(),
            Self::Unknown { content, .. } => content.clone(),
            Self::Presence(updates) => presence_content(updates),
            Self::Receipt(receipts) => receipt_content(receipts),
            Self::Typing {
                room_id,
                user_id,
                typing,
            } => Object::from_entries(vec![
                ("room_id".into(), Value::from(room_id.as_str())),
                ("typing".into(), Value::from(*typing)),
                ("user_id".into(), Value::from(user_id.as_str())),
            ]),
        }
    }

    /// The EDU as a transaction carries it: `{"content": ..., "edu_type": ...}`.
    #[must_use]
    pub fn to_object(&self) -> Object {
        Object::from_entries(vec![
            ("content".into(), Value::Object(self.content())),
            ("edu_type".into(), Value::from(self.edu_type())),
        ])
    }

    /// Every user the EDU speaks for, the users that must be on its origin: the typing
    /// user, the receipts' users, the presence users, the device-list or signing-key
    /// user, the to-device sender. Unknown EDUs name none.
    #[must_use]
    pub fn users(&self) -> BTreeSet<&UserId> {
        match self {
            Self::DeviceListUpdate(update) => BTreeSet::from([&update.user_id]),
            Self::DirectToDevice(message) => BTreeSet::from([&message.sender]),
            Self::SigningKeyUpdate(update) => BTreeSet::from([&update.user_id]),
            Self::Typing { user_id, .. } => BTreeSet::from([user_id]),
            Self::Presence(updates) => updates.iter().map(|update| &update.user_id).collect(),
            Self::Receipt(receipts) => receipts.iter().map(|(_, _, user, _)| user).collect(),
            Self::Unknown { .. } => BTreeSet::new(),
        }
    }
}

/// Parses one EDU object of a transaction (`{"edu_type", "content"}`).
///
/// Known types are checked against the spec's shapes; an unknown `edu_type` becomes
/// [`Edu::Unknown`], never an error.
///
/// # Errors
///
/// An [`EduError`]: `edu_type` not a string, `content` not an object, a required field
/// missing or of the wrong type, an identifier that does not parse, or a list over its
/// limit ([`MAX_RECEIPTS`], [`MAX_RECEIPT_EVENT_IDS`], [`MAX_PRESENCE_UPDATES`],
/// [`MAX_TO_DEVICE_MESSAGES`]).
pub fn parse_edu(edu: &Object) -> Result<Edu, EduError> {
    let edu_type = required(edu, "edu_type")?
        .as_str()
        .ok_or(EduError::WrongType {
            field: "edu_type",
            expected: "a string",
        })?;
    let content = required(edu, "content")?
        .as_object()
        .ok_or(EduError::WrongType {
            field: "content",
            expected: "an object",
        })?;
    match edu_type {
        TYPING => parse_typing(content),
        RECEIPT => parse_receipts(content).map(Edu::Receipt),
        PRESENCE => parse_presence(content).map(Edu::Presence),
        DEVICE_LIST_UPDATE => parse_device_list_update(content).map(Edu::DeviceListUpdate),
        DIRECT_TO_DEVICE => parse_direct_to_device(content).map(Edu::DirectToDevice),
        SIGNING_KEY_UPDATE => Ok(Edu::SigningKeyUpdate(SigningKeyUpdate {
            user_id: user_field(content, "content.user_id", "user_id")?,
            content: content.clone(),
        })),
        _ => Ok(Edu::Unknown {
            edu_type: edu_type.to_owned(),
            content: content.clone(),
        }),
    }
}

/// Checks that every user `edu` speaks for ([`Edu::users`]) is on `origin`, the
/// authenticated server that sent it.
///
/// The spec asks that typing, receipt and presence EDUs be about the origin's users;
/// Synapse also checks the device-list and signing-key user and the to-device sender.
/// Synapse skips a foreign receipt or presence entry and keeps the rest of that EDU;
/// here the whole EDU is dropped, which only differs for an EDU no honest server sends.
///
/// # Errors
///
/// [`EduError::ForeignUser`] naming the first user (in ID order) on another server.
pub fn check_edu_origin(edu: &Edu, origin: &str) -> Result<(), EduError> {
    match edu
        .users()
        .into_iter()
        .find(|user| user.server_name() != origin)
    {
        None => Ok(()),
        Some(user) => Err(EduError::ForeignUser {
            edu_type: known_type(edu),
            user_id: user.as_str().to_owned(),
            origin: origin.to_owned(),
        }),
    }
}

fn known_type(edu: &Edu) -> &'static str {
    match edu {
        Edu::DeviceListUpdate(_) => DEVICE_LIST_UPDATE,
        Edu::DirectToDevice(_) => DIRECT_TO_DEVICE,
        Edu::Presence(_) => PRESENCE,
        Edu::Receipt(_) => RECEIPT,
        Edu::SigningKeyUpdate(_) => SIGNING_KEY_UPDATE,
        Edu::Typing { .. } => TYPING,
        Edu::Unknown { .. } => "an unknown edu",
    }
}

fn parse_typing(content: &Object) -> Result<Edu, EduError> {
    let room_id = required(content, "room_id")?
        .as_str()
        .ok_or(EduError::WrongType {
            field: "content.room_id",
            expected: "a string",
        })?;
    let room_id = RoomId::parse(room_id).map_err(|error| EduError::InvalidId {
        field: "content.room_id",
        error,
    })?;
    let typing = required(content, "typing")?
        .as_bool()
        .ok_or(EduError::WrongType {
            field: "content.typing",
            expected: "a boolean",
        })?;
    Ok(Edu::Typing {
        room_id,
        user_id: user_field(content, "content.user_id", "user_id")?,
        typing,
    })
}

fn parse_receipts(content: &Object) -> Result<Receipts, EduError> {
    let mut receipts = Receipts::new();
    let mut count = 0usize;
    for (room, types) in content {
        let room_id = RoomId::parse(room).map_err(|error| EduError::InvalidId {
            field: "content.<room_id>",
            error,
        })?;
        let types = types.as_object().ok_or(EduError::WrongType {
            field: "content.<room_id>",
            expected: "an object",
        })?;
        for (kind, users) in types {
            let users = users.as_object().ok_or(EduError::WrongType {
                field: "content.<room_id>.<receipt_type>",
                expected: "an object",
            })?;
            count = count.saturating_add(users.len());
            if count > MAX_RECEIPTS {
                return Err(EduError::TooMany {
                    what: "content",
                    count,
                    max: MAX_RECEIPTS,
                });
            }
            for (user, receipt) in users {
                let user_id = UserId::parse(user).map_err(|error| EduError::InvalidId {
                    field: "content.<room_id>.<receipt_type>.<user_id>",
                    error,
                })?;
                let receipt = parse_user_receipt(receipt)?;
                receipts.insert(room_id.clone(), kind, user_id, receipt);
            }
        }
    }
    Ok(receipts)
}

fn parse_user_receipt(receipt: &Value) -> Result<UserReceipt, EduError> {
    const FIELD: &str = "content.<room_id>.<receipt_type>.<user_id>";
    let receipt = receipt.as_object().ok_or(EduError::WrongType {
        field: FIELD,
        expected: "an object",
    })?;
    let ids = required(receipt, "event_ids")?
        .as_array()
        .ok_or(EduError::WrongType {
            field: "event_ids",
            expected: "an array",
        })?;
    if ids.len() > MAX_RECEIPT_EVENT_IDS {
        return Err(EduError::TooMany {
            what: "event_ids",
            count: ids.len(),
            max: MAX_RECEIPT_EVENT_IDS,
        });
    }
    let event_ids = ids
        .iter()
        .map(|id| {
            let id = id.as_str().ok_or(EduError::WrongType {
                field: "event_ids",
                expected: "an array of strings",
            })?;
            EventId::parse(id).map_err(|error| EduError::InvalidId {
                field: "event_ids",
                error,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    // The spec requires `data`; a receipt without it reads as one with no data.
    let data = match receipt.get("data") {
        None => Object::new(),
        Some(data) => data.as_object().cloned().ok_or(EduError::WrongType {
            field: "data",
            expected: "an object",
        })?,
    };
    Ok(UserReceipt { event_ids, data })
}

fn parse_presence(content: &Object) -> Result<Vec<PresenceUpdate>, EduError> {
    let push = required(content, "push")?
        .as_array()
        .ok_or(EduError::WrongType {
            field: "content.push",
            expected: "an array",
        })?;
    if push.len() > MAX_PRESENCE_UPDATES {
        return Err(EduError::TooMany {
            what: "content.push",
            count: push.len(),
            max: MAX_PRESENCE_UPDATES,
        });
    }
    push.iter().map(parse_presence_update).collect()
}

fn parse_presence_update(update: &Value) -> Result<PresenceUpdate, EduError> {
    let update = update.as_object().ok_or(EduError::WrongType {
        field: "content.push",
        expected: "an array of objects",
    })?;
    let presence = required(update, "presence")?
        .as_str()
        .ok_or(EduError::WrongType {
            field: "content.push.presence",
            expected: "a string",
        })?;
    Ok(PresenceUpdate {
        user_id: user_field(update, "content.push.user_id", "user_id")?,
        presence: presence.to_owned(),
        last_active_ago: optional(update, "last_active_ago")
            .map(|value| {
                value.as_i64().ok_or(EduError::WrongType {
                    field: "content.push.last_active_ago",
                    expected: "an integer",
                })
            })
            .transpose()?,
        currently_active: optional(update, "currently_active")
            .map(|value| {
                value.as_bool().ok_or(EduError::WrongType {
                    field: "content.push.currently_active",
                    expected: "a boolean",
                })
            })
            .transpose()?,
        status_msg: optional(update, "status_msg")
            .map(|value| {
                value
                    .as_str()
                    .map(str::to_owned)
                    .ok_or(EduError::WrongType {
                        field: "content.push.status_msg",
                        expected: "a string",
                    })
            })
            .transpose()?,
    })
}

fn parse_device_list_update(content: &Object) -> Result<DeviceListUpdate, EduError> {
    let device_id = required(content, "device_id")?
        .as_str()
        .ok_or(EduError::WrongType {
            field: "content.device_id",
            expected: "a string",
        })?;
    let stream_id = required(content, "stream_id")?
        .as_i64()
        .ok_or(EduError::WrongType {
            field: "content.stream_id",
            expected: "an integer",
        })?;
    Ok(DeviceListUpdate {
        user_id: user_field(content, "content.user_id", "user_id")?,
        device_id: device_id.to_owned(),
        stream_id,
        content: content.clone(),
    })
}

fn parse_direct_to_device(content: &Object) -> Result<DirectToDevice, EduError> {
    let string = |key: &'static str, field: &'static str| {
        required(content, key)?
            .as_str()
            .map(str::to_owned)
            .ok_or(EduError::WrongType {
                field,
                expected: "a string",
            })
    };
    let message_type = string("type", "content.type")?;
    let message_id = string("message_id", "content.message_id")?;
    let messages = required(content, "messages")?
        .as_object()
        .ok_or(EduError::WrongType {
            field: "content.messages",
            expected: "an object",
        })?;
    let mut count = 0usize;
    for devices in messages.values() {
        let devices = devices.as_object().ok_or(EduError::WrongType {
            field: "content.messages.<user_id>",
            expected: "an object",
        })?;
        if !devices
            .values()
            .all(|message| message.as_object().is_some())
        {
            return Err(EduError::WrongType {
                field: "content.messages.<user_id>.<device_id>",
                expected: "an object",
            });
        }
        count = count.saturating_add(devices.len());
    }
    if count > MAX_TO_DEVICE_MESSAGES {
        return Err(EduError::TooMany {
            what: "content.messages",
            count,
            max: MAX_TO_DEVICE_MESSAGES,
        });
    }
    Ok(DirectToDevice {
        sender: user_field(content, "content.sender", "sender")?,
        message_type,
        message_id,
        content: content.clone(),
    })
}

fn required<'a>(object: &'a Object, key: &'static str) -> Result<&'a Value, EduError> {
    object.get(key).ok_or(EduError::MissingField { field: key })
}

/// The value of an optional field; an explicit `null` reads as absent.
fn optional<'a>(object: &'a Object, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|value| !value.is_null())
}

fn user_field(object: &Object, field: &'static str, key: &'static str) -> Result<UserId, EduError> {
    let text = required(object, key)?.as_str().ok_or(EduError::WrongType {
        field,
        expected: "a string",
    })?;
    UserId::parse(text).map_err(|error| EduError::InvalidId { field, error })
}

fn presence_content(updates: &[PresenceUpdate]) -> Object {
    let push = updates
        .iter()
        .map(|update| {
            let mut entry = Object::new();
            entry.insert("user_id", Value::from(update.user_id.as_str()));
            entry.insert("presence", Value::from(update.presence.as_str()));
            if let Some(ago) = update.last_active_ago {
                entry.insert("last_active_ago", Value::from(ago));
            }
            if let Some(active) = update.currently_active {
                entry.insert("currently_active", Value::from(active));
            }
            if let Some(status) = &update.status_msg {
                entry.insert("status_msg", Value::from(status.as_str()));
            }
            Value::Object(entry)
        })
        .collect::<Vec<_>>();
    Object::from_entries(vec![("push".into(), Value::Array(push))])
}

fn receipt_content(receipts: &Receipts) -> Object {
    let mut content = Object::new();
    for (room, types) in &receipts.rooms {
        let mut by_type = Object::new();
        for (kind, users) in types {
            let mut by_user = Object::new();
            for (user, receipt) in users {
                let ids = receipt
                    .event_ids
                    .iter()
                    .map(|id| Value::from(id.as_str()))
                    .collect::<Vec<_>>();
                let entry = Object::from_entries(vec![
                    ("data".into(), Value::Object(receipt.data.clone())),
                    ("event_ids".into(), Value::Array(ids)),
                ]);
                by_user.insert(user.as_str(), Value::Object(entry));
            }
            by_type.insert(kind.as_str(), Value::Object(by_user));
        }
        content.insert(room.as_str(), Value::Object(by_type));
    }
    content
}

#[cfg(test)]
#[path = "edu_tests.rs"]
mod tests;
