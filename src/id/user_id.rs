//! User IDs: `@localpart:server_name`.

use super::error::IdError;
use super::length::LengthLimit;
use super::macros::string_id;
use super::sigil::{check_localpart_and_server, split, strip_sigil};

/// A user ID, `@localpart:server_name`, at most 255 bytes.
///
/// The text is split at the **first** `:` after the sigil, so the localpart never holds
/// a `:` and everything after it must be a valid [server name](super::ServerName)
/// (`@a:b:c` has server name `b:c`, whose port `c` is invalid).
///
/// Two grammars apply:
///
/// * [`UserId::parse`] (also `FromStr`, `TryFrom` and serde) accepts every ID that
///   servers MUST accept in events: the *historical* grammar, whose localpart is any
///   code points except `:` and NUL, possibly empty.
/// * [`UserId::parse_strict`] follows the grammar for new IDs: a non-empty localpart of
///   `a-z 0-9 . _ = - / +`.
///
/// [`UserId::is_historical`] and [`UserId::is_compliant`] classify a parsed ID.
///
/// ```
/// use matrix_serverlib::id::UserId;
///
/// let alice = UserId::parse("@alice:example.org:8448")?;
/// assert_eq!(alice.localpart(), "alice");
/// assert_eq!(alice.server_name(), "example.org:8448");
/// assert!(!alice.is_historical());
///
/// let old = UserId::parse("@Alice:example.org")?;
/// assert!(old.is_historical());
/// assert!(UserId::parse_strict("@Alice:example.org").is_err());
/// # Ok::<(), matrix_serverlib::id::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserId(Box<str>);

string_id!(UserId, check);

impl UserId {
    /// Parses a user ID with the historical grammar, the one events must be checked
    /// against.
    ///
    /// # Errors
    ///
    /// [`IdError::Empty`], [`IdError::TooLong`] (over 255 bytes),
    /// [`IdError::MissingSigil`], [`IdError::MissingColon`],
    /// [`IdError::InvalidCharacter`] (NUL in the localpart, or a bad server-name
    /// character), [`IdError::InvalidServerName`] or [`IdError::InvalidPort`].
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::try_from(text)
    }

    /// Parses a user ID with the historical grammar and a chosen way of measuring the
    /// 255 limit (see [`LengthLimit`]).
    ///
    /// # Errors
    ///
    /// As [`UserId::parse`].
    pub fn parse_with_limit(text: &str, limit: LengthLimit) -> Result<Self, IdError> {
        check_with_limit(text, limit)?;
        Ok(Self(Box::from(text)))
    }

    /// Parses a user ID with the strict grammar for new IDs: a non-empty localpart of
    /// `a-z`, `0-9`, `.`, `_`, `=`, `-`, `/` and `+`.
    ///
    /// # Errors
    ///
    /// As [`UserId::parse`], and [`IdError::EmptyLocalpart`] or
    /// [`IdError::InvalidCharacter`] for a localpart outside the strict grammar.
    pub fn parse_strict(text: &str) -> Result<Self, IdError> {
        let (localpart, _) =
            check_localpart_and_server(strip_sigil(text, '@', LengthLimit::Bytes)?)?;
        if localpart.is_empty() {
            return Err(IdError::EmptyLocalpart);
        }
        if let Some((index, character)) = localpart
            .char_indices()
            .find(|&(_, c)| !is_strict_localpart_char(c))
        {
            return Err(IdError::InvalidCharacter {
                character,
                offset: index + 1,
            });
        }
        Ok(Self(Box::from(text)))
    }

    /// The localpart: the text between `@` and the first `:`.
    #[must_use]
    pub fn localpart(&self) -> &str {
        split(&self.0).0
    }

    /// The server name: everything after the first `:`.
    #[must_use]
    pub fn server_name(&self) -> &str {
        split(&self.0).1.unwrap_or_default()
    }

    /// True when the localpart is outside the strict grammar for new IDs (empty, or
    /// with characters other than `a-z 0-9 . _ = - / +`): the ID could not be
    /// registered today, though events may carry it.
    #[must_use]
    pub fn is_historical(&self) -> bool {
        let localpart = self.localpart();
        localpart.is_empty() || !localpart.chars().all(is_strict_localpart_char)
    }

    /// True unless the spec calls the ID *non-compliant*: a localpart that is empty or
    /// has characters outside U+0021 to U+007E. Servers accept non-compliant IDs in
    /// events but SHOULD NOT forward them to clients outside an event.
    #[must_use]
    pub fn is_compliant(&self) -> bool {
        let localpart = self.localpart();
        !localpart.is_empty()
            && localpart
                .chars()
                .all(|c| ('\u{21}'..='\u{7e}').contains(&c))
    }
}

