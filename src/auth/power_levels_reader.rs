//! Power levels as the authorization rules and state resolution read them.
//!
//! [`PowerLevels`] combines the room's `m.room.create` event (who the creators are) and
//! its `m.room.power_levels` event (if any) under one room version's rules: legacy
//! string levels (v1–9), legacy float levels truncated toward zero (v1–5), JSON
//! integers only (v10+), and infinitely powerful creators (v12).

use std::cmp::Ordering;
use std::fmt;

use super::fields::{content, str_field};
use crate::json::{Number, Object, Value};
use crate::room_version::{PowerLevelRules, RoomVersion};

/// The level a user holds in a room.
///
/// Ordered: every [`PowerLevel::Infinite`] level is above every finite one, so room
/// version 12 creators outrank any level a power-levels event can grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum PowerLevel {
    /// A level from the power-levels event or a default.
    Finite(i64),
    /// A room creator's level in room version 12 (greater than every integer).
    Infinite,
}

impl PowerLevel {
    /// The finite level, or `None` for [`PowerLevel::Infinite`].
    #[must_use]
    pub fn as_finite(self) -> Option<i64> {
        match self {
            Self::Finite(level) => Some(level),
            Self::Infinite => None,
        }
    }
}

impl From<i64> for PowerLevel {
    fn from(level: i64) -> Self {
        Self::Finite(level)
    }
}

impl PartialEq<i64> for PowerLevel {
    fn eq(&self, other: &i64) -> bool {
        *self == Self::Finite(*other)
    }
}

impl PartialOrd<i64> for PowerLevel {
    fn partial_cmp(&self, other: &i64) -> Option<Ordering> {
        Some(self.cmp(&Self::Finite(*other)))
    }
}

impl fmt::Display for PowerLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Finite(level) => write!(f, "{level}"),
            Self::Infinite => f.write_str("infinite (room creator)"),
        }
    }
}

/// The named levels of `m.room.power_levels` content, with their defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum NamedLevel {
    /// `ban` (default 50).
    Ban,
    /// `events_default` (default 0).
    EventsDefault,
    /// `invite` (default 0).
    Invite,
    /// `kick` (default 50).
    Kick,
    /// `redact` (default 50).
    Redact,
    /// `state_default` (default 50).
    StateDefault,
    /// `users_default` (default 0).
    UsersDefault,
}

impl NamedLevel {
    /// All seven, in the order the spec's rule for power-levels events lists them.
    pub const ALL: [Self; 7] = [
        Self::UsersDefault,
        Self::EventsDefault,
        Self::StateDefault,
        Self::Ban,
        Self::Redact,
        Self::Kick,
        Self::Invite,
    ];

    /// The content key.
    #[must_use]
    pub fn key(self) -> &'static str {
        match self {
            Self::Ban => "ban",
            Self::EventsDefault => "events_default",
            Self::Invite => "invite",
            Self::Kick => "kick",
            Self::Redact => "redact",
            Self::StateDefault => "state_default",
            Self::UsersDefault => "users_default",
        }
    }

    /// The level when the key is absent (or there is no power-levels event).
    #[must_use]
    pub fn default_level(self) -> i64 {
        match self {
            Self::EventsDefault | Self::Invite | Self::UsersDefault => 0,
            Self::Ban | Self::Kick | Self::Redact | Self::StateDefault => 50,
        }
    }
}

/// The default of `notifications.room`.
pub const DEFAULT_NOTIFICATIONS_ROOM: i64 = 50;

/// Why a level in `m.room.power_levels` content cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PowerLevelsError {
    /// The value at `path` is not an integer under the room version's rules.
    #[error("power level at {path} is not an integer: {value}")]
    NotAnInteger {
        /// Where the value is, such as `ban` or `users.@alice:example.org`.
        path: String,
        /// The value as canonical JSON.
        value: String,
    },
    /// `users`, `events` or `notifications` is not an object.
    #[error("power levels {path} is not an object")]
    NotAnObject {
        /// The key.
        path: String,
    },
}

/// Reads one power-level value under `rules`.
///
/// * JSON integers always count (beyond `i64` they saturate; only legacy room versions
///   can carry them).
/// * With [`PowerLevelRules::string_values`] (v1–9): strings as Python's `int()`,
///   which Synapse uses, reads them: optional surrounding whitespace, an optional `+`
///   or `-`, decimal digits of any script with single `_` between them. The spec's
///   grammar (ASCII digits only) is a subset; the network follows Synapse. Booleans
///   count as 0 and 1, as they do for `int()`.
/// * Floats, truncated toward zero, in every version before 10 (the spec says v1–5,
///   [`PowerLevelRules::float_values`]; Synapse takes them until v10, and in v6–9
///   they cannot arrive, since strict canonical JSON refuses them).
///
/// Anything else is `None`.
#[must_use]
pub fn parse_level(value: &Value, rules: &PowerLevelRules) -> Option<i64> {
    match value {
        Value::Number(number) => number_level(number, rules),
        Value::String(text) if rules.string_values => parse_level_string(text),
        // Python's bool is an int subclass: int(True) == 1. Only the integer-only
        // versions (v10+) reject it, by type.
        Value::Bool(flag) if !rules.integer_only => Some(i64::from(*flag)),
        _ => None,
    }
}

