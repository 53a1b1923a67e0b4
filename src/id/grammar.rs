//! The common namespaced and opaque identifier grammars.

use super::error::IdError;
use super::length::MAX_ID_LEN;

/// Checks the Common Namespaced Identifier Grammar: 1 to 255 characters of `a-z`,
/// `0-9`, `-`, `_` and `.`, the first one of `a-z`. (Identifiers starting `m.` are
/// reserved for the spec; this check accepts them.)
///
/// # Errors
///
/// [`IdError::Empty`], [`IdError::TooLong`], or [`IdError::InvalidCharacter`] for the
/// first character that breaks the grammar.
///
/// ```
/// use matrix_serverlib::id::validate_namespaced_id;
///
/// assert!(validate_namespaced_id("com.example.feature").is_ok());
/// assert!(validate_namespaced_id("1st").is_err());
/// ```
pub fn validate_namespaced_id(text: &str) -> Result<(), IdError> {
    let is_valid_at = |index: usize, c: char| {
        c.is_ascii_lowercase() || (index > 0 && matches!(c, '0'..='9' | '-' | '_' | '.'))
    };
    validate(text, is_valid_at)
}

/// Checks the opaque identifier grammar: 1 to 255 characters of `A-Z`, `a-z`, `0-9`,
/// `-`, `.`, `_` and `~`.
///
/// # Errors
///
/// [`IdError::Empty`], [`IdError::TooLong`], or [`IdError::InvalidCharacter`] for the
/// first character outside the set.
pub fn validate_opaque_id(text: &str) -> Result<(), IdError> {
    validate(text, |_, c| {
        c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')
    })
}

fn validate(text: &str, is_valid_at: impl Fn(usize, char) -> bool) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    if let Some((offset, character)) = text.char_indices().find(|&(i, c)| !is_valid_at(i, c)) {
        return Err(IdError::InvalidCharacter { character, offset });
    }
    // Only ASCII is left, so bytes and characters agree.
    if text.len() > MAX_ID_LEN {
        return Err(IdError::TooLong {
            len: text.len(),
            max: MAX_ID_LEN,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaced() {
        for text in ["m.room.member", "a", "com.example-thing_2", "m."] {
            assert_eq!(validate_namespaced_id(text), Ok(()), "{text}");
        }
        assert_eq!(validate_namespaced_id(""), Err(IdError::Empty));
        for (text, character, offset) in [
            ("1a", '1', 0),
            (".a", '.', 0),
            ("aB", 'B', 1),
            ("a b", ' ', 1),
            ("a~", '~', 1),
        ] {
            let expected = IdError::InvalidCharacter { character, offset };
            assert_eq!(validate_namespaced_id(text), Err(expected), "{text}");
        }
        assert_eq!(validate_namespaced_id(&"a".repeat(255)), Ok(()));
        assert_eq!(
            validate_namespaced_id(&"a".repeat(256)),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
    }

    #[test]
    fn opaque() {
        for text in ["A-z.0_~", "~", "ABCDEF"] {
            assert_eq!(validate_opaque_id(text), Ok(()), "{text}");
        }
        assert_eq!(validate_opaque_id(""), Err(IdError::Empty));
        assert_eq!(
            validate_opaque_id("ab/c"),
            Err(IdError::InvalidCharacter {
                character: '/',
                offset: 2
            })
        );
        assert_eq!(
            validate_opaque_id("é"),
            Err(IdError::InvalidCharacter {
                character: 'é',
                offset: 0
            })
        );
        assert_eq!(validate_opaque_id(&"Z".repeat(255)), Ok(()));
        assert_eq!(
            validate_opaque_id(&"Z".repeat(256)),
            Err(IdError::TooLong { len: 256, max: 255 })
        );
    }
}
