//! The shapes shared by sigil identifiers: `&localpart:server_name` (user IDs, room
//! IDs to version 11, aliases, event IDs to version 2) and `&` + 43-character base64
//! hash (event IDs from version 3, room IDs from version 12).

use super::error::IdError;
use super::length::{LengthLimit, check_length};
use super::server_name::validate_server_name;

/// Length of the unpadded base64 encoding of a SHA-256 hash.
pub(super) const HASH_LEN: usize = 43;

/// Which base64 alphabet a hash may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Alphabet {
    /// Either alphabet, but not both in one hash.
    Either,
    /// `+` and `/`.
    Standard,
    /// `-` and `_`.
    UrlSafe,
}

/// Checks the length limit and the sigil; returns the text after the sigil.
pub(super) fn strip_sigil(text: &str, sigil: char, limit: LengthLimit) -> Result<&str, IdError> {
    check_length(text, limit)?;
    let mut chars = text.chars();
    match chars.next() {
        Some(found) if found == sigil => Ok(chars.as_str()),
        Some(found) => Err(IdError::MissingSigil {
            expected: sigil,
            found,
        }),
        None => Err(IdError::Empty),
    }
}

/// Checks `localpart:server_name` (the text after a one-byte sigil): split at the
/// first `:`, a localpart without NUL (it may be empty), a valid server name.
pub(super) fn check_localpart_and_server(body: &str) -> Result<(&str, &str), IdError> {
    let (localpart, server_name) = body.split_once(':').ok_or(IdError::MissingColon)?;
    if let Some(offset) = localpart.find('\0') {
        return Err(IdError::InvalidCharacter {
            character: '\0',
            offset: offset + 1,
        });
    }
    validate_server_name(server_name, localpart.len() + 2)?;
    Ok((localpart, server_name))
}

/// Checks a hash (the text after a one-byte sigil): exactly [`HASH_LEN`] characters of
/// the given base64 alphabet, no padding. Trailing bits are not checked.
pub(super) fn check_hash(body: &str, alphabet: Alphabet) -> Result<(), IdError> {
    let mut alphabet = alphabet;
    for (index, character) in body.char_indices() {
        let needs = match character {
            'A'..='Z' | 'a'..='z' | '0'..='9' => continue,
            '+' | '/' => Some(Alphabet::Standard),
            '-' | '_' => Some(Alphabet::UrlSafe),
            _ => None,
        };
        match (alphabet, needs) {
            // The first alphabet-specific character fixes the alphabet.
            (Alphabet::Either, Some(needs)) => alphabet = needs,
            (current, Some(needs)) if current == needs => {}
            // Not base64, or the other alphabet.
            _ => {
                return Err(IdError::InvalidCharacter {
                    character,
                    offset: index + 1,
                });
            }
        }
    }
    if body.len() == HASH_LEN {
        Ok(())
    } else {
        Err(IdError::InvalidHashLength {
            expected: HASH_LEN,
            len: body.len(),
        })
    }
}

/// Splits already-validated sigil text into the part after the sigil and before the
/// first `:`, and the server name after it, if any.
pub(super) fn split(text: &str) -> (&str, Option<&str>) {
    let mut chars = text.chars();
    chars.next();
    let body = chars.as_str();
    match body.split_once(':') {
        Some((localpart, server_name)) => (localpart, Some(server_name)),
        None => (body, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STANDARD: &str = "acR1l0raoZnm60CBwAVgqbZqoO/mYU81xysh1u7XcJk";
    const URL_SAFE: &str = "Rqnc-F-dvnEYJTyHq_iKxU2bZ1CI92-kuZq3a5lr5Zg";

    #[test]
    fn sigil_is_required() {
        assert_eq!(strip_sigil("@a:b", '@', LengthLimit::Bytes), Ok("a:b"));
        assert_eq!(
            strip_sigil("!a:b", '@', LengthLimit::Bytes),
            Err(IdError::MissingSigil {
                expected: '@',
                found: '!'
            })
        );
        assert_eq!(
            strip_sigil("", '@', LengthLimit::Bytes),
            Err(IdError::Empty)
        );
    }

    #[test]
    fn localpart_splits_at_first_colon() {
        assert_eq!(check_localpart_and_server("a:b.c:80"), Ok(("a", "b.c:80")));
        assert_eq!(check_localpart_and_server(":b"), Ok(("", "b")));
        assert_eq!(check_localpart_and_server("ab"), Err(IdError::MissingColon));
        assert_eq!(
            check_localpart_and_server("a\0b:c"),
            Err(IdError::InvalidCharacter {
                character: '\0',
                offset: 2
            })
        );
        assert!(matches!(
            check_localpart_and_server("a:"),
            Err(IdError::InvalidServerName { offset: 3, .. })
        ));
    }

    #[test]
    fn hash_alphabets() {
        assert_eq!(check_hash(STANDARD, Alphabet::Standard), Ok(()));
        assert_eq!(check_hash(STANDARD, Alphabet::Either), Ok(()));
        assert_eq!(
            check_hash(STANDARD, Alphabet::UrlSafe),
            Err(IdError::InvalidCharacter {
                character: '/',
                offset: 27
            })
        );
        assert_eq!(check_hash(URL_SAFE, Alphabet::UrlSafe), Ok(()));
        assert_eq!(check_hash(URL_SAFE, Alphabet::Either), Ok(()));
        assert_eq!(
            check_hash(URL_SAFE, Alphabet::Standard),
            Err(IdError::InvalidCharacter {
                character: '-',
                offset: 5
            })
        );
        let mixed = URL_SAFE.replacen('Z', "+", 1);
        assert_eq!(
            check_hash(&mixed, Alphabet::Either),
            Err(IdError::InvalidCharacter {
                character: '+',
                offset: 25
            })
        );
    }

    #[test]
    fn hash_length_and_padding() {
        assert_eq!(
            check_hash(&STANDARD[1..], Alphabet::Standard),
            Err(IdError::InvalidHashLength {
                expected: 43,
                len: 42
            })
        );
        assert_eq!(
            check_hash(&format!("{STANDARD}="), Alphabet::Standard),
            Err(IdError::InvalidCharacter {
                character: '=',
                offset: 44
            })
        );
        assert_eq!(
            check_hash("ab:c", Alphabet::Either),
            Err(IdError::InvalidCharacter {
                character: ':',
                offset: 3
            })
        );
    }

    #[test]
    fn split_parts() {
        assert_eq!(split("@a:b:c"), ("a", Some("b:c")));
        assert_eq!(split("$abc"), ("abc", None));
        assert_eq!(split("!é:x"), ("é", Some("x")));
    }
}
