//! Server key documents: our own, and the validation of fetched ones and notary answers
//! (<https://spec.matrix.org/v1.16/server-server-api/#retrieving-server-keys>).
//!
//! A server publishes its signing keys at `GET /_matrix/key/v2/server` as a document
//! signed by every current key ([`server_key_document`]). A server that fetches it
//! checks it with [`validate_key_document`], which keeps the exact object so that a
//! notary can serve it again. Keys can also be asked of a notary: [`notary_query_body`]
//! builds the `POST /_matrix/key/v2/query` body, [`validate_notary_answer`] checks the
//! answer entry by entry, and on the notary's side [`parse_notary_query`] reads the
//! question and [`notary_answer`] signs the cached documents it answers with.
//!
//! Validation follows the spec and, where the spec is silent, Synapse 1.163: the
//! `server_name` must be the one asked for; `verify_keys` an object; `valid_until_ts` an
//! integer; every `ed25519:` entry of `verify_keys` and `old_verify_keys` must hold a
//! 32-byte `key` (standard or URL-safe base64, padded or not), every such old entry an
//! integer `expired_ts`; entries under other algorithms are ignored unread; and the
//! document must carry a correct self-signature under a key ID of `verify_keys` (old keys
//! do not count). No clock is read: an expired document is still valid, and the
//! [`KeyRing`](super::keyring::KeyRing) decides what its keys may still verify.
//!
//! ```
//! use std::collections::BTreeMap;
//!
//! use matrix_serverlib::crypto::SigningKey;
//! use matrix_serverlib::federation::keys::{
//!     fresh_key_id, server_key_document, validate_key_document,
//! };
//! use matrix_serverlib::id::ServerName;
//! use matrix_serverlib::json::{self, Value};
//!
//! let server = ServerName::parse("example.org")?;
//! let key_id = fresh_key_id(&[17, 99, 203, 5, 64, 81])?;
//! let key = SigningKey::from_seed(key_id.as_str(), [7; 32]);
//! let document = server_key_document(&server, &[key.clone()], &BTreeMap::new(), 1_700_000_000_000)?;
//! let body = json::to_vec(&Value::Object(document));
//!
//! let fetched = validate_key_document(&body, &server)?;
//! assert_eq!(fetched.verify_keys().get(key_id.as_str()), Some(&key.public_key()));
//! assert_eq!(fetched.valid_until_ts(), 1_700_000_000_000);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BTreeMap, BTreeSet};

use super::error::{ErrorCode, MatrixError};
use super::keyring::KeyNeed;
use crate::base64;
use crate::crypto::{self, PublicKeys, SignatureError, SigningKey, VerifyKey};
use crate::id::{KeyId, ServerName};
use crate::json::{self, Object, ParseOptions, Value};

/// The largest key document body accepted, in bytes. Real documents are well under
/// 4 KiB; matrix.org's, with its old keys, is under 2 KiB.
pub const MAX_KEY_DOCUMENT_LEN: usize = 256 * 1024;

/// The largest notary answer (`POST /_matrix/key/v2/query`) or question body accepted,
/// in bytes.
pub const MAX_NOTARY_BODY_LEN: usize = 4 * 1024 * 1024;

/// The most `ed25519:` keys (current and old together) one document may hold.
pub const MAX_KEYS: usize = 256;

/// The most entries a notary answer may hold, and the most (server, key ID) pairs a
/// notary question may ask for.
pub const MAX_NOTARY_ENTRIES: usize = 1024;

/// The fewest random bytes (one character each) a fresh key ID is made from.
pub const MIN_KEY_ID_RANDOM_LEN: usize = 4;

/// The most random bytes a fresh key ID is made from.
pub const MAX_KEY_ID_RANDOM_LEN: usize = 64;

/// The algorithm prefix of the only key type Matrix defines.
const ED25519_PREFIX: &str = "ed25519:";