fn number_level(number: &Number, rules: &PowerLevelRules) -> Option<i64> {
    if number.is_float() {
        // The spec allows floats in v1–5 only ([`PowerLevelRules::float_values`]);
        // Synapse's `int()` takes them in every version before v10. In v6–9 a float
        // never reaches the rules, since the event is not strict canonical JSON, so
        // following Synapse here changes nothing for events received over federation.
        if rules.integer_only {
            return None;
        }
        let value = number.as_f64().trunc();
        // `as` saturates at the i64 bounds, which only matters beyond ±2^63.
        return value.is_finite().then_some(value as i64);
    }
    match number.as_i64() {
        Some(level) => Some(level),
        // An integer beyond i64: legacy versions only. Saturate by sign.
        None if number.to_string().starts_with('-') => Some(i64::MIN),
        None => Some(i64::MAX),
    }
}

/// A legacy string level, read as Python's `int()` reads it, since that decides what
/// Synapse, and so the network, accepted: surrounding whitespace, an optional sign,
/// then decimal digits of any script with single `_` between digits. The spec's own
/// grammar (ASCII digits, no `_`) is a subset.
fn parse_level_string(text: &str) -> Option<i64> {
    let trimmed = text.trim_matches(is_python_space);
    let (negative, digits) = match trimmed.chars().next() {
        Some('-') => (true, trimmed.get(1..)?),
        Some('+') => (false, trimmed.get(1..)?),
        _ => (false, trimmed),
    };
    let mut level: i64 = 0;
    let mut previous_was_digit = false;
    for c in digits.chars() {
        if c == '_' {
            if !previous_was_digit {
                return None;
            }
            previous_was_digit = false;
            continue;
        }
        let digit = decimal_digit(c)?;
        level = level.saturating_mul(10).saturating_add(i64::from(digit));
        previous_was_digit = true;
    }
    // Empty, or ending in `_`.
    if !previous_was_digit {
        return None;
    }
    Some(if negative {
        level.saturating_neg()
    } else {
        level
    })
}

/// Python's `str.isspace()`: Unicode white space plus the ASCII information
/// separators U+001C to U+001F.
fn is_python_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// The first code point of every run of ten decimal digits (Unicode category Nd) in
/// Unicode 14, the version of the Python that runs Synapse's reference answers.
const DIGIT_ZEROS: [u32; 66] = [
    0x30, 0x660, 0x6f0, 0x7c0, 0x966, 0x9e6, 0xa66, 0xae6, 0xb66, 0xbe6, 0xc66, 0xce6, 0xd66,
    0xde6, 0xe50, 0xed0, 0xf20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90,
    0x1b50, 0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
    0x104a0, 0x10d30, 0x11066, 0x110f0, 0x11136, 0x111d0, 0x112f0, 0x11450, 0x114d0, 0x11650,
    0x116c0, 0x11730, 0x118e0, 0x11950, 0x11c50, 0x11d50, 0x11da0, 0x16a60, 0x16ac0, 0x16b50,
    0x1d7ce, 0x1d7d8, 0x1d7e2, 0x1d7ec, 0x1d7f6, 0x1e140, 0x1e2f0, 0x1e950, 0x1fbf0,
];

/// The value of a decimal digit of any script, as Python's `int()` reads it.
fn decimal_digit(c: char) -> Option<u32> {
    let code = u32::from(c);
    let position = DIGIT_ZEROS.partition_point(|&zero| zero <= code);
    let zero = DIGIT_ZEROS.get(position.checked_sub(1)?)?;
    let value = code - zero;
    (value < 10).then_some(value)
}

/// A view of `m.room.power_levels` content under a room version's rules.
///
/// Values are read when asked for, so an unreadable entry only matters to a rule that
/// reads it (as in Synapse). JSON `null` counts as absent.
#[derive(Debug, Clone, Copy)]
pub struct PowerLevelsContent<'a> {
    content: &'a Object,
    rules: PowerLevelRules,
}

impl<'a> PowerLevelsContent<'a> {
    /// A view of `content` read with `version`'s power-level rules.
    #[must_use]
    pub fn new(content: &'a Object, version: &RoomVersion) -> Self {
        Self {
            content,
            rules: version.power_levels,
        }
    }

