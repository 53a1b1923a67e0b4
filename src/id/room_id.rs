//! Room IDs: `!opaque_id:server_name` (room versions 1 to 11) or `!` + the create
//! event's 43-character URL-safe base64 reference hash (version 12).

use super::error::IdError;
use super::event_id::EventId;
use super::length::LengthLimit;
use super::macros::string_id;
use super::sigil::{Alphabet, check_hash, check_localpart_and_server, split, strip_sigil};

/// A room ID, at most 255 bytes, in either form.
///
/// An ID with a `:` after the sigil is the form of room versions 1 to 11:
/// `!opaque_id:server_name`, split at the first `:`, the opaque ID any code points but
/// NUL (possibly empty), then a valid server name. Any other is the version-12 form:
/// `!` + exactly 43 URL-safe base64 characters, the create event's ID with `!` for
/// `$` ([`RoomId::from_create_event_id`]). Which form a room must use depends on its
/// version; [`RoomId::is_hash_based`] tells them apart.
///
/// ```
/// use matrix_serverlib::id::{EventId, RoomId};
///
/// let create = EventId::parse("$31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM")?;
/// let room = RoomId::from_create_event_id(&create)?;
/// assert_eq!(room, "!31hneApxJ_1o-63DmFrpeqnkFfWppnzWso1JvH3ogLM");
/// assert!(room.is_hash_based());
/// assert_eq!(room.create_event_id(), Some(create));
///
/// let old = RoomId::parse("!jEsUZKDJdhlrceRyVU:example.org")?;
/// assert_eq!(old.server_name(), Some("example.org"));
/// # Ok::<(), matrix_serverlib::id::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoomId(Box<str>);

string_id!(RoomId, check);

impl RoomId {
    /// Parses a room ID in either form.
    ///
    /// # Errors
    ///
    /// [`IdError::Empty`], [`IdError::TooLong`] (over 255 bytes),
    /// [`IdError::MissingSigil`]; for the `:` form the errors of a server name and
    /// [`IdError::InvalidCharacter`] for NUL; otherwise [`IdError::InvalidCharacter`]
    /// for a character outside URL-safe base64 and [`IdError::InvalidHashLength`].
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::try_from(text)
    }

    /// Parses a room ID with a chosen way of measuring the 255 limit (see
    /// [`LengthLimit`]).
    ///
    /// # Errors
    ///
    /// As [`RoomId::parse`].
    pub fn parse_with_limit(text: &str, limit: LengthLimit) -> Result<Self, IdError> {
        check_with_limit(text, limit)?;
        Ok(Self(Box::from(text)))
    }

    /// The version-12 room ID of a room whose create event has this ID (MSC4291): the
    /// same hash with `!` in place of `$`.
    ///
    /// # Errors
    ///
    /// [`IdError::InvalidCharacter`] when the event ID is not a URL-safe hash: a legacy
    /// ID (its `:`) or a version-3 ID using `+` or `/`.
    pub fn from_create_event_id(event_id: &EventId) -> Result<Self, IdError> {
        let mut chars = event_id.as_str().chars();
        chars.next();
        let hash = chars.as_str();
        check_hash(hash, Alphabet::UrlSafe)?;
        Ok(Self(format!("!{hash}").into_boxed_str()))
    }

    /// The text after the `!` sigil, up to the first `:` of a version 1 to 11 ID: the
    /// create event's hash, for version 12.
    #[must_use]
    pub fn opaque_id(&self) -> &str {
        split(&self.0).0
    }

    /// The server name of a version 1 to 11 room ID.
    #[must_use]
    pub fn server_name(&self) -> Option<&str> {
        split(&self.0).1
    }

    /// True for a version-12 ID, the hash of the create event, which has no server
    /// name.
    #[must_use]
    pub fn is_hash_based(&self) -> bool {
        self.server_name().is_none()
    }

    /// The create event's ID, for a version-12 (hash-based) room ID.
    #[must_use]
    pub fn create_event_id(&self) -> Option<EventId> {
        if self.is_hash_based() {
            EventId::parse(&format!("${}", self.opaque_id())).ok()
        } else {
            None
        }
    }
}

fn check(text: &str) -> Result<(), IdError> {
    check_with_limit(text, LengthLimit::Bytes)
}

fn check_with_limit(text: &str, limit: LengthLimit) -> Result<(), IdError> {
    let body = strip_sigil(text, '!', limit)?;
    if body.contains(':') {
        check_localpart_and_server(body).map(drop)
    } else {
        check_hash(body, Alphabet::UrlSafe)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        let old = RoomId::parse("!jEsUZKDJdhlrceRyVU:example.org").unwrap();
        assert_eq!(old.opaque_id(), "jEsUZKDJdhlrceRyVU");
        assert_eq!(old.server_name(), Some("example.org"));
        assert!(!old.is_hash_based());
        assert_eq!(old.create_event_id(), None);

        let new = RoomId::parse("!Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ").unwrap();
        assert_eq!(new.server_name(), None);
        assert!(new.is_hash_based());
        assert_eq!(
            new.opaque_id(),
            "Nhcu5BS-UMnFX7hBVfVSoXiD7OgH6iRT-xyIuqDnpYQ"
        );
    }

    #[test]
    fn legacy_localparts() {
        assert_eq!(RoomId::parse("!:example.org").unwrap().opaque_id(), "");
        assert_eq!(
            RoomId::parse("!a b\u{1}é:example.org").unwrap().opaque_id(),
            "a b\u{1}é"
        );
        assert_eq!(
            RoomId::parse("!a\0:example.org"),
            Err(IdError::InvalidCharacter {
                character: '\0',
                offset: 2
            })
        );
        assert!(matches!(
            RoomId::parse("!a:b:c"),
            Err(IdError::InvalidPort { .. })
        ));
    }

    #[test]
    fn hash_form_is_url_safe_only() {
        assert_eq!(
            RoomId::parse("!acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk"),
            Err(IdError::InvalidCharacter {
                character: '/',
                offset: 27
            })
        );
        assert_eq!(
            RoomId::parse("!abc"),
            Err(IdError::InvalidHashLength {
                expected: 43,
                len: 3
            })
        );
        assert_eq!(
            RoomId::parse("@abc:example.org"),
            Err(IdError::MissingSigil {
                expected: '!',
                found: '@'
            })
        );
    }

    #[test]
    fn from_create_event_id() {
        let standard = EventId::parse("$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk").unwrap();
        assert_eq!(
            RoomId::from_create_event_id(&standard),
            Err(IdError::InvalidCharacter {
                character: '/',
                offset: 27
            })
        );
        let legacy = EventId::parse("$abc:example.org").unwrap();
        assert_eq!(
            RoomId::from_create_event_id(&legacy),
            Err(IdError::InvalidCharacter {
                character: ':',
                offset: 4
            })
        );
    }

    #[test]
    fn length_boundary() {
        let server = ":example.org";
        let longest = format!("!{}{server}", "a".repeat(255 - 1 - server.len()));
        assert!(RoomId::parse(&longest).is_ok());
        let over = format!("!a{}", &longest[1..]);
        assert_eq!(
            RoomId::parse(&over),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
        let wide = format!("!{}{server}", "é".repeat(200));
        assert!(RoomId::parse(&wide).is_err());
        assert!(RoomId::parse_with_limit(&wide, LengthLimit::CodePoints).is_ok());
    }
}