/// The prefix of key IDs made by [`fresh_key_id`] (as Synapse's generated keys start
/// with `a_`).
const FRESH_KEY_ID_PREFIX: &str = "ed25519:a_";

/// The characters of a fresh key ID after its prefix.
const ALPHANUMERIC: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Why a key document, a notary answer or question could not be used or made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyDocError {
    /// An `ed25519:` key is not base64 of 32 bytes, or not a curve point.
    #[error("key {key_id} is not an ed25519 public key: {reason}")]
    BadKey {
        /// The key ID.
        key_id: String,
        /// What was wrong.
        reason: String,
    },
    /// One of our own key IDs is not `ed25519:` followed by `[A-Za-z0-9_]+` (caller
    /// misuse).
    #[error("key id {key_id} is not ed25519: followed by letters, digits and _")]
    BadKeyId {
        /// The key ID.
        key_id: String,
    },
    /// [`fresh_key_id`] was given too few or too many random bytes (caller misuse).
    #[error("{len} random bytes given for a key id, {min} to {max} are needed")]
    BadRandomLength {
        /// The number of bytes given.
        len: usize,
        /// [`MIN_KEY_ID_RANDOM_LEN`].
        min: usize,
        /// [`MAX_KEY_ID_RANDOM_LEN`].
        max: usize,
    },
    /// One of our own key IDs is listed twice, or as both current and old (caller
    /// misuse).
    #[error("key id {key_id} is listed twice")]
    DuplicateKeyId {
        /// The key ID.
        key_id: String,
    },
    /// A required field is missing.
    #[error("missing field {field}")]
    MissingField {
        /// The field's path, such as `old_verify_keys.ed25519:a.expired_ts`.
        field: String,
    },
    /// [`server_key_document`] or [`notary_answer`] was given no signing key (caller
    /// misuse).
    #[error("no signing key given")]
    NoSigningKey,
    /// The notary's signature on an entry is missing, under no key we hold, or wrong.
    #[error("notary signature: {0}")]
    NotarySignature(SignatureError),
    /// The body is not JSON.
    #[error("body is not json: {reason}")]
    NotJson {
        /// The parser's complaint.
        reason: String,
    },
    /// The document's self-signature is missing, under no key of `verify_keys`, or
    /// wrong.
    #[error("self-signature: {0}")]
    SelfSignature(SignatureError),
    /// The document names another server than the one asked for.
    #[error("document of {actual} where {expected} was asked for")]
    ServerNameMismatch {
        /// The server asked for.
        expected: String,
        /// The document's `server_name`.
        actual: String,
    },
    /// The body is over its size limit.
    #[error("body of {len} bytes is over the limit of {max_len}")]
    TooLarge {
        /// The body's length.
        len: usize,
        /// The limit.
        max_len: usize,
    },
    /// A document holds too many keys, or a notary body too many entries.
    #[error("{count} {what} are over the limit of {max}")]
    TooMany {
        /// What was counted (`"keys"`, `"entries"`).
        what: &'static str,
        /// How many there were.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A notary answered with a document of a server we did not ask about.
    #[error("notary answered for {server}, which was not asked for")]
    UnaskedServer {
        /// The entry's `server_name`.
        server: String,
    },
    /// A field has the wrong kind of value.
    #[error("field {field} is not {expected}")]
    WrongKind {
        /// The field's path.
        field: String,
        /// What it should be (`"an object"`, `"an integer"`, ...).
        expected: &'static str,
    },
}

impl MatrixError for KeyDocError {
    fn errcode(&self) -> ErrorCode {
        match self {
            Self::BadKey { .. }
            | Self::MissingField { .. }
            | Self::ServerNameMismatch { .. }
            | Self::TooMany { .. }
            | Self::UnaskedServer { .. }
            | Self::WrongKind { .. } => ErrorCode::BadJson,
            Self::NotJson { .. } => ErrorCode::NotJson,
            Self::TooLarge { .. } => ErrorCode::TooLarge,
            // A request or event whose signer's keys fail to validate is unauthenticated.
            Self::NotarySignature(_) | Self::SelfSignature(_) => ErrorCode::Unauthorized,
            Self::BadKeyId { .. }
            | Self::BadRandomLength { .. }
            | Self::DuplicateKeyId { .. }
            | Self::NoSigningKey => ErrorCode::Unknown,
        }
    }
}

/// A key that no longer signs, as listed in `old_verify_keys`: the key and when it
/// stopped being used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct OldVerifyKey {
    /// The public key.
    pub key: VerifyKey,
    /// When the key stopped being used, in milliseconds since the epoch; events sent
    /// after it are not accepted under this key (room versions 5+).
    pub expired_ts: i64,
}

