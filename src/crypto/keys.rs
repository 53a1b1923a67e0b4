//! Signing keys from seeds, public keys, and the key set a caller supplies.

use std::collections::BTreeMap;

use ed25519_dalek::Signer as _;

use super::SignatureError;
use crate::base64;

/// An ed25519 signing key with its key ID (such as `ed25519:a_bcd`).
#[derive(Clone)]
pub struct SigningKey {
    key_id: String,
    inner: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// The key with ID `key_id` from a 32-byte seed.
    #[must_use]
    pub fn from_seed(key_id: impl Into<String>, seed: [u8; 32]) -> Self {
        Self {
            key_id: key_id.into(),
            inner: ed25519_dalek::SigningKey::from_bytes(&seed),
        }
    }

    /// The key with ID `key_id` from a base64 seed (padding and non-zero trailing bits
    /// allowed, as in the spec's own test seed).
    ///
    /// # Errors
    ///
    /// [`SignatureError::BadEncoding`] when the seed is not base64 of 32 bytes.
    pub fn from_base64_seed(key_id: impl Into<String>, seed: &str) -> Result<Self, SignatureError> {
        let seed =
            base64::decode_array::<32>(seed).map_err(|error| SignatureError::BadEncoding {
                what: "seed",
                error,
            })?;
        Ok(Self::from_seed(key_id, seed))
    }

    /// The key ID.
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The public half.
    #[must_use]
    pub fn public_key(&self) -> VerifyKey {
        VerifyKey(self.inner.verifying_key())
    }

    /// The seed, for storing the key.
    #[must_use]
    pub fn seed(&self) -> [u8; 32] {
        self.inner.to_bytes()
    }

    /// The raw ed25519 signature of `message`.
    #[must_use]
    pub fn sign_bytes(&self, message: &[u8]) -> [u8; 64] {
        self.inner.sign(message).to_bytes()
    }
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret.
        f.debug_struct("SigningKey")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

/// An ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifyKey(pub(crate) ed25519_dalek::VerifyingKey);

impl VerifyKey {
    /// The key from its 32 bytes.
    ///
    /// # Errors
    ///
    /// [`SignatureError::InvalidPublicKey`] when the bytes are not a curve point.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, SignatureError> {
        ed25519_dalek::VerifyingKey::from_bytes(bytes)
            .map(Self)
            .map_err(|_| SignatureError::InvalidPublicKey)
    }

    /// The key from unpadded (or padded) standard base64.
    ///
    /// # Errors
    ///
    /// [`SignatureError::BadEncoding`] for bad base64 or a length other than 32 bytes,
    /// [`SignatureError::InvalidPublicKey`] when the bytes are not a curve point.
    pub fn from_base64(text: &str) -> Result<Self, SignatureError> {
        let bytes =
            base64::decode_array::<32>(text).map_err(|error| SignatureError::BadEncoding {
                what: "public key",
                error,
            })?;
        Self::from_bytes(&bytes)
    }

    /// The 32 bytes of the key.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// Unpadded standard base64 of the key, as Matrix publishes it.
    #[must_use]
    pub fn to_base64(&self) -> String {
        base64::encode(self.0.as_bytes())
    }

    /// True for small-order keys, under which no signature verifies strictly.
    #[must_use]
    pub fn is_weak(&self) -> bool {
        self.0.is_weak()
    }

    /// Verifies a raw signature strictly (see the module docs).
    pub(crate) fn verify_strict(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        let signature = ed25519_dalek::Signature::from_bytes(signature);
        self.0.verify_strict(message, &signature).is_ok()
    }
}

/// A key the caller vouches for, with how long it is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct KnownKey {
    key: VerifyKey,
    /// Milliseconds since the epoch after which the key no longer signs events (room
    /// versions 5+); `None` when the caller does not judge validity.
    valid_until_ts: Option<i64>,
}

/// Public keys the caller supplies: server name → key ID → key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PublicKeys {
    servers: BTreeMap<String, BTreeMap<String, KnownKey>>,
}

impl PublicKeys {
    /// An empty key set.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a key that is valid at any time.
    pub fn insert(&mut self, server: impl Into<String>, key_id: impl Into<String>, key: VerifyKey) {
        self.insert_entry(
            server.into(),
            key_id.into(),
            KnownKey {
                key,
                valid_until_ts: None,
            },
        );
    }

    /// Adds a key that signs only events whose `origin_server_ts` is at most
    /// `valid_until_ts` (enforced in room versions 5+). For the spec's rule, pass the
    /// smaller of the key's `valid_until_ts` and seven days after the key response
    /// was fetched; for an old key, its `expired_ts`.
    pub fn insert_with_validity(
        &mut self,
        server: impl Into<String>,
        key_id: impl Into<String>,
        key: VerifyKey,
        valid_until_ts: i64,
    ) {
        let entry = KnownKey {
            key,
            valid_until_ts: Some(valid_until_ts),
        };
        self.insert_entry(server.into(), key_id.into(), entry);
    }

    fn insert_entry(&mut self, server: String, key_id: String, entry: KnownKey) {
        self.servers
            .entry(server)
            .or_default()
            .insert(key_id, entry);
    }

    /// The key `key_id` of `server`.
    #[must_use]
    pub fn get(&self, server: &str, key_id: &str) -> Option<VerifyKey> {
        self.lookup(server, key_id).map(|(key, _)| key)
    }

    /// The servers that have keys in the set.
    pub fn servers(&self) -> impl Iterator<Item = &str> {
        self.servers.keys().map(String::as_str)
    }

    /// True when the set knows no key of `server`.
    #[must_use]
    pub fn has_server(&self, server: &str) -> bool {
        self.servers
            .get(server)
            .is_some_and(|keys| !keys.is_empty())
    }

    /// The key and its validity end.
    pub(crate) fn lookup(&self, server: &str, key_id: &str) -> Option<(VerifyKey, Option<i64>)> {
        let known = self.servers.get(server)?.get(key_id)?;
        Some((known.key, known.valid_until_ts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_test_key() {
        let key = SigningKey::from_base64_seed(
            "ed25519:1",
            "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA1",
        )
        .unwrap();
        assert_eq!(
            key.public_key().to_base64(),
            "XGX0JRS2Af3be3knz2fBiRbApjm2Dh61gXDJA8kcJNI"
        );
        assert_eq!(
            base64::encode(key.seed()),
            "YJDBA9Xnr2sVqXD9Vj7XVUnmFZcZrlw8Md7kMW+3XA0"
        );
        assert!(!format!("{key:?}").contains("YJDB"));
    }

    #[test]
    fn bad_keys_are_typed_errors() {
        assert!(matches!(
            SigningKey::from_base64_seed("ed25519:1", "abc"),
            Err(SignatureError::BadEncoding { what: "seed", .. })
        ));
        assert!(matches!(
            VerifyKey::from_base64("!!"),
            Err(SignatureError::BadEncoding { .. })
        ));
        assert!(matches!(
            VerifyKey::from_base64(&base64::encode([0u8; 31])),
            Err(SignatureError::BadEncoding { .. })
        ));
        // The identity point encodes as 1 followed by zeros: a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert!(VerifyKey::from_bytes(&identity).unwrap().is_weak());
    }
}
