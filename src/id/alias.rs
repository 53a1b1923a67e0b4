//! Room aliases: `#localpart:server_name`.

use super::error::IdError;
use super::length::LengthLimit;
use super::macros::string_id;
use super::sigil::{check_localpart_and_server, split, strip_sigil};

/// A room alias, `#localpart:server_name`, at most 255 bytes.
///
/// Split at the first `:`; the localpart may hold any code points but NUL and may be
/// empty, and everything after the `:` must be a valid server name. (The spec names
/// only `:` as forbidden in alias localparts; NUL is refused as for every other
/// identifier: PostgreSQL text cannot hold it.)
///
/// ```
/// use matrix_serverlib::id::RoomAliasId;
///
/// let alias = RoomAliasId::parse("#room:example.org")?;
/// assert_eq!(alias.localpart(), "room");
/// assert_eq!(alias.server_name(), "example.org");
/// # Ok::<(), matrix_serverlib::id::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RoomAliasId(Box<str>);

string_id!(RoomAliasId, check);

impl RoomAliasId {
    /// Parses a room alias.
    ///
    /// # Errors
    ///
    /// [`IdError::Empty`], [`IdError::TooLong`] (over 255 bytes),
    /// [`IdError::MissingSigil`], [`IdError::MissingColon`],
    /// [`IdError::InvalidCharacter`], [`IdError::InvalidServerName`] or
    /// [`IdError::InvalidPort`].
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::try_from(text)
    }

    /// The localpart: the text between `#` and the first `:`.
    #[must_use]
    pub fn localpart(&self) -> &str {
        split(&self.0).0
    }

    /// The server name: everything after the first `:`.
    #[must_use]
    pub fn server_name(&self) -> &str {
        split(&self.0).1.unwrap_or_default()
    }
}

fn check(text: &str) -> Result<(), IdError> {
    check_localpart_and_server(strip_sigil(text, '#', LengthLimit::Bytes)?).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_splits() {
        let alias = RoomAliasId::parse("#a:b.c:8448").unwrap();
        assert_eq!(alias.localpart(), "a");
        assert_eq!(alias.server_name(), "b.c:8448");
        assert_eq!(RoomAliasId::parse("#:x").unwrap().localpart(), "");
        assert_eq!(
            RoomAliasId::parse("#Ünïcode room:x").unwrap().localpart(),
            "Ünïcode room"
        );
    }

    #[test]
    fn rejects() {
        assert_eq!(
            RoomAliasId::parse("!a:b"),
            Err(IdError::MissingSigil {
                expected: '#',
                found: '!'
            })
        );
        assert_eq!(RoomAliasId::parse("#ab"), Err(IdError::MissingColon));
        assert_eq!(
            RoomAliasId::parse("#a\0:b"),
            Err(IdError::InvalidCharacter {
                character: '\0',
                offset: 2
            })
        );
        assert!(matches!(
            RoomAliasId::parse("#a:b:c"),
            Err(IdError::InvalidPort { .. })
        ));
    }

    #[test]
    fn length_boundary() {
        let longest = format!("#{}:example.org", "a".repeat(242));
        assert_eq!(longest.len(), 255);
        assert!(RoomAliasId::parse(&longest).is_ok());
        let over = format!("#a{}", &longest[1..]);
        assert_eq!(
            RoomAliasId::parse(&over),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
    }
}