impl OldVerifyKey {
    /// An old key that expired at `expired_ts`.
    #[must_use]
    pub fn new(key: VerifyKey, expired_ts: i64) -> Self {
        Self { key, expired_ts }
    }
}

/// A validated key document: the keys it lists and the exact object it came as, to
/// serve again as a notary.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerKeyDocument {
    server_name: ServerName,
    valid_until_ts: i64,
    verify_keys: BTreeMap<String, VerifyKey>,
    old_verify_keys: BTreeMap<String, OldVerifyKey>,
    raw: Object,
}

impl ServerKeyDocument {
    /// The server whose keys these are.
    #[must_use]
    pub fn server_name(&self) -> &ServerName {
        &self.server_name
    }

    /// Until when the current keys are valid, in milliseconds since the epoch.
    #[must_use]
    pub fn valid_until_ts(&self) -> i64 {
        self.valid_until_ts
    }

    /// The current `ed25519:` keys by key ID.
    #[must_use]
    pub fn verify_keys(&self) -> &BTreeMap<String, VerifyKey> {
        &self.verify_keys
    }

    /// The old `ed25519:` keys by key ID.
    #[must_use]
    pub fn old_verify_keys(&self) -> &BTreeMap<String, OldVerifyKey> {
        &self.old_verify_keys
    }

    /// The document exactly as it was received, signatures included.
    #[must_use]
    pub fn as_object(&self) -> &Object {
        &self.raw
    }

    /// The document exactly as it was received.
    #[must_use]
    pub fn into_object(self) -> Object {
        self.raw
    }
}

/// Makes a fresh key ID, `ed25519:a_` followed by one character of `[A-Za-z0-9]` per
/// byte of `random`. The caller supplies fresh random bytes for every new key: a key
/// ID must never be used again for other key bytes, since servers cache keys by ID.
///
/// # Errors
///
/// [`KeyDocError::BadRandomLength`] unless `random` holds [`MIN_KEY_ID_RANDOM_LEN`] to
/// [`MAX_KEY_ID_RANDOM_LEN`] bytes.
pub fn fresh_key_id(random: &[u8]) -> Result<KeyId, KeyDocError> {
    if !(MIN_KEY_ID_RANDOM_LEN..=MAX_KEY_ID_RANDOM_LEN).contains(&random.len()) {
        return Err(KeyDocError::BadRandomLength {
            len: random.len(),
            min: MIN_KEY_ID_RANDOM_LEN,
            max: MAX_KEY_ID_RANDOM_LEN,
        });
    }
    let mut text = String::with_capacity(FRESH_KEY_ID_PREFIX.len() + random.len());
    text.push_str(FRESH_KEY_ID_PREFIX);
    // The modulo bias is harmless: the ID needs to be unique, not secret.
    text.extend(
        random
            .iter()
            .map(|&byte| char::from(ALPHANUMERIC[usize::from(byte) % ALPHANUMERIC.len()])),
    );
    KeyId::parse(&text).map_err(|_| KeyDocError::BadKeyId { key_id: text })
}