fn check(text: &str) -> Result<(), IdError> {
    check_with_limit(text, LengthLimit::Bytes)
}

fn check_with_limit(text: &str, limit: LengthLimit) -> Result<(), IdError> {
    check_localpart_and_server(strip_sigil(text, '@', limit)?).map(drop)
}

fn is_strict_localpart_char(c: char) -> bool {
    matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '=' | '-' | '/' | '+')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_first_colon() {
        let id = UserId::parse("@a:b:1").unwrap();
        assert_eq!(id.localpart(), "a");
        assert_eq!(id.server_name(), "b:1");
        assert_eq!(
            UserId::parse("@a:b:c"),
            Err(IdError::InvalidPort {
                port: "c".to_owned(),
                offset: 5
            })
        );
    }

    #[test]
    fn historical_localparts() {
        for (text, localpart, compliant) in [
            ("@:example.org", "", false),
            ("@Alice:example.org", "Alice", true),
            ("@a!b#c~:example.org", "a!b#c~", true),
            ("@ü:example.org", "ü", false),
            ("@a b:example.org", "a b", false),
            ("@\u{1}\u{7f}:example.org", "\u{1}\u{7f}", false),
            ("@🦀:example.org", "🦀", false),
        ] {
            let id = UserId::parse(text).unwrap();
            assert_eq!(id.localpart(), localpart);
            assert!(id.is_historical(), "{text}");
            assert_eq!(id.is_compliant(), compliant, "{text}");
            assert!(UserId::parse_strict(text).is_err(), "{text}");
        }
    }

    #[test]
    fn strict_localparts() {
        let id = UserId::parse_strict("@a.b_c=d-e/f+g09:example.org").unwrap();
        assert!(!id.is_historical());
        assert!(id.is_compliant());
        assert_eq!(
            UserId::parse_strict("@:example.org"),
            Err(IdError::EmptyLocalpart)
        );
        assert_eq!(
            UserId::parse_strict("@abC:example.org"),
            Err(IdError::InvalidCharacter {
                character: 'C',
                offset: 3
            })
        );
        assert_eq!(
            UserId::parse_strict("@a*:example.org"),
            Err(IdError::InvalidCharacter {
                character: '*',
                offset: 2
            })
        );
    }

    #[test]
    fn nul_is_rejected() {
        assert_eq!(
            UserId::parse("@a\0:example.org"),
            Err(IdError::InvalidCharacter {
                character: '\0',
                offset: 2
            })
        );
    }

    #[test]
    fn structure_errors() {
        assert_eq!(UserId::parse(""), Err(IdError::Empty));
        assert_eq!(UserId::parse("@"), Err(IdError::MissingColon));
        assert_eq!(UserId::parse("@alice"), Err(IdError::MissingColon));
        assert_eq!(
            UserId::parse("alice:example.org"),
            Err(IdError::MissingSigil {
                expected: '@',
                found: 'a'
            })
        );
        assert!(matches!(
            UserId::parse("@alice:"),
            Err(IdError::InvalidServerName { .. })
        ));
        assert_eq!(
            UserId::parse("@alice:exa mple.org"),
            Err(IdError::InvalidCharacter {
                character: ' ',
                offset: 10
            })
        );
    }

    #[test]
    fn length_boundary_is_255_bytes() {
        let server = ":example.org";
        let fill = 255 - 1 - server.len();
        let longest = format!("@{}{server}", "a".repeat(fill));
        assert_eq!(longest.len(), 255);
        assert!(UserId::parse(&longest).is_ok());
        assert!(UserId::parse_strict(&longest).is_ok());
        let over = format!("@{}{server}", "a".repeat(fill + 1));
        assert_eq!(
            UserId::parse(&over),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
        assert_eq!(
            UserId::parse_strict(&over),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
    }

    #[test]
    fn code_point_limit_for_old_rooms() {
        let wide = format!("@{}:example.org", "é".repeat(200));
        assert_eq!(
            UserId::parse(&wide),
            Err(IdError::TooLong { len: 413, max: 255 })
        );
        let id = UserId::parse_with_limit(&wide, LengthLimit::CodePoints).unwrap();
        assert_eq!(id.localpart().chars().count(), 200);
        assert_eq!(
            UserId::parse_with_limit(&format!("@{}:a", "é".repeat(254)), LengthLimit::CodePoints),
            Err(IdError::TooLong { len: 257, max: 255 })
        );
    }

    #[test]
    fn server_names_are_case_sensitive() {
        let lower = UserId::parse("@user:matrix.org").unwrap();
        let upper = UserId::parse("@user:MATRIX.ORG").unwrap();
        assert_ne!(lower, upper);
    }
}
