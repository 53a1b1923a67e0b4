//! The error types of signing and verification ([`SignatureError`]) and of the
//! hashes and IDs computed from events ([`HashError`]).

use crate::base64::Base64Error;
use crate::id::IdError;

/// Why an object or event could not be signed or its signatures did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// A key, seed or signature is not valid base64 or has the wrong length.
    #[error("bad {what}: {error}")]
    BadEncoding {
        /// What was being decoded (`"seed"`, `"public key"`, `"signature"`).
        what: &'static str,
        /// What was wrong.
        #[source]
        error: Base64Error,
    },
    /// A public key is not a point on the curve, or is of small order.
    #[error("invalid ed25519 public key")]
    InvalidPublicKey,
    /// `signatures` (or one entity's entry in it) is not an object.
    #[error("{}", match entity {
        None => "signatures is not an object".to_owned(),
        Some(entity) => format!("the signatures of {entity} are not an object"),
    })]
    MalformedSignatures {
        /// The entity whose entry is not an object; `None` when `signatures` is not.
        entity: Option<String>,
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
    /// A field signing or verification reads is missing or malformed (a `sender` or
    /// `origin` without a server name).
    #[error("cannot sign or verify: {field} is missing or malformed")]
    MalformedEvent {
        /// The field.
        field: &'static str,
    },
    /// The event's hashes or ID could not be computed.
    #[error(transparent)]
    Hash(#[from] HashError),
}

/// Why an event's content hash, event ID or derived room ID could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// `hashes` is present and is not an object.
    #[error("hashes is not an object")]
    HashesNotAnObject,
    /// A room-version-1 or -2 event has no string `event_id`.
    #[error("the event has no event_id")]
    MissingEventId,
    /// An ID read or derived is not valid.
    #[error("invalid ID: {0}")]
    InvalidId(#[from] IdError),
    /// The caller asked for a room ID derived from a create event in a room version
    /// that does not derive them (only room version 12 does).
    #[error("room version {version} does not derive room IDs from create events")]
    RoomIdNotDerived {
        /// The room version.
        version: &'static str,
    },
}