/// Checks that `key_id` may name one of our keys: `ed25519:` followed by
/// `[A-Za-z0-9_]+` (the grammar of key versions; IDs outside it broke joins with some
/// servers).
///
/// # Errors
///
/// [`KeyDocError::BadKeyId`] otherwise.
pub fn check_key_id(key_id: &str) -> Result<(), KeyDocError> {
    match KeyId::parse(key_id) {
        Ok(id) if id.is_ed25519() && id.has_valid_server_key_version() => Ok(()),
        _ => Err(KeyDocError::BadKeyId {
            key_id: key_id.to_owned(),
        }),
    }
}

/// Our own key document, the body of `GET /_matrix/key/v2/server`: the `current`
/// keys in `verify_keys`, the `old` ones in `old_verify_keys`, valid until
/// `valid_until_ts`, signed by **every** current key.
///
/// The spec asks that a served document not expire within the hour; Synapse makes it
/// valid for a day and renews it when half of that is left.
///
/// # Errors
///
/// [`KeyDocError::NoSigningKey`] when `current` is empty; [`KeyDocError::BadKeyId`] for a
/// key ID outside the grammar ([`check_key_id`]); [`KeyDocError::DuplicateKeyId`] when
/// an ID is listed twice or as both current and old.
pub fn server_key_document(
    server_name: &ServerName,
    current: &[SigningKey],
    old: &BTreeMap<String, OldVerifyKey>,
    valid_until_ts: i64,
) -> Result<Object, KeyDocError> {
    if current.is_empty() {
        return Err(KeyDocError::NoSigningKey);
    }
    let mut verify_keys = Object::new();
    for key in current {
        check_key_id(key.key_id())?;
        if old.contains_key(key.key_id()) || verify_keys.contains_key(key.key_id()) {
            return Err(KeyDocError::DuplicateKeyId {
                key_id: key.key_id().to_owned(),
            });
        }
        verify_keys.insert(key.key_id(), key_entry(&key.public_key(), None));
    }
    let mut old_verify_keys = Object::new();
    for (key_id, old_key) in old {
        check_key_id(key_id)?;
        old_verify_keys.insert(
            key_id.as_str(),
            key_entry(&old_key.key, Some(old_key.expired_ts)),
        );
    }
    let mut document = Object::new();
    document.insert("server_name", Value::from(server_name.as_str()));
    document.insert("valid_until_ts", Value::from(valid_until_ts));
    document.insert("verify_keys", Value::Object(verify_keys));
    document.insert("old_verify_keys", Value::Object(old_verify_keys));
    sign_all(&mut document, server_name, current)?;
    Ok(document)
}

/// Validates a fetched key document (the body of `GET /_matrix/key/v2/server`) of the
/// server `expected`, by the rules of the module docs.
///
/// # Errors
///
/// [`KeyDocError::TooLarge`] over [`MAX_KEY_DOCUMENT_LEN`], [`KeyDocError::NotJson`],
/// and every error of [`validate_key_object`].
pub fn validate_key_document(
    body: &[u8],
    expected: &ServerName,
) -> Result<ServerKeyDocument, KeyDocError> {
    let document = parse_object(body, MAX_KEY_DOCUMENT_LEN)?;
    validate_key_object(&document, expected)
}

