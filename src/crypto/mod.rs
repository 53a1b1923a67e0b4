//! Keys, signatures and hashes: signing JSON and events, verifying them (one at a time
//! or in batches), content hashes, reference hashes and event IDs
//! (<https://spec.matrix.org/v1.16/appendices/#signing-json>,
//! <https://spec.matrix.org/v1.16/server-server-api/#signing-events>).
//!
//! Verification follows "ask, then supply": [`required_signers`] says which servers must
//! have signed an event, the caller fetches their keys however it likes, and
//! [`verify_event_signatures`] checks the event against the [`PublicKeys`] supplied.
//!
//! **Verification semantics.** Single signatures are checked with ed25519-dalek's
//! `verify_strict`, which rejects non-canonical `S`, small-order `R` and small-order
//! (weak) public keys, and compares the recomputed `R` byte for byte: the same checks
//! libsodium's `crypto_sign_verify_detached` makes, which is what Synapse uses through
//! PyNaCl. [`verify_batch`] first applies the same key and `R` checks, then verifies
//! all signatures in one multi-scalar multiplication; when the batch fails it falls
//! back to single verification to name the failures. A batch is accepted only if every
//! signature in it verifies under the cofactorless equation with overwhelming
//! probability; a *signer* who deliberately adds a small-order component to `R` could
//! make a batch accept what strict single verification rejects about one time in
//! eight, so callers who must agree bit-for-bit with strict verifiers on hostile
//! signers' events use the single path.
//!
//! ```
//! use matrix_serverlib::crypto::{PublicKeys, SigningKey, sign_json, verify_json};
//! use matrix_serverlib::json::{Object, Value};
//!
//! let key = SigningKey::from_seed("ed25519:1", [7; 32]);
//! let mut object = Object::new();
//! object.insert("one", Value::from(1));
//! sign_json(&mut object, "example.org", &key)?;
//! let mut keys = PublicKeys::new();
//! keys.insert("example.org", "ed25519:1", key.public_key());
//! verify_json(&object, "example.org", &keys)?;
//! # Ok::<(), matrix_serverlib::crypto::SignatureError>(())
//! ```

mod batch;
mod error;
mod event_signing;
mod hashes;
mod json_signing;
mod keys;

pub use batch::verify_batch;
pub(crate) use batch::{Prepared, verify_prepared};
pub use error::{HashError, SignatureError};
pub(crate) use event_signing::required_checks;
pub use event_signing::{required_signers, sign_event, verify_event_signatures};
pub(crate) use hashes::sha256;
pub use hashes::{
    add_content_hash, check_content_hash, content_hash, event_id, reference_hash,
    room_id_from_create_event,
};
pub use json_signing::{sign_json, verify_json};
pub use keys::{PublicKeys, SigningKey, VerifyKey};
