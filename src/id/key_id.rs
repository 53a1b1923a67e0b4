//! Signing key identifiers: `algorithm:version`.

use super::error::IdError;
use super::macros::string_id;

/// The algorithm name of Ed25519 keys, the only signing algorithm Matrix defines.
const ED25519: &str = "ed25519";

/// A signing key identifier, `algorithm:version`, such as `ed25519:abc`.
///
/// The text is split at the first `:`; the algorithm must be non-empty, the version is
/// any text (possibly empty, possibly with more `:`). This is as loose as Synapse is
/// when *reading* the keys of a `signatures` object, where it drops key IDs whose
/// algorithm it does not know ([`KeyId::is_ed25519`]) rather than failing. No length
/// limit applies. The version of a server's own key must also match `[a-zA-Z0-9_]+`:
/// check it with [`KeyId::has_valid_server_key_version`] where that rule applies.
///
/// ```
/// use matrix_serverlib::id::KeyId;
///
/// let key_id = KeyId::parse("ed25519:a_Bc1")?;
/// assert_eq!((key_id.algorithm(), key_id.version()), ("ed25519", "a_Bc1"));
/// assert!(key_id.is_ed25519());
/// assert!(key_id.has_valid_server_key_version());
/// assert!(!KeyId::parse("ed25519:a.b")?.has_valid_server_key_version());
/// # Ok::<(), matrix_serverlib::id::IdError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(Box<str>);

string_id!(KeyId, check);

impl KeyId {
    /// Parses a key ID.
    ///
    /// # Errors
    ///
    /// [`IdError::Empty`], [`IdError::MissingColon`], or
    /// [`IdError::InvalidCharacter`] (the `:` at offset 0) when the algorithm is empty.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        Self::try_from(text)
    }

    /// The algorithm: the text before the first `:`.
    #[must_use]
    pub fn algorithm(&self) -> &str {
        self.parts().0
    }

    /// The key version: the text after the first `:`.
    #[must_use]
    pub fn version(&self) -> &str {
        self.parts().1
    }

    /// True when the algorithm is `ed25519`.
    #[must_use]
    pub fn is_ed25519(&self) -> bool {
        self.algorithm() == ED25519
    }

    /// True when the version matches `[a-zA-Z0-9_]+`, the grammar of server key
    /// versions.
    #[must_use]
    pub fn has_valid_server_key_version(&self) -> bool {
        let version = self.version();
        !version.is_empty()
            && version
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }

    fn parts(&self) -> (&str, &str) {
        self.0.split_once(':').unwrap_or_default()
    }
}

fn check(text: &str) -> Result<(), IdError> {
    if text.is_empty() {
        return Err(IdError::Empty);
    }
    match text.split_once(':') {
        None => Err(IdError::MissingColon),
        Some(("", _)) => Err(IdError::InvalidCharacter {
            character: ':',
            offset: 0,
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_at_first_colon() {
        let key_id = KeyId::parse("ed25519:a:b").unwrap();
        assert_eq!(key_id.algorithm(), "ed25519");
        assert_eq!(key_id.version(), "a:b");
        assert!(!key_id.has_valid_server_key_version());
        let empty_version = KeyId::parse("ed25519:").unwrap();
        assert_eq!(empty_version.version(), "");
        assert!(!empty_version.has_valid_server_key_version());
    }

    #[test]
    fn other_algorithms_are_kept_but_flagged() {
        let key_id = KeyId::parse("curve25519:AAAA").unwrap();
        assert!(!key_id.is_ed25519());
        assert!(!KeyId::parse("Ed25519:1").unwrap().is_ed25519());
        assert!(!KeyId::parse("ed25519x:1").unwrap().is_ed25519());
    }

    #[test]
    fn server_key_versions() {
        for (text, valid) in [
            ("ed25519:1", true),
            ("ed25519:a_Z9", true),
            ("ed25519:a-b", false),
            ("ed25519:é", false),
        ] {
            assert_eq!(
                KeyId::parse(text).unwrap().has_valid_server_key_version(),
                valid,
                "{text}"
            );
        }
    }

    #[test]
    fn rejects() {
        assert_eq!(KeyId::parse(""), Err(IdError::Empty));
        assert_eq!(KeyId::parse("ed25519"), Err(IdError::MissingColon));
        assert_eq!(
            KeyId::parse(":abc"),
            Err(IdError::InvalidCharacter {
                character: ':',
                offset: 0
            })
        );
    }
}