/// Validates a key document already parsed, such as one entry of a notary answer.
///
/// Every self-signature under a key ID of `verify_keys` must verify, as for any signed
/// JSON. Synapse checks only the first it finds and gomatrixserverlib demands one from
/// every key; Synapse and this reading agree on every document whose self-signatures
/// are all correct or all wrong.
///
/// # Errors
///
/// [`KeyDocError::MissingField`] or [`KeyDocError::WrongKind`] for `server_name`,
/// `verify_keys`, `valid_until_ts`, `signatures`, `old_verify_keys` or an `ed25519:`
/// entry's `key` or `expired_ts`; [`KeyDocError::ServerNameMismatch`];
/// [`KeyDocError::BadKey`]; [`KeyDocError::TooMany`] over [`MAX_KEYS`];
/// [`KeyDocError::SelfSignature`] without a correct signature under a current key.
pub fn validate_key_object(
    document: &Object,
    expected: &ServerName,
) -> Result<ServerKeyDocument, KeyDocError> {
    let actual = field(document, "server_name")?
        .as_str()
        .ok_or_else(|| wrong_kind("server_name", "a string"))?;
    if actual != expected.as_str() {
        return Err(KeyDocError::ServerNameMismatch {
            expected: expected.as_str().to_owned(),
            actual: actual.to_owned(),
        });
    }
    let valid_until_ts = integer(document, "valid_until_ts", "valid_until_ts")?;
    if !matches!(field(document, "signatures")?, Value::Object(_)) {
        return Err(wrong_kind("signatures", "an object"));
    }
    let verify_keys = current_keys(field(document, "verify_keys")?)?;
    let old_verify_keys = match document.get("old_verify_keys") {
        None => BTreeMap::new(),
        Some(old) => old_keys(old)?,
    };
    let count = verify_keys.len() + old_verify_keys.len();
    if count > MAX_KEYS {
        return Err(KeyDocError::TooMany {
            what: "keys",
            count,
            max: MAX_KEYS,
        });
    }
    let mut keys = PublicKeys::new();
    for (key_id, key) in &verify_keys {
        keys.insert(expected.as_str(), key_id.as_str(), *key);
    }
    crypto::verify_json(document, expected.as_str(), &keys).map_err(KeyDocError::SelfSignature)?;
    Ok(ServerKeyDocument {
        server_name: expected.clone(),
        valid_until_ts,
        verify_keys,
        old_verify_keys,
        raw: document.clone(),
    })
}

/// Validates one entry of a notary answer: a key document of `expected` (as
/// [`validate_key_object`]) that also carries a signature of `notary` under a key ID
/// that `notary_keys` holds for it, every such signature being correct.
///
/// # Errors
///
/// Those of [`validate_key_object`], then [`KeyDocError::NotarySignature`].
pub fn validate_notary_entry(
    entry: &Object,
    expected: &ServerName,
    notary: &ServerName,
    notary_keys: &PublicKeys,
) -> Result<ServerKeyDocument, KeyDocError> {
    let document = validate_key_object(entry, expected)?;
    crypto::verify_json(entry, notary.as_str(), notary_keys)
        .map_err(KeyDocError::NotarySignature)?;
    Ok(document)
}

/// The body of `POST /_matrix/key/v2/query` asking a notary for `needs`:
/// `{"server_keys": {server: {key_id: {"minimum_valid_until_ts": ms}}}}`. A server with
/// a need for any key gets an empty key map (all its keys); a key asked for twice gets
/// the later of the two minimums.
#[must_use]
pub fn notary_query_body(needs: &[KeyNeed]) -> Object {
    // `None`: any key of the server will do.
    let mut wanted: BTreeMap<&str, Option<BTreeMap<&str, i64>>> = BTreeMap::new();
    for need in needs {
        let entry = wanted
            .entry(need.server.as_str())
            .or_insert_with(|| Some(BTreeMap::new()));
        match entry {
            Some(keys) if !need.key_ids.is_empty() => {
                for key_id in &need.key_ids {
                    let minimum = keys.entry(key_id.as_str()).or_insert(i64::MIN);
                    *minimum = (*minimum).max(need.min_valid_until_ts);
                }
            }
            _ => *entry = None,
        }
    }
    let mut server_keys = Object::new();
    for (server, keys) in wanted {
        let mut criteria = Object::new();
        for (key_id, minimum) in keys.unwrap_or_default() {
            let mut criterion = Object::new();
            criterion.insert("minimum_valid_until_ts", Value::from(minimum));
            criteria.insert(key_id, Value::Object(criterion));
        }
        server_keys.insert(server, Value::Object(criteria));
    }
    let mut body = Object::new();
    body.insert("server_keys", Value::Object(server_keys));
    body
}

