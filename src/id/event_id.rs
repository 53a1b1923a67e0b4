//! Event IDs: `$opaque_id:server_name` (room versions 1 and 2) or `$` + a 43-character
//! base64 reference hash (standard alphabet in version 3, URL-safe from version 4).

use super::error::IdError;
use super::length::LengthLimit;
use super::macros::string_id;
use super::sigil::{Alphabet, check_hash, check_localpart_and_server, split, strip_sigil};

/// The format of event IDs in a room version.
///
/// Variants are in room-version order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EventIdFormat {
    /// Room versions 1 and 2: `$opaque_id:server_name`, chosen by the sending server.
    Legacy,
    /// Room version 3: `$` + the reference hash in unpadded standard base64 (`+`, `/`).
    Base64Standard,
    /// Room versions 4 and later: `$` + the reference hash in unpadded URL-safe base64
    /// (`-`, `_`).
    Base64UrlSafe,
}

/// An event ID, at most 255 bytes, in any of the [`EventIdFormat`]s.
///
/// [`EventId::parse`] (also `FromStr`, `TryFrom` and serde) accepts every format, for
/// data whose room version is unknown; [`EventId::parse_for_format`] requires the
/// format of a known room version. An ID with a `:` after the sigil is a legacy ID
/// (split at the first `:`, the localpart any code points but NUL, possibly empty, then
/// a valid server name); any other is a hash of exactly 43 characters of one base64
/// alphabet, not both. The hash is not decoded, so its trailing bits are not checked.
///
/// ```
/// use matrix_serverlib::id::{EventId, EventIdFormat};
///
/// let id = EventId::parse_for_format(
///     "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg",
///     EventIdFormat::Base64UrlSafe,
/// )?;
/// assert_eq!(id.server_name(), None);
/// assert!(!id.matches_format(EventIdFormat::Base64Standard));
///
/// let legacy = EventId::parse("$a4ecee13e2accdadf56c1025:example.com")?;
/// assert_eq!(legacy.server_name(), Some("example.com"));
/// # Ok::<(), matrix_serverlib::id::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(Box<str>);

string_id!(EventId, check);

impl EventId {
    /// Parses an event ID in any format.
    ///
    /// # Errors
    ///
    /// [`IdError::Empty`], [`IdError::TooLong`] (over 255 bytes),
    /// [`IdError::MissingSigil`]; for a legacy ID (one with a `:`) the errors of a
    /// server name and [`IdError::InvalidCharacter`] for NUL; otherwise
    /// [`IdError::InvalidCharacter`] for a character of neither or of both base64
    /// alphabets and [`IdError::InvalidHashLength`].
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::try_from(text)
    }

    /// The event ID of a reference hash (room versions 3 and later): `$` and its
    /// unpadded base64, standard or URL-safe as `format` says. Such text is always a
    /// valid event ID, so nothing is re-parsed.
    pub(crate) fn from_reference_hash(hash: &[u8; 32], format: EventIdFormat) -> Self {
        let encoded = match format {
            EventIdFormat::Base64Standard => crate::base64::encode(hash),
            _ => crate::base64::encode_url_safe(hash),
        };
        let mut id = String::with_capacity(44);
        id.push('$');
        id.push_str(&encoded);
        Self(id.into_boxed_str())
    }

    /// Parses an event ID in any format with a chosen way of measuring the 255 limit
    /// (see [`LengthLimit`]).
    ///
    /// # Errors
    ///
    /// As [`EventId::parse`].
    pub fn parse_with_limit(text: &str, limit: LengthLimit) -> Result<Self, IdError> {
        check_any(text, limit)?;
        Ok(Self(Box::from(text)))
    }

    /// Parses an event ID that must have the given format.
    ///
    /// # Errors
    ///
    /// As [`EventId::parse`]; a hash where a legacy ID is required fails with
    /// [`IdError::MissingColon`], a legacy ID or the other alphabet where a hash is
    /// required with [`IdError::InvalidCharacter`].
    pub fn parse_for_format(text: &str, format: EventIdFormat) -> Result<Self, IdError> {
        let body = strip_sigil(text, '$', LengthLimit::Bytes)?;
        check_body(body, format)?;
        Ok(Self(Box::from(text)))
    }

    /// The text after the `$` sigil, up to the first `:` of a legacy ID: the hash, for
    /// versions 3 and later.
    #[must_use]
    pub fn opaque_id(&self) -> &str {
        split(&self.0).0
    }

    /// The server name of a legacy (version 1 and 2) event ID.
    #[must_use]
    pub fn server_name(&self) -> Option<&str> {
        split(&self.0).1
    }

    /// True when the ID is valid in the given format. A hash using only letters and
    /// digits is valid in both base64 formats.
    #[must_use]
    pub fn matches_format(&self, format: EventIdFormat) -> bool {
        let mut chars = self.0.chars();
        chars.next();
        check_body(chars.as_str(), format).is_ok()
    }
}