    /// The content viewed.
    #[must_use]
    pub fn content(&self) -> &'a Object {
        self.content
    }

    /// The named level as written, or `None` when absent.
    ///
    /// # Errors
    ///
    /// [`PowerLevelsError::NotAnInteger`] when present but not a level.
    pub fn named(&self, name: NamedLevel) -> Result<Option<i64>, PowerLevelsError> {
        self.level_at(self.content, name.key(), None)
    }

    /// The named level, or its default when absent.
    ///
    /// # Errors
    ///
    /// As [`PowerLevelsContent::named`].
    pub fn named_or_default(&self, name: NamedLevel) -> Result<i64, PowerLevelsError> {
        Ok(self.named(name)?.unwrap_or_else(|| name.default_level()))
    }

    /// `users[user]` as written, or `None` when absent.
    ///
    /// # Errors
    ///
    /// When `users` is not an object or the entry is not a level.
    pub fn user(&self, user: &str) -> Result<Option<i64>, PowerLevelsError> {
        self.map_entry("users", user)
    }

    /// `events[event_type]` as written, or `None` when absent.
    ///
    /// # Errors
    ///
    /// When `events` is not an object or the entry is not a level.
    pub fn event(&self, event_type: &str) -> Result<Option<i64>, PowerLevelsError> {
        self.map_entry("events", event_type)
    }

    /// `notifications[key]` as written, or `None` when absent.
    ///
    /// # Errors
    ///
    /// When `notifications` is not an object or the entry is not a level.
    pub fn notification(&self, key: &str) -> Result<Option<i64>, PowerLevelsError> {
        self.map_entry("notifications", key)
    }

    /// The level needed to send an event of `event_type`: `events[event_type]`, else
    /// `state_default` for state events, else `events_default`.
    ///
    /// # Errors
    ///
    /// When one of the entries read is not a level.
    pub fn required_level(
        &self,
        event_type: &str,
        is_state: bool,
    ) -> Result<i64, PowerLevelsError> {
        if let Some(level) = self.event(event_type)? {
            return Ok(level);
        }
        let name = if is_state {
            NamedLevel::StateDefault
        } else {
            NamedLevel::EventsDefault
        };
        self.named_or_default(name)
    }

    /// The object under `key` (`users`, `events`, `notifications`), or `None` when
    /// absent.
    ///
    /// # Errors
    ///
    /// [`PowerLevelsError::NotAnObject`] when present but not an object.
    pub fn map(&self, key: &str) -> Result<Option<&'a Object>, PowerLevelsError> {
        match self.content.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(map)) => Ok(Some(map)),
            Some(_) => Err(PowerLevelsError::NotAnObject { path: key.into() }),
        }
    }

    /// Reads `value` (found at `path`) as a level.
    ///
    /// # Errors
    ///
    /// [`PowerLevelsError::NotAnInteger`] when it is not one.
    pub fn level(&self, value: &Value, path: &str) -> Result<i64, PowerLevelsError> {
        parse_level(value, &self.rules).ok_or_else(|| PowerLevelsError::NotAnInteger {
            path: path.into(),
            value: crate::json::to_string(value),
        })
    }

    /// Reads `value`, the entry `key` of the map `map`, as a level; `null` reads as
    /// absent.
    ///
    /// # Errors
    ///
    /// [`PowerLevelsError::NotAnInteger`] when it is not a level.
    pub fn entry_level(
        &self,
        map: &str,
        key: &str,
        value: &Value,
    ) -> Result<Option<i64>, PowerLevelsError> {
        match value {
            Value::Null => Ok(None),
            value => parse_level(value, &self.rules).map(Some).ok_or_else(|| {
                PowerLevelsError::NotAnInteger {
                    path: format!("{map}.{key}"),
                    value: crate::json::to_string(value),
                }
            }),
        }
    }

    fn map_entry(&self, map: &str, key: &str) -> Result<Option<i64>, PowerLevelsError> {
        match self.map(map)? {
            Some(entries) => self.level_at(entries, key, Some(map)),
            None => Ok(None),
        }
    }

    fn level_at(
        &self,
        object: &Object,
        key: &str,
        parent: Option<&str>,
    ) -> Result<Option<i64>, PowerLevelsError> {
        match object.get(key) {
            None | Some(Value::Null) => Ok(None),
            // The path is only built for the error, off the hot path.
            Some(value) => parse_level(value, &self.rules).map(Some).ok_or_else(|| {
                let path = match parent {
                    Some(parent) => format!("{parent}.{key}"),
                    None => key.to_owned(),
                };
                PowerLevelsError::NotAnInteger {
                    path,
                    value: crate::json::to_string(value),
                }
            }),
        }
    }
}