/// Validates a notary's answer to a [`notary_query_body`] built from `asked`:
/// `{"server_keys": [document, ...]}`, giving one result per entry, in order. Each
/// entry must be a document of a server in `asked`, valid as [`validate_notary_entry`]
/// checks it with the `notary_keys` held for `notary`.
///
/// # Errors
///
/// For the body as a whole: [`KeyDocError::TooLarge`] over [`MAX_NOTARY_BODY_LEN`],
/// [`KeyDocError::NotJson`], [`KeyDocError::MissingField`] or
/// [`KeyDocError::WrongKind`] for `server_keys`, [`KeyDocError::TooMany`] over
/// [`MAX_NOTARY_ENTRIES`]. Per entry: [`KeyDocError::WrongKind`],
/// [`KeyDocError::UnaskedServer`] and those of [`validate_notary_entry`].
pub fn validate_notary_answer(
    body: &[u8],
    notary: &ServerName,
    notary_keys: &PublicKeys,
    asked: &[KeyNeed],
) -> Result<Vec<Result<ServerKeyDocument, KeyDocError>>, KeyDocError> {
    let answer = parse_object(body, MAX_NOTARY_BODY_LEN)?;
    let entries = field(&answer, "server_keys")?
        .as_array()
        .ok_or_else(|| wrong_kind("server_keys", "an array"))?;
    if entries.len() > MAX_NOTARY_ENTRIES {
        return Err(KeyDocError::TooMany {
            what: "entries",
            count: entries.len(),
            max: MAX_NOTARY_ENTRIES,
        });
    }
    let asked: BTreeSet<&str> = asked.iter().map(|need| need.server.as_str()).collect();
    Ok(entries
        .iter()
        .map(|entry| notary_entry(entry, notary, notary_keys, &asked))
        .collect())
}

/// Reads a notary question (the body of `POST /_matrix/key/v2/query`) on the notary's
/// side: one [`KeyNeed`] per server and key ID asked for, and one with no key IDs for
/// a server asked for with an empty map (all its keys). A missing
/// `minimum_valid_until_ts` means `now_ms`, as the spec says.
///
/// # Errors
///
/// [`KeyDocError::TooLarge`], [`KeyDocError::NotJson`], [`KeyDocError::MissingField`],
/// [`KeyDocError::WrongKind`] (including a server name that does not parse), and
/// [`KeyDocError::TooMany`] over [`MAX_NOTARY_ENTRIES`] pairs.
pub fn parse_notary_query(body: &[u8], now_ms: i64) -> Result<Vec<KeyNeed>, KeyDocError> {
    let query = parse_object(body, MAX_NOTARY_BODY_LEN)?;
    let servers = field(&query, "server_keys")?
        .as_object()
        .ok_or_else(|| wrong_kind("server_keys", "an object"))?;
    let mut needs = Vec::new();
    for (server, criteria) in servers.iter() {
        let path = format!("server_keys.{server}");
        let name = ServerName::parse(server).map_err(|_| wrong_kind(&path, "a server name"))?;
        let criteria = criteria
            .as_object()
            .ok_or_else(|| wrong_kind(&path, "an object"))?;
        if criteria.is_empty() {
            needs.push(KeyNeed::new(name.clone(), BTreeSet::new(), now_ms));
        }
        for (key_id, criterion) in criteria.iter() {
            let path = format!("{path}.{key_id}");
            let criterion = criterion
                .as_object()
                .ok_or_else(|| wrong_kind(&path, "an object"))?;
            let minimum = match criterion.get("minimum_valid_until_ts") {
                None => now_ms,
                Some(_) => integer(criterion, "minimum_valid_until_ts", &path)?,
            };
            let key_ids = BTreeSet::from([key_id.to_owned()]);
            needs.push(KeyNeed::new(name.clone(), key_ids, minimum));
        }
        if needs.len() > MAX_NOTARY_ENTRIES {
            return Err(KeyDocError::TooMany {
                what: "entries",
                count: needs.len(),
                max: MAX_NOTARY_ENTRIES,
            });
        }
    }
    Ok(needs)
}

