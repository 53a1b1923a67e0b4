//! The error type of signing and verification.

/// Why an object or event could not be signed or its signatures did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A key, seed or signature is not valid base64 or has the wrong length.
    #[error("bad {what}: {reason}")]
    BadEncoding {
        /// What was being decoded (`"seed"`, `"public key"`, `"signature"`).
        what: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// A public key is not a point on the curve, or is of small order.
    #[error("invalid ed25519 public key")]
    InvalidPublicKey,
    /// `signatures` (or one server's entry in it) is not an object.
    #[error("malformed signatures: {reason}")]
    MalformedSignatures {
        /// What was wrong.
        reason: String,
    },
    /// No signature at all from an entity that must sign.
    #[error("no signature from {entity}")]
    MissingSignature {
        /// The server (or entity) whose signature is missing.
        entity: String,
    },
    /// Signatures from the entity exist, but none under a key the caller supplied.
    #[error("no signature from {entity} under a known key")]
    NoKnownKey {
        /// The server whose keys are all unknown.
        entity: String,
    },
    /// A signature did not verify.
    #[error("signature of {entity} by {key_id} does not verify")]
    Invalid {
        /// The signing server.
        entity: String,
        /// The key ID.
        key_id: String,
    },
    /// The key was not valid when the event was sent (room versions 5+).
    #[error("key {key_id} of {entity} was not valid at {origin_server_ts}")]
    KeyExpired {
        /// The signing server.
        entity: String,
        /// The key ID.
        key_id: String,
        /// The event's timestamp.
        origin_server_ts: i64,
    },
    /// The event is not an object or lacks a field signing needs.
    #[error("cannot sign or verify: {reason}")]
    MalformedEvent {
        /// What was wrong.
        reason: String,
    },
}