/// Who holds power in a room: the create event's creators and the power-levels event
/// (if there is one), under one room version's rules.
///
/// ```
/// use matrix_serverlib::auth::{PowerLevel, PowerLevels};
/// use matrix_serverlib::json::{self, ParseOptions};
/// use matrix_serverlib::room_version::RoomVersion;
///
/// let create = json::parse(
///     br#"{"type":"m.room.create","sender":"@alice:a.example","content":{}}"#,
///     &ParseOptions::strict(),
/// )?;
/// let create = create.as_object().ok_or("not an object")?;
/// let levels = PowerLevels::new(&RoomVersion::V12, create, None);
/// assert_eq!(levels.user_level("@alice:a.example")?, PowerLevel::Infinite);
/// assert_eq!(levels.user_level("@bob:b.example")?, PowerLevel::Finite(0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PowerLevels<'a> {
    version: RoomVersion,
    create: &'a Object,
    content: Option<PowerLevelsContent<'a>>,
}

impl<'a> PowerLevels<'a> {
    /// The power of the room whose create event is `create` and whose
    /// `m.room.power_levels` event (if any) is `power_levels`.
    #[must_use]
    pub fn new(
        version: &RoomVersion,
        create: &'a Object,
        power_levels: Option<&'a Object>,
    ) -> Self {
        let content = power_levels.map(|event| PowerLevelsContent::new(content(event), version));
        Self {
            version: *version,
            create,
            content,
        }
    }

    /// The power-levels content, when the room has a power-levels event.
    #[must_use]
    pub fn content(&self) -> Option<PowerLevelsContent<'a>> {
        self.content
    }

    /// True when `user` is a creator with infinite power: in room version 12, the
    /// create event's `sender` or one of its `content.additional_creators`.
    #[must_use]
    pub fn is_creator(&self, user: &str) -> bool {
        if !self.version.auth.creators_infinite_power {
            return false;
        }
        if str_field(self.create, "sender") == Some(user) {
            return true;
        }
        content(self.create)
            .get("additional_creators")
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|entry| entry.as_str() == Some(user)))
    }

    /// The level of `user`.
    ///
    /// * v12 creators: [`PowerLevel::Infinite`];
    /// * with a power-levels event: `users[user]`, else `users_default`, else 0;
    /// * without one: 100 for the creator (v1–10 `content.creator`, v11+ the create
    ///   event's `sender`), 0 for everyone else.
    ///
    /// # Errors
    ///
    /// When a value read is not a level under the room version's rules.
    pub fn user_level(&self, user: &str) -> Result<PowerLevel, PowerLevelsError> {
        if self.is_creator(user) {
            return Ok(PowerLevel::Infinite);
        }
        let Some(levels) = self.content else {
            let creator = if self.version.auth.creator_in_content {
                content(self.create).get("creator").and_then(Value::as_str)
            } else {
                str_field(self.create, "sender")
            };
            let level = if creator == Some(user) { 100 } else { 0 };
            return Ok(PowerLevel::Finite(level));
        };
        let level = match levels.user(user)? {
            Some(level) => level,
            None => levels.named_or_default(NamedLevel::UsersDefault)?,
        };
        Ok(PowerLevel::Finite(level))
    }

    /// The level needed to send an event of `event_type` (a state event when
    /// `is_state`): `events[event_type]`, else `state_default` (50) or
    /// `events_default` (0).
    ///
    /// # Errors
    ///
    /// When a value read is not a level.
    pub fn required_level(
        &self,
        event_type: &str,
        is_state: bool,
    ) -> Result<i64, PowerLevelsError> {
        match self.content {
            Some(content) => content.required_level(event_type, is_state),
            None if is_state => Ok(NamedLevel::StateDefault.default_level()),
            None => Ok(NamedLevel::EventsDefault.default_level()),
        }
    }

    /// A named level (`ban`, `invite`, `kick`, `redact`, ...), or its default.
    ///
    /// # Errors
    ///
    /// When the value is not a level.
    pub fn named_level(&self, name: NamedLevel) -> Result<i64, PowerLevelsError> {
        match self.content {
            Some(content) => content.named_or_default(name),
            None => Ok(name.default_level()),
        }
    }

    /// `notifications[key]`; `room` defaults to 50, other keys to `None`.
    ///
    /// # Errors
    ///
    /// When the value is not a level.
    pub fn notification_level(&self, key: &str) -> Result<Option<i64>, PowerLevelsError> {
        let written = match self.content {
            Some(content) => content.notification(key)?,
            None => None,
        };
        Ok(written.or_else(|| (key == "room").then_some(DEFAULT_NOTIFICATIONS_ROOM)))
    }
}