/// A notary's answer body, `{"server_keys": [document, ...]}`: each cached document
/// as it was received, with the notary's signature added by every key of `keys`.
/// Choosing which documents answer a question is the caller's (a notary may answer
/// with expired keys when the origin is down).
///
/// # Errors
///
/// [`KeyDocError::NoSigningKey`] when `keys` is empty; [`KeyDocError::BadKeyId`] for a
/// key ID outside the grammar.
pub fn notary_answer<'a>(
    documents: impl IntoIterator<Item = &'a ServerKeyDocument>,
    notary: &ServerName,
    keys: &[SigningKey],
) -> Result<Object, KeyDocError> {
    if keys.is_empty() {
        return Err(KeyDocError::NoSigningKey);
    }
    for key in keys {
        check_key_id(key.key_id())?;
    }
    let mut entries = Vec::new();
    for document in documents {
        let mut entry = document.raw.clone();
        sign_all(&mut entry, notary, keys)?;
        entries.push(Value::Object(entry));
    }
    let mut body = Object::new();
    body.insert("server_keys", Value::Array(entries));
    Ok(body)
}

// ---------------------------------------------------------------------------------
// Helpers.

/// `{"key": base64}`, with `expired_ts` for an old key.
fn key_entry(key: &VerifyKey, expired_ts: Option<i64>) -> Value {
    let mut entry = Object::new();
    entry.insert("key", Value::String(key.to_base64()));
    if let Some(expired_ts) = expired_ts {
        entry.insert("expired_ts", Value::from(expired_ts));
    }
    Value::Object(entry)
}

/// Signs `object` as `entity` with every key.
fn sign_all(
    object: &mut Object,
    entity: &ServerName,
    keys: &[SigningKey],
) -> Result<(), KeyDocError> {
    for key in keys {
        // The documents signed here have an object `signatures` (validated, or built
        // fresh), so this cannot fail; the error is passed on rather than assumed away.
        crypto::sign_json(object, entity.as_str(), key).map_err(KeyDocError::SelfSignature)?;
    }
    Ok(())
}

/// Parses an untrusted body of at most `max_len` bytes as a JSON object. Lenient, as
/// Synapse reads key documents with Python's `json` (floats in unrelated fields pass).
fn parse_object(body: &[u8], max_len: usize) -> Result<Object, KeyDocError> {
    if body.len() > max_len {
        return Err(KeyDocError::TooLarge {
            len: body.len(),
            max_len,
        });
    }
    let options = ParseOptions::lenient().with_max_len(max_len);
    match json::parse(body, &options) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(wrong_kind("(body)", "an object")),
        Err(error) => Err(KeyDocError::NotJson {
            reason: error.to_string(),
        }),
    }
}

/// One entry of a notary answer.
fn notary_entry(
    entry: &Value,
    notary: &ServerName,
    notary_keys: &PublicKeys,
    asked: &BTreeSet<&str>,
) -> Result<ServerKeyDocument, KeyDocError> {
    let entry = entry
        .as_object()
        .ok_or_else(|| wrong_kind("server_keys[]", "an object"))?;
    let server = field(entry, "server_name")?
        .as_str()
        .ok_or_else(|| wrong_kind("server_name", "a string"))?;
    if !asked.contains(server) {
        return Err(KeyDocError::UnaskedServer {
            server: server.to_owned(),
        });
    }
    let expected =
        ServerName::parse(server).map_err(|_| wrong_kind("server_name", "a server name"))?;
    validate_notary_entry(entry, &expected, notary, notary_keys)
}