fn check(text: &str) -> Result<(), IdError> {
    check_any(text, LengthLimit::Bytes)
}

fn check_any(text: &str, limit: LengthLimit) -> Result<(), IdError> {
    let body = strip_sigil(text, '$', limit)?;
    if body.contains(':') {
        check_localpart_and_server(body).map(drop)
    } else {
        check_hash(body, Alphabet::Either)
    }
}

/// Checks the text after the sigil against one format.
fn check_body(body: &str, format: EventIdFormat) -> Result<(), IdError> {
    match format {
        EventIdFormat::Legacy => check_localpart_and_server(body).map(drop),
        EventIdFormat::Base64Standard => check_hash(body, Alphabet::Standard),
        EventIdFormat::Base64UrlSafe => check_hash(body, Alphabet::UrlSafe),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3: &str = "$acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk";
    const V4: &str = "$Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg";
    const LEGACY: &str = "$a4ecee13e2accdadf56c1025:example.com";
    const PLAIN: &str = "$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    #[test]
    fn formats_are_told_apart() {
        let cases = [
            (LEGACY, [true, false, false]),
            (V3, [false, true, false]),
            (V4, [false, false, true]),
            (PLAIN, [false, true, true]),
        ];
        let formats = [
            EventIdFormat::Legacy,
            EventIdFormat::Base64Standard,
            EventIdFormat::Base64UrlSafe,
        ];
        for (text, expected) in cases {
            let id = EventId::parse(text).unwrap();
            for (format, matches) in formats.into_iter().zip(expected) {
                assert_eq!(id.matches_format(format), matches, "{text} {format:?}");
                assert_eq!(EventId::parse_for_format(text, format).is_ok(), matches);
            }
        }
    }

    #[test]
    fn accessors() {
        let legacy = EventId::parse("$abc:example.com:8448").unwrap();
        assert_eq!(legacy.opaque_id(), "abc");
        assert_eq!(legacy.server_name(), Some("example.com:8448"));
        let hash = EventId::parse(V4).unwrap();
        assert_eq!(hash.opaque_id(), &V4[1..]);
        assert_eq!(hash.server_name(), None);
        assert!(
            EventId::parse("$:example.com")
                .unwrap()
                .opaque_id()
                .is_empty()
        );
    }

    #[test]
    fn wrong_format_errors() {
        assert_eq!(
            EventId::parse_for_format(V3, EventIdFormat::Legacy),
            Err(IdError::MissingColon)
        );
        assert_eq!(
            EventId::parse_for_format(V3, EventIdFormat::Base64UrlSafe),
            Err(IdError::InvalidCharacter {
                character: '/',
                offset: 27
            })
        );
        assert_eq!(
            EventId::parse_for_format(LEGACY, EventIdFormat::Base64UrlSafe),
            Err(IdError::InvalidCharacter {
                character: ':',
                offset: 25
            })
        );
    }

    #[test]
    fn malformed_hashes() {
        assert_eq!(
            EventId::parse(&V4[..43]),
            Err(IdError::InvalidHashLength {
                expected: 43,
                len: 42
            })
        );
        assert_eq!(
            EventId::parse(&format!("{V4}A")),
            Err(IdError::InvalidHashLength {
                expected: 43,
                len: 44
            })
        );
        assert_eq!(
            EventId::parse(&format!("{V3}=")),
            Err(IdError::InvalidCharacter {
                character: '=',
                offset: 44
            })
        );
        assert_eq!(
            EventId::parse("$"),
            Err(IdError::InvalidHashLength {
                expected: 43,
                len: 0
            })
        );
        assert_eq!(
            EventId::parse("#abc"),
            Err(IdError::MissingSigil {
                expected: '$',
                found: '#'
            })
        );
    }

    #[test]
    fn legacy_length_boundary() {
        let server = ":example.com";
        let longest = format!("${}{server}", "a".repeat(255 - 1 - server.len()));
        assert!(EventId::parse_for_format(&longest, EventIdFormat::Legacy).is_ok());
        let over = format!("$a{}", &longest[1..]);
        assert_eq!(
            EventId::parse(&over),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
        let wide = format!("${}{server}", "é".repeat(200));
        assert!(EventId::parse(&wide).is_err());
        assert!(EventId::parse_with_limit(&wide, LengthLimit::CodePoints).is_ok());
    }
}