/// The `ed25519:` keys of `verify_keys`.
fn current_keys(verify_keys: &Value) -> Result<BTreeMap<String, VerifyKey>, KeyDocError> {
    let entries = verify_keys
        .as_object()
        .ok_or_else(|| wrong_kind("verify_keys", "an object"))?;
    let mut keys = BTreeMap::new();
    for (key_id, entry) in ed25519_entries(entries, "verify_keys")? {
        let path = format!("verify_keys.{key_id}");
        keys.insert(key_id.to_owned(), public_key(key_id, entry, &path)?);
    }
    Ok(keys)
}

/// The `ed25519:` keys of `old_verify_keys`, with their `expired_ts`.
fn old_keys(old_verify_keys: &Value) -> Result<BTreeMap<String, OldVerifyKey>, KeyDocError> {
    let entries = old_verify_keys
        .as_object()
        .ok_or_else(|| wrong_kind("old_verify_keys", "an object"))?;
    let mut keys = BTreeMap::new();
    for (key_id, entry) in ed25519_entries(entries, "old_verify_keys")? {
        let path = format!("old_verify_keys.{key_id}");
        let key = public_key(key_id, entry, &path)?;
        let expired_ts = integer(entry, "expired_ts", &format!("{path}.expired_ts"))?;
        keys.insert(key_id.to_owned(), OldVerifyKey::new(key, expired_ts));
    }
    Ok(keys)
}

/// The entries under `ed25519:` key IDs, each an object, at most [`MAX_KEYS`]; others
/// are skipped unread (Synapse ignores algorithms it does not know).
fn ed25519_entries<'a>(
    entries: &'a Object,
    section: &str,
) -> Result<Vec<(&'a str, &'a Object)>, KeyDocError> {
    let mut found = Vec::new();
    for (key_id, entry) in entries.iter() {
        if !key_id.starts_with(ED25519_PREFIX) {
            continue;
        }
        if found.len() == MAX_KEYS {
            return Err(KeyDocError::TooMany {
                what: "keys",
                count: MAX_KEYS + 1,
                max: MAX_KEYS,
            });
        }
        let entry = entry
            .as_object()
            .ok_or_else(|| wrong_kind(&format!("{section}.{key_id}"), "an object"))?;
        found.push((key_id, entry));
    }
    Ok(found)
}

/// The `key` of one entry: 32 bytes of base64 in either alphabet, padded or not.
fn public_key(key_id: &str, entry: &Object, path: &str) -> Result<VerifyKey, KeyDocError> {
    let path = format!("{path}.key");
    let text = field_at(entry, "key", &path)?
        .as_str()
        .ok_or_else(|| wrong_kind(&path, "a string"))?;
    let bad = |reason: String| KeyDocError::BadKey {
        key_id: key_id.to_owned(),
        reason,
    };
    let bytes = base64::decode_array::<32>(text).map_err(|error| bad(error.to_string()))?;
    // Synapse (libsodium) takes any 32 bytes and fails only when the key verifies a
    // signature; a key that is not a curve point can never verify, so it is refused here.
    VerifyKey::from_bytes(&bytes).map_err(|error| bad(error.to_string()))
}

/// The field `name` of `object`, which must be present.
fn field<'a>(object: &'a Object, name: &str) -> Result<&'a Value, KeyDocError> {
    field_at(object, name, name)
}

/// The field `name` of `object`, reported as `path` when missing.
fn field_at<'a>(object: &'a Object, name: &str, path: &str) -> Result<&'a Value, KeyDocError> {
    object.get(name).ok_or_else(|| KeyDocError::MissingField {
        field: path.to_owned(),
    })
}

/// The integer field `name` of `object`, reported as `path`.
fn integer(object: &Object, name: &str, path: &str) -> Result<i64, KeyDocError> {
    field_at(object, name, path)?
        .as_i64()
        .ok_or_else(|| wrong_kind(path, "an integer"))
}

fn wrong_kind(field: &str, expected: &'static str) -> KeyDocError {
    KeyDocError::WrongKind {
        field: field.to_owned(),
        expected,
    }
}

#[cfg(test)]
#[path = "keys_tests.rs"]
mod tests;
